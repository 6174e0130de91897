-- Every requested path with its size and speed: the largest resources, response-time percentiles
-- by path (NULL when the log format has no response time).
-- Grain: one row per site, local day and path (decoded). content_type as in content_types.
-- Parameters: $built_at; the day's requests from the staging macros (sql/staging/).
with extensions as (
    select
        page as path,
        status,
        bytes,
        is_page,
        response_time_ms,
        nullif(lower(regexp_extract(page, '\.([A-Za-z0-9]{1,10})$', 1)), '') as extension
    from day_requests()
),

-- response-time percentiles per path, exact and in bounded memory (sql/staging/percentiles.sql)
timed as (
    select path as percentile_group, response_time_ms from extensions
),

per_path as (
    select
        path,
        case
            when extension is null or extension in ('html', 'htm', 'xhtml', 'shtml', 'php', 'asp', 'aspx', 'jsp', 'cgi')
                then 'page'
            else extension
        end as content_type,
        coalesce(bool_or(is_page), false) as is_page,
        count(*) as count_requests,
        count(*) filter (where status between 400 and 599) as count_errors,
        coalesce(sum(bytes), 0) as sum_bytes,
        coalesce(max(bytes), 0)::bigint as max_bytes,
        count(response_time_ms) as count_timed,
        null::double as p50_response_ms,
        null::double as p95_response_ms,
        null::double as p99_response_ms,
        max(response_time_ms) as max_response_ms,
        $built_at::timestamptz as built_at
    from extensions
    group by path, extension
),

final as (
    select per_path.* replace (
        percentiles.p50_response_ms as p50_response_ms,
        percentiles.p95_response_ms as p95_response_ms,
        percentiles.p99_response_ms as p99_response_ms
    )
    from per_path
    left join response_percentiles('timed') as percentiles
        on per_path.path is not distinct from percentiles.percentile_group
    order by sum_bytes desc, path
)

select * from final
