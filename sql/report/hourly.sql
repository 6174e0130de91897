-- Report query `hourly` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per hour (an instant: the start of the local hour) with requests

select
    hour_at,
    sum(count_requests) as requests,
    sum(count_page_views) as page_views,
    sum(count_4xx) as count_4xx,
    sum(count_5xx) as count_5xx,
    sum(count_bot_requests) as bot_requests,
    sum(sum_bytes) as bytes
from selected('hourly_traffic')
group by hour_at
order by hour_at;
