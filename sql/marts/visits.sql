-- Visits by length: how long visitors stay, how many pages they see, how many bounce.
-- Grain: one row per site, UTC day, is_bot and duration bucket (buckets with no visit are absent).
-- Parameters: $files, $built_at, $previous, $previous_until, $previous_approximate
--   (as in daily_traffic; figures are carried over on an anonymised day, docs/marts.md).
-- A visit: the page views of one visitor key (session id when logged, else client_ip +
-- user agent) with no gap over 30 minutes; its duration runs from the first to the last
-- page view, so a bounce (one page view) lasts 0 s. Visits are cut at midnight UTC.
with previous as (
    select unnest(from_json($previous, '[{
        "is_bot": "BOOLEAN",
        "duration_bucket": "VARCHAR",
        "duration_from_s": "INTEGER",
        "count_visits": "BIGINT",
        "count_bounces": "BIGINT",
        "count_page_views": "BIGINT",
        "sum_duration_s": "DOUBLE"
    }]'), recursive := true)
),

buckets (duration_bucket, duration_from_s) as (
    values
        ('0-10 s', 0),
        ('11-30 s', 11),
        ('31-60 s', 31),
        ('1-3 min', 61),
        ('3-10 min', 181),
        ('10-30 min', 601),
        ('30+ min', 1801)
),

build_mode as (
    select * from day_build_mode($files, $previous_until, $previous_approximate)
),

-- one row per visit (sql/staging/day_visits.sql)
visits as (
    select visitor_key, visit_number, is_bot, count_page_views, duration_s
    from day_visits($files, $previous_until, $previous_approximate)
),

bucketed as (
    select
        visits.*,
        buckets.duration_bucket,
        buckets.duration_from_s
    from visits
    asof join buckets on floor(visits.duration_s) >= buckets.duration_from_s
),

counted as (
    select
        is_bot,
        duration_bucket,
        duration_from_s,
        count(*) as count_visits,
        count(*) filter (where count_page_views = 1) as count_bounces,
        sum(count_page_views)::bigint as count_page_views,
        sum(duration_s)::double as sum_duration_s
    from bucketed
    group by is_bot, duration_bucket, duration_from_s
),

carried as (
    select previous.*
    from previous
    cross join build_mode
    where build_mode.is_carried_over
),

merged as (
    select
        is_bot,
        duration_bucket,
        duration_from_s,
        sum(count_visits)::bigint as count_visits,
        sum(count_bounces)::bigint as count_bounces,
        sum(count_page_views)::bigint as count_page_views,
        sum(sum_duration_s)::double as sum_duration_s
    from (
        select * from counted
        union all by name
        select is_bot, duration_bucket, duration_from_s, count_visits, count_bounces, count_page_views, sum_duration_s
        from carried
    )
    group by is_bot, duration_bucket, duration_from_s
),

final as (
    select
        merged.is_bot,
        merged.duration_bucket,
        merged.duration_from_s,
        merged.count_visits,
        merged.count_bounces,
        merged.count_bounces / nullif(merged.count_visits, 0) as bounce_rate,
        merged.count_page_views,
        merged.count_page_views / nullif(merged.count_visits, 0) as pages_per_visit,
        merged.sum_duration_s,
        merged.sum_duration_s / nullif(merged.count_visits, 0) as avg_duration_s,
        build_mode.is_approximate,
        build_mode.last_received_at,
        $built_at::timestamptz as built_at
    from merged
    cross join build_mode
    order by merged.is_bot, merged.duration_from_s
)

select * from final
