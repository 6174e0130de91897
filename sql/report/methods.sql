-- Report query `methods` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per HTTP method and protocol

select
    coalesce(method, '(not HTTP)') as method,
    coalesce(protocol, '') as protocol,
    sum(count_requests) as requests,
    sum(count_errors) as errors,
    sum(count_bot_requests) as bot_requests,
    sum(sum_bytes) as bytes
from selected('methods')
group by all
order by requests desc, method, protocol;
