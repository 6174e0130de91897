-- Visits by length: how long visitors stay, how many pages they see, how many bounce.
-- Grain: one row per site, local day, is_bot and duration bucket (buckets with no visit are absent).
-- Parameters: $built_at; visits from sql/staging/day_visits.sql: the page views of one visit key
--   (session id when logged, else client_ip + user agent) with no gap over 30 minutes; a visit
--   lasts from its first to its last page view, so a bounce (one page view) lasts 0 s; visits are
--   cut at local midnight. Carried over on an anonymised day (docs/marts.md, "Late data").
with buckets (duration_bucket, duration_from_s) as (
    values
        ('0-10 s', 0),
        ('11-30 s', 11),
        ('31-60 s', 31),
        ('1-3 min', 61),
        ('3-10 min', 181),
        ('10-30 min', 601),
        ('30+ min', 1801)
),

bucketed as (
    select
        visits.is_bot,
        visits.count_page_views,
        visits.duration_s,
        buckets.duration_bucket,
        buckets.duration_from_s
    from day_visits() as visits
    asof join buckets on floor(visits.duration_s) >= buckets.duration_from_s
),

counted as (
    select
        is_bot,
        duration_bucket,
        duration_from_s,
        count(*) as count_visits,
        count(*) filter (where count_page_views = 1) as count_bounces,
        sum(count_page_views) as count_page_views,
        sum(duration_s)::double as sum_duration_s
    from bucketed
    group by is_bot, duration_bucket, duration_from_s
),

merged as (
    select * from carried_figures('counted', ['is_bot', 'duration_bucket', 'duration_from_s'], '[{
        "is_bot": "BOOLEAN", "duration_bucket": "VARCHAR", "duration_from_s": "INTEGER", "count_visits": "BIGINT",
        "count_bounces": "BIGINT", "count_page_views": "BIGINT", "sum_duration_s": "DOUBLE"
    }]')
),

final as (
    select
        * exclude (is_approximate, last_received_at),
        count_bounces / nullif(count_visits, 0) as bounce_rate,
        count_page_views / nullif(count_visits, 0) as pages_per_visit,
        sum_duration_s / nullif(count_visits, 0) as avg_duration_s,
        is_approximate,
        last_received_at,
        $built_at::timestamptz as built_at
    from merged
    order by is_bot, duration_from_s
)

select * from final
