-- Report query `referrers` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per external referrer host, the $top referring most page views

select
    referrer_host,
    sum(count_page_views) as page_views,
    sum(count_requests) as requests,
    sum(count_bot_requests) as bot_requests,
    count(*) over () as total_rows
from selected('referrers')
group by referrer_host
order by page_views desc, requests desc, referrer_host
limit $top;
