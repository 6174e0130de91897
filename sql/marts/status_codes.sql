-- Status codes per UTC hour (the error rate per hour is in hourly_traffic).
-- Grain: one row per site, UTC day, hour and status code.
-- Parameters: $files (Parquet files of the day from requests/ and held/), $built_at.
with requests as (
    select ts, status, bytes, is_bot
    from read_parquet($files, union_by_name = true)
),

final as (
    select
        time_bucket(interval 1 hour, ts, 'UTC') as hour_at,
        status,
        (status // 100)::varchar || 'xx' as status_class,
        count(*) as count_requests,
        count(*) filter (where is_bot) as count_bot_requests,
        coalesce(sum(bytes), 0)::bigint as sum_bytes,
        $built_at::timestamptz as built_at
    from requests
    group by 1, 2, 3
    order by 1, 2
)

select * from final
