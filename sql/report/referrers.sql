-- Report query `referrers` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per referrer host of another site, the $top referring most page views

select
    referrer_host,
    min(referrer_kind) as referrer_kind,
    min(referrer_name) as referrer_name,
    sum(count_page_views) as page_views,
    sum(count_requests) as requests,
    sum(count_bot_requests) as bot_requests,
    sum(count_visitors) as visitors,
    count(*) over () as total_rows
from selected('referrers')
group by referrer_host
order by page_views desc, requests desc, referrer_host
limit $top;
