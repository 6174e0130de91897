-- Report query `status_codes` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per status code

select
    status,
    min(status_class) as status_class,
    sum(count_requests) as requests,
    sum(count_bot_requests) as bot_requests,
    sum(count_visitors) as visitors,
    sum(sum_bytes) as bytes
from selected('status_codes')
group by status
order by status;
