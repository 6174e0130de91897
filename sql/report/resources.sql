-- Report query `resources` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per path, the $top that sent the most bytes

select
    path,
    min(content_type) as content_type,
    sum(count_requests) as requests,
    sum(sum_bytes) as bytes,
    max(max_bytes) as max_bytes
from selected('resources')
group by path
order by bytes desc, path
limit $top;
