-- Paths answered with a redirect or an error: 3xx (redirects), 4xx and 5xx (server errors).
-- Grain: one row per site, local day, status code (300 and above) and path (decoded).
--   404s with their referrers are in broken_links.
-- Parameters: $built_at; the day's requests from the staging macros (sql/staging/).
--   count_visitors: distinct clients answered so (4xx included); carried over on an anonymised day.
with counted as (
    select
        status,
        (status // 100)::varchar || 'xx' as status_class,
        page as path,
        count(*) as count_requests,
        count(*) filter (where is_bot) as count_bot_requests,
        count(distinct client_key) as count_visitors,
        sum(bytes) as sum_bytes,
        max(response_time_ms) as max_response_ms
    from day_requests()
    where status >= 300
    group by 1, 2, 3
),

final as (
    select *, $built_at::timestamptz as built_at
    from carried_figures('counted', ['status', 'status_class', 'path'], '[{
        "status": "SMALLINT", "status_class": "VARCHAR", "path": "VARCHAR", "count_visitors": "BIGINT"
    }]')
    order by status, count_requests desc, path
)

select * from final
