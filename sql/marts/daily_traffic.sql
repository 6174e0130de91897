-- The daily headline of one site: traffic, page views, status classes, bots, response times, visitors.
-- Grain: one row per site and local day (site and date are the partition folders; time_zone names
--   the zone of the day, 'UTC' when the site counts UTC days). A day without requests has no row.
-- Parameters: $tz, $built_at; the day's requests and visits come from the staging macros
--   (sql/staging/). Definitions: docs/marts.md. Visitor figures need client_ip, session_id and
--   user_agent, which anonymisation removes: on a day with anonymised rows they are carried over
--   from the previous build and the rows received since are added (docs/marts.md, "Late data").
-- Page views, visits and bounces are those of people (agent_group person); unique visitors follow
-- GoAccess (every client, 4xx answers left out), count_human_visitors the same for people only.
with requests as (
    select * from day_requests()
),

-- response-time percentiles of the day, exact and in bounded memory (sql/staging/percentiles.sql)
timed as (
    select 0 as percentile_group, response_time_ms from requests
),

percentiles as (
    select * from response_percentiles('timed')
),

-- visits of people (sql/staging/day_visits.sql)
human_visits as (
    select count_page_views, duration_s
    from day_visits()
    where not is_bot
),

counted as (
    select
        $tz::varchar as time_zone,
        count(*) as count_requests,
        count(*) filter (where is_page_view and not is_bot) as count_page_views,
        count(*) filter (where is_page_view and is_bot) as count_bot_page_views,
        sum(bytes) as sum_bytes,
        count(*) filter (where status between 200 and 299) as count_2xx,
        count(*) filter (where status between 300 and 399) as count_3xx,
        count(*) filter (where status between 400 and 499) as count_4xx,
        count(*) filter (where status between 500 and 599) as count_5xx,
        count(*) filter (where status is null or status < 200 or status > 599) as count_other_status,
        count(*) filter (where is_bot) as count_bot_requests,
        count(*) filter (where status = 304) as count_not_modified,
        (select p50_response_ms from percentiles) as p50_response_ms,
        (select p95_response_ms from percentiles) as p95_response_ms,
        (select p99_response_ms from percentiles) as p99_response_ms,
        count(distinct visitor_key) as count_unique_visitors,
        count(distinct visitor_key) filter (where agent_group = 'person') as count_human_visitors,
        (select count(*) from human_visits) as count_visits,
        (select count(*) from human_visits where count_page_views = 1) as count_bounces,
        (select coalesce(sum(count_page_views), 0) from human_visits) as count_visit_page_views,
        (select coalesce(sum(duration_s), 0)::double from human_visits) as sum_visit_duration_s
    from requests
),

-- visitor figures carried over on an anonymised day (sql/staging/carry_over.sql)
merged as (
    select * from carried_figures('counted', ['time_zone'], '[{
        "time_zone": "VARCHAR",
        "count_visits": "BIGINT",
        "count_unique_visitors": "BIGINT",
        "count_human_visitors": "BIGINT",
        "count_bounces": "BIGINT",
        "count_visit_page_views": "BIGINT",
        "sum_visit_duration_s": "DOUBLE"
    }]')
),

final as (
    select
        * exclude (is_approximate, last_received_at),
        (count_4xx + count_5xx) / count_requests as error_rate,
        count_bot_requests / count_requests as bot_share,
        count_not_modified / count_requests as not_modified_share,
        count_bounces / nullif(count_visits, 0) as bounce_rate,
        count_visit_page_views / nullif(count_visits, 0) as pages_per_visit,
        sum_visit_duration_s / nullif(count_visits, 0) as avg_visit_duration_s,
        is_approximate,
        last_received_at,
        $built_at::timestamptz as built_at
    from merged
    where count_requests > 0
)

select * from final
