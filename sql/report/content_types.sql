-- Report query `content_types` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per content type

select
    content_type,
    sum(count_requests) as requests,
    sum(count_bot_requests) as bot_requests,
    sum(sum_bytes) as bytes,
    max(max_bytes) as max_bytes
from selected('content_types')
group by content_type
order by bytes desc, content_type;
