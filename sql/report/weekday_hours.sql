-- Report query `weekday_hours` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per local weekday and local hour (site time zone) with requests

select
    local_weekday,
    min(weekday_name) as weekday_name,
    local_hour,
    sum(count_requests) as requests,
    sum(count_page_views) as page_views,
    sum(count_bot_requests) as bot_requests
from selected('weekday_hours')
group by local_weekday, local_hour
order by local_weekday, local_hour;
