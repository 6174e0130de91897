-- Report query `hours` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per local hour of the day 0-23 with requests (GoAccess's time distribution)

select
    local_hour,
    sum(count_requests) as requests,
    sum(count_page_views) as page_views,
    sum(count_bot_requests) as bot_requests,
    sum(count_visitors) as visitors,
    sum(sum_bytes) as bytes
from selected('hourly_traffic')
group by local_hour
order by local_hour;
