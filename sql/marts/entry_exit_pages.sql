-- Entry and exit pages: where visits start and end, and where single-page visits bounce.
-- Grain: one row per site, UTC day, path and is_bot (paths that start or end a visit).
-- Parameters: $files, $built_at, $previous, $previous_until, $previous_approximate
--   (as in daily_traffic; figures are carried over on an anonymised day, docs/marts.md).
-- Visits as in the visits mart; ties in time are broken by row_id.
with previous as (
    select unnest(from_json($previous, '[{
        "path": "VARCHAR",
        "is_bot": "BOOLEAN",
        "count_entries": "BIGINT",
        "count_exits": "BIGINT",
        "count_bounces": "BIGINT"
    }]'), recursive := true)
),

build_mode as (
    select * from day_build_mode($files, $previous_until, $previous_approximate)
),

-- one row per visit with its entry and exit path (sql/staging/day_visits.sql)
visits as (
    select visitor_key, visit_number, is_bot, count_page_views, entry_path, exit_path
    from day_visits($files, $previous_until, $previous_approximate)
),

ends as (
    select entry_path as path, is_bot, 1 as is_entry, 0 as is_exit, (count_page_views = 1)::integer as is_bounce
    from visits
    union all
    select exit_path as path, is_bot, 0 as is_entry, 1 as is_exit, 0 as is_bounce
    from visits
),

counted as (
    select
        path,
        is_bot,
        sum(is_entry)::bigint as count_entries,
        sum(is_exit)::bigint as count_exits,
        sum(is_bounce)::bigint as count_bounces
    from ends
    group by path, is_bot
),

carried as (
    select previous.*
    from previous
    cross join build_mode
    where build_mode.is_carried_over
),

merged as (
    select
        path,
        is_bot,
        sum(count_entries)::bigint as count_entries,
        sum(count_exits)::bigint as count_exits,
        sum(count_bounces)::bigint as count_bounces
    from (
        select * from counted
        union all by name
        select path, is_bot, count_entries, count_exits, count_bounces from carried
    )
    group by path, is_bot
),

final as (
    select
        merged.path,
        merged.is_bot,
        merged.count_entries,
        merged.count_exits,
        merged.count_bounces,
        merged.count_bounces / nullif(merged.count_entries, 0) as bounce_rate,
        build_mode.is_approximate,
        build_mode.last_received_at,
        $built_at::timestamptz as built_at
    from merged
    cross join build_mode
    order by merged.count_entries desc, merged.path, merged.is_bot
)

select * from final
