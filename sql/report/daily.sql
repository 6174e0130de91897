-- Report query `daily` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per day of the selection (each site's local day; sites summed)

select
    date,
    sum(count_requests) as requests,
    sum(count_page_views) as page_views,
    sum(count_bot_page_views) as bot_page_views,
    sum(count_visits) as visits,
    sum(count_unique_visitors) as unique_visitors,
    sum(count_human_visitors) as human_visitors,
    sum(sum_bytes) as bytes,
    sum(count_2xx) as count_2xx,
    sum(count_3xx) as count_3xx,
    sum(count_4xx) as count_4xx,
    sum(count_5xx) as count_5xx,
    sum(count_other_status) as count_other,
    sum(count_bot_requests) as bot_requests,
    sum(count_not_modified) as not_modified,
    max(p50_response_ms) as p50_ms,
    max(p95_response_ms) as p95_ms,
    max(p99_response_ms) as p99_ms,
    bool_or(is_approximate) as is_approximate,
    count(*) as sites
from selected('daily_traffic')
group by date
order by date;
