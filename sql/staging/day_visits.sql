-- Visits of one site and day, shared by the marts daily_traffic, visits and entry_exit_pages
-- (DuckDB table macros, created once per build connection; variables as in day_requests.sql).
--
-- Grain: visit_page_views: one row per page view whose visitor this build counts;
--   day_visits: one row per visit.
--
-- visit_page_views: the page views (day_requests.is_page_view) of the rows whose personal
--   columns are there and which this build counts (is_new), with their visit key (session id,
--   else client_ip + raw user agent) and visit number (a new visit after 30 minutes without a
--   page view; ties in time broken by row_id).
-- day_visits: per visit: visit key, number, is_bot when any of its page views is, GoAccess
--   visitor key of its first page view, page views, duration from first to last page view,
--   entry and exit page (decoded paths). marts.build_day computes it once per day and serves it
--   to the visitor marts from a temp table (it is the costly part of each).

create or replace macro visit_page_views() as table
    with page_views as (
        select
            row_id,
            ts,
            page,
            is_bot,
            visitor_key,
            coalesce('s:' || session_id, 'c:' || client_ip || '|' || coalesce(user_agent, '')) as visit_key
        from day_requests()
        where is_page_view and is_new and anonymized_at is null
    ),

    visit_starts as (
        select
            *,
            coalesce(ts - lag(ts) over (partition by visit_key order by ts, row_id) > interval 30 minute, true)
                as is_visit_start
        from page_views
        where visit_key is not null
    )

    select
        *,
        sum(is_visit_start::integer) over (
            partition by visit_key order by ts, row_id rows between unbounded preceding and current row
        ) as visit_number
    from visit_starts;

create or replace macro day_visits() as table
    select
        visit_key,
        visit_number,
        coalesce(bool_or(is_bot), false) as is_bot,
        first(visitor_key order by ts, row_id) as visitor_key,
        count(*) as count_page_views,
        epoch(max(ts) - min(ts)) as duration_s,
        first(page order by ts, row_id) as entry_page,
        last(page order by ts, row_id) as exit_page
    from visit_page_views()
    group by visit_key, visit_number;
