-- When people come: traffic by local weekday and hour in the site's time zone.
-- Grain: one row per site, local day, local weekday (constant within a local day) and local hour.
--   Sum over days to read a weekday x hour grid.
-- Parameters: $tz (IANA zone of the day, e.g. Europe/Berlin), $built_at; the day's requests from
--   the staging macros (sql/staging/).
with localized as (
    select
        ts at time zone $tz::varchar as local_ts,
        bytes,
        is_bot,
        is_page_view
    from day_requests()
),

final as (
    select
        isodow(local_ts)::integer as local_weekday,
        dayname(local_ts) as weekday_name,
        hour(local_ts)::integer as local_hour,
        count(*) as count_requests,
        count(*) filter (where is_page_view and not is_bot) as count_page_views,
        count(*) filter (where is_bot) as count_bot_requests,
        coalesce(sum(bytes), 0) as sum_bytes,
        $built_at::timestamptz as built_at
    from localized
    group by 1, 2, 3
    order by 1, 3
)

select * from final
