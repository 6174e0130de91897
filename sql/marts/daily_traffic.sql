-- The daily headline of one site: traffic, status classes, bots, response times and visitors.
-- Grain: one row per site and UTC day (site and date are the partition folders).
-- Parameters: $files (Parquet files of the day from requests/ and held/), $built_at,
--   $previous (JSON rows of the previous build of this day, '[]' when none),
--   $previous_until (last_received_at of that build, NULL when none),
--   $previous_approximate (its is_approximate).
-- Visitor figures need client_ip, session_id and user_agent, which anonymisation removes:
-- on a day with anonymised rows they are carried over from the previous build and the
-- rows received since are added on top (docs/marts.md, "Late data").
-- Unique visitors follow GoAccess: distinct (client_ip, day, user agent without blanks),
-- 4xx responses not counted. A visit: page views of one visitor key (session id, else
-- client_ip + user agent) with no gap over 30 minutes.
with requests as (
    select
        row_id,
        ts,
        client_ip,
        session_id,
        user_agent,
        status,
        bytes,
        is_bot,
        is_page,
        response_time_ms,
        received_at,
        anonymized_at
    from read_parquet($files, union_by_name = true)
),

previous as (
    select unnest(from_json($previous, '[{
        "count_visits": "BIGINT",
        "count_unique_visitors": "BIGINT",
        "count_bounces": "BIGINT",
        "count_visit_page_views": "BIGINT",
        "sum_visit_duration_s": "DOUBLE"
    }]'), recursive := true)
),

build_mode as (
    select * from day_build_mode($files, $previous_until, $previous_approximate)
),

-- rows whose visitor identity this build counts (sql/staging/day_visits.sql)
identified as (
    select * from identified_requests($files, $previous_until, $previous_approximate)
),

traffic as (
    select
        count(*) as count_requests,
        count(*) filter (where is_page) as count_page_views,
        coalesce(sum(bytes), 0)::bigint as sum_bytes,
        count(*) filter (where status between 200 and 299) as count_2xx,
        count(*) filter (where status between 300 and 399) as count_3xx,
        count(*) filter (where status between 400 and 499) as count_4xx,
        count(*) filter (where status between 500 and 599) as count_5xx,
        count(*) filter (where status is null or status < 200 or status > 599) as count_other_status,
        count(*) filter (where is_bot) as count_bot_requests,
        count(*) filter (where status = 304) as count_not_modified,
        quantile_cont(response_time_ms, 0.5) as p50_response_ms,
        quantile_cont(response_time_ms, 0.95) as p95_response_ms,
        quantile_cont(response_time_ms, 0.99) as p99_response_ms
    from requests
),

-- the (client_ip, user agent) pairs that count; blanks are stripped once per distinct user
-- agent (a day has few), not once per request
visitor_pairs as (
    select distinct client_ip, user_agent
    from identified
    where client_ip is not null and not coalesce(status between 400 and 499, false)
),

agent_keys as materialized (
    select user_agent, regexp_replace(coalesce(user_agent, ''), '\s', '', 'g') as agent_key
    from (select distinct user_agent from visitor_pairs)
),

unique_visitors as (
    select count(distinct [visitor_pairs.client_ip, agent_keys.agent_key]) as count_unique_visitors
    from visitor_pairs
    inner join agent_keys on visitor_pairs.user_agent is not distinct from agent_keys.user_agent
),

-- one row per visit (sql/staging/day_visits.sql)
visits as (
    select count_page_views, duration_s
    from day_visits($files, $previous_until, $previous_approximate)
),

visit_totals as (
    select
        count(*) as count_visits,
        count(*) filter (where count_page_views = 1) as count_bounces,
        coalesce(sum(count_page_views), 0)::bigint as count_visit_page_views,
        coalesce(sum(duration_s), 0)::double as sum_visit_duration_s
    from visits
),

carried as (
    select previous.*
    from previous
    cross join build_mode
    where build_mode.is_carried_over
),

visitors as (
    select
        visit_totals.count_visits + coalesce(carried.count_visits, 0) as count_visits,
        unique_visitors.count_unique_visitors + coalesce(carried.count_unique_visitors, 0)
            as count_unique_visitors,
        visit_totals.count_bounces + coalesce(carried.count_bounces, 0) as count_bounces,
        visit_totals.count_visit_page_views + coalesce(carried.count_visit_page_views, 0)
            as count_visit_page_views,
        visit_totals.sum_visit_duration_s + coalesce(carried.sum_visit_duration_s, 0) as sum_visit_duration_s
    from visit_totals
    cross join unique_visitors
    left join carried on true
),

final as (
    select
        traffic.count_requests,
        traffic.count_page_views,
        visitors.count_visits,
        visitors.count_unique_visitors,
        traffic.sum_bytes,
        traffic.count_2xx,
        traffic.count_3xx,
        traffic.count_4xx,
        traffic.count_5xx,
        traffic.count_other_status,
        (traffic.count_4xx + traffic.count_5xx) / nullif(traffic.count_requests, 0) as error_rate,
        traffic.count_bot_requests,
        traffic.count_bot_requests / nullif(traffic.count_requests, 0) as bot_share,
        traffic.count_not_modified,
        traffic.count_not_modified / nullif(traffic.count_requests, 0) as not_modified_share,
        traffic.p50_response_ms,
        traffic.p95_response_ms,
        traffic.p99_response_ms,
        visitors.count_bounces,
        visitors.count_bounces / nullif(visitors.count_visits, 0) as bounce_rate,
        visitors.count_visit_page_views,
        visitors.count_visit_page_views / nullif(visitors.count_visits, 0) as pages_per_visit,
        visitors.sum_visit_duration_s,
        visitors.sum_visit_duration_s / nullif(visitors.count_visits, 0) as avg_visit_duration_s,
        build_mode.is_approximate,
        build_mode.last_received_at,
        $built_at::timestamptz as built_at
    from traffic
    cross join visitors
    cross join build_mode
)

select * from final
