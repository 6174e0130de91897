-- Traffic per UTC hour: load, bandwidth, status classes and error rate through the day.
-- Grain: one row per site, UTC day and hour (hours without requests are absent).
-- Parameters: $files (Parquet files of the day from requests/ and held/), $built_at.
with requests as (
    select ts, status, bytes, is_bot, is_page, response_time_ms
    from read_parquet($files, union_by_name = true)
),

hours as (
    select
        time_bucket(interval 1 hour, ts, 'UTC') as hour_at,
        count(*) as count_requests,
        count(*) filter (where is_page) as count_page_views,
        coalesce(sum(bytes), 0)::bigint as sum_bytes,
        count(*) filter (where status between 200 and 299) as count_2xx,
        count(*) filter (where status between 300 and 399) as count_3xx,
        count(*) filter (where status between 400 and 499) as count_4xx,
        count(*) filter (where status between 500 and 599) as count_5xx,
        count(*) filter (where status = 304) as count_not_modified,
        count(*) filter (where is_bot) as count_bot_requests,
        quantile_cont(response_time_ms, 0.95) as p95_response_ms
    from requests
    group by 1
),

final as (
    select
        hour_at,
        count_requests,
        count_page_views,
        sum_bytes,
        count_2xx,
        count_3xx,
        count_4xx,
        count_5xx,
        (count_4xx + count_5xx) / count_requests as error_rate,
        count_not_modified,
        count_bot_requests,
        count_bot_requests / count_requests as bot_share,
        p95_response_ms,
        $built_at::timestamptz as built_at
    from hours
    order by hour_at
)

select * from final
