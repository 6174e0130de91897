-- Report query `pages` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per page (decoded path), the $top most viewed by people

select
    path,
    sum(count_page_views) as page_views,
    sum(count_bot_page_views) as bot_page_views,
    sum(count_visitors) as visitors,
    sum(sum_bytes) as bytes,
    count(*) over () as total_rows
from selected('pages')
group by path
order by page_views desc, bot_page_views desc, path
limit $top;
