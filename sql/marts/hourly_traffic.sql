-- Traffic per hour of the local day: load, page views, status classes, errors and visitors.
-- Grain: one row per site, local day and hour (hours without requests are absent). hour_at is the
--   start of the hour as an instant (time_bucket in the day's zone $tz), local_hour its hour 0-23
--   there (a day with a clock change has 23 or 25 hours; in autumn local_hour 2 comes twice).
-- Parameters: $tz, $built_at; the day's requests from the staging macros (sql/staging/).
--   count_visitors (GoAccess: distinct client IP and agent, 4xx left out, in this hour) is carried
--   over on an anonymised day (docs/marts.md, "Late data").
with requests as (
    select *, time_bucket(interval 1 hour, ts, $tz::varchar) as hour_at from day_requests()
),

-- response-time percentiles per hour, exact and in bounded memory (sql/staging/percentiles.sql)
timed as (
    select hour_at as percentile_group, response_time_ms from requests
),

hourly as (
    select
        hour_at,
        hour(ts at time zone $tz::varchar)::integer as local_hour,
        count(*) as count_requests,
        count(*) filter (where is_page_view and not is_bot) as count_page_views,
        sum(bytes) as sum_bytes,
        count(*) filter (where status between 200 and 299) as count_2xx,
        count(*) filter (where status between 300 and 399) as count_3xx,
        count(*) filter (where status between 400 and 499) as count_4xx,
        count(*) filter (where status between 500 and 599) as count_5xx,
        count(*) filter (where status = 304) as count_not_modified,
        count(*) filter (where is_bot) as count_bot_requests,
        null::double as p95_response_ms,
        count(distinct visitor_key) as count_visitors
    from requests
    group by 1, 2
),

counted as (
    select hourly.* replace (percentiles.p95_response_ms as p95_response_ms)
    from hourly
    left join response_percentiles('timed') as percentiles
        on hourly.hour_at is not distinct from percentiles.percentile_group
),

merged as (
    select * from carried_figures('counted', ['hour_at', 'local_hour'], '[{
        "hour_at": "TIMESTAMPTZ", "local_hour": "INTEGER", "count_visitors": "BIGINT"
    }]')
),

final as (
    select
        * exclude (is_approximate, last_received_at),
        (count_4xx + count_5xx) / count_requests as error_rate,
        count_bot_requests / count_requests as bot_share,
        is_approximate,
        last_received_at,
        $built_at::timestamptz as built_at
    from merged
    order by hour_at
)

select * from final
