-- Report query `slow_paths` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per path with at least 5 timed requests, the $top slowest by their worst daily p95

select
    path,
    sum(count_timed) as timed,
    max(p50_response_ms) as p50_ms,
    max(p95_response_ms) as p95_ms,
    max(p99_response_ms) as p99_ms,
    max(max_response_ms) as max_ms
from selected('resources')
group by path
having sum(count_timed) >= 5
order by p95_ms desc, path
limit $top;
