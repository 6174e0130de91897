-- Status codes, with the clients that got them.
-- Grain: one row per site, local day and status code (per hour: hourly_traffic, by class).
-- Parameters: $built_at; the day's requests from the staging macros (sql/staging/).
--   count_visitors: distinct clients (client IP and agent, GoAccess's key) answered with the
--   code, 4xx included (GoAccess shows 0 visitors for 4xx codes); carried over on an anonymised day.
with counted as (
    select
        status,
        (status // 100)::varchar || 'xx' as status_class,
        count(*) as count_requests,
        count(*) filter (where is_bot) as count_bot_requests,
        sum(bytes) as sum_bytes,
        count(distinct client_key) as count_visitors
    from day_requests()
    group by 1, 2
),

final as (
    select *, $built_at::timestamptz as built_at
    from carried_figures('counted', ['status', 'status_class'], '[{
        "status": "SMALLINT", "status_class": "VARCHAR", "count_visitors": "BIGINT"
    }]')
    order by status
)

select * from final
