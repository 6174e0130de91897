-- Entry and exit pages: where visits start and end, where single-page visits bounce, and who.
-- Grain: one row per site, local day, page (decoded path) and is_bot, for pages that start or
--   end a visit.
-- Parameters: $built_at; visits from sql/staging/day_visits.sql (page views only, so a 404 or a
--   redirect never starts or ends a visit). Carried over on an anonymised day (docs/marts.md).
with visits as (
    select is_bot, visitor_key, count_page_views, entry_page, exit_page
    from day_visits()
),

ends as (
    select entry_page as path, is_bot, visitor_key, 1 as is_entry, 0 as is_exit,
        (count_page_views = 1)::integer as is_bounce
    from visits
    union all
    select exit_page as path, is_bot, visitor_key, 0 as is_entry, 1 as is_exit, 0 as is_bounce
    from visits
),

counted as (
    select
        path,
        is_bot,
        sum(is_entry) as count_entries,
        sum(is_exit) as count_exits,
        sum(is_bounce) as count_bounces,
        count(distinct visitor_key) filter (where is_entry = 1) as count_entry_visitors,
        count(distinct visitor_key) filter (where is_exit = 1) as count_exit_visitors
    from ends
    group by path, is_bot
),

merged as (
    select * from carried_figures('counted', ['path', 'is_bot'], '[{
        "path": "VARCHAR", "is_bot": "BOOLEAN", "count_entries": "BIGINT", "count_exits": "BIGINT",
        "count_bounces": "BIGINT", "count_entry_visitors": "BIGINT", "count_exit_visitors": "BIGINT"
    }]')
),

final as (
    select
        * exclude (is_approximate, last_received_at),
        count_bounces / nullif(count_entries, 0) as bounce_rate,
        is_approximate,
        last_received_at,
        $built_at::timestamptz as built_at
    from merged
    order by count_entries desc, path, is_bot
)

select * from final
