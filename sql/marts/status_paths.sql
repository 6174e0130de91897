-- Paths answered with a redirect or an error: 3xx (redirects), 4xx and 5xx (server errors).
-- Grain: one row per site, UTC day, status code (300 and above) and path.
--   404s with their referrers are in broken_links.
-- Parameters: $files (Parquet files of the day from requests/ and held/), $built_at.
with requests as (
    select path, status, bytes, is_bot, response_time_ms
    from read_parquet($files, union_by_name = true)
),

final as (
    select
        status,
        (status // 100)::varchar || 'xx' as status_class,
        path,
        count(*) as count_requests,
        count(*) filter (where is_bot) as count_bot_requests,
        coalesce(sum(bytes), 0)::bigint as sum_bytes,
        max(response_time_ms) as max_response_ms,
        $built_at::timestamptz as built_at
    from requests
    where status >= 300
    group by status, path
    order by status, count_requests desc, path
)

select * from final
