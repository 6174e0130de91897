-- When people come: traffic by local weekday and hour in the site's time zone.
-- Grain: one row per site, UTC day (the partition), local weekday and local hour.
--   A UTC day spans two local dates, so sum over days before reading a weekday x hour grid.
-- Parameters: $files, $tz (IANA zone, e.g. Europe/Berlin), $built_at.
with requests as (
    select ts, bytes, is_bot, is_page
    from read_parquet($files, union_by_name = true)
),

localized as (
    select
        ts at time zone $tz::varchar as local_ts,
        bytes,
        is_bot,
        is_page
    from requests
),

final as (
    select
        isodow(local_ts)::integer as local_weekday,
        dayname(local_ts) as weekday_name,
        hour(local_ts)::integer as local_hour,
        count(*) as count_requests,
        count(*) filter (where is_page) as count_page_views,
        count(*) filter (where is_page and not is_bot) as count_human_page_views,
        count(*) filter (where is_bot) as count_bot_requests,
        coalesce(sum(bytes), 0)::bigint as sum_bytes,
        $built_at::timestamptz as built_at
    from localized
    group by 1, 2, 3
    order by 1, 3
)

select * from final
