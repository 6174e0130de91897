-- Report query `crawlers` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per crawler, scanner or script (browser family of is_bot clients), the $top busiest

select
    coalesce(browser, 'Unknown') as crawler,
    sum(count_requests) as requests,
    sum(count_page_views) as page_views,
    sum(sum_bytes) as bytes,
    count(*) over () as total_rows
from selected('clients')
where is_bot
group by 1
order by requests desc, crawler
limit $top;
