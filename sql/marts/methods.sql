-- HTTP methods and protocols (method NULL: the request line was not HTTP).
-- Grain: one row per site, local day, method and protocol.
-- Parameters: $built_at; the day's requests from the staging macros (sql/staging/).
with requests as (
    select method, protocol, status, bytes, is_bot
    from day_requests()
),

final as (
    select
        method,
        protocol,
        count(*) as count_requests,
        count(*) filter (where is_bot) as count_bot_requests,
        count(*) filter (where status between 400 and 599) as count_errors,
        coalesce(sum(bytes), 0) as sum_bytes,
        $built_at::timestamptz as built_at
    from requests
    group by method, protocol
    order by count_requests desc, method, protocol
)

select * from final
