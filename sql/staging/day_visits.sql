-- Visit building blocks shared by the marts daily_traffic, visits and entry_exit_pages,
-- as DuckDB table macros (created once per build connection by marts.connect_build).
-- Arguments: files (Parquet files of one site and day), previous_until (last_received_at
-- of the previous build of the mart, NULL when none), previous_approximate (its flag).
--
-- day_build_mode: one row. is_carried_over: the day has anonymised rows and a previous
--   build, so visitor figures are carried over and only rows received since are added;
--   is_approximate: visitor figures can no longer be recomputed exactly (docs/marts.md).
-- identified_requests: the rows whose visitor identity this build counts: personal
--   columns still present, and received after the previous build when carried over.
-- visit_page_views: page views of those rows with their visitor key (session id, else
--   client_ip + user agent) and visit number (a new visit after 30 minutes without a
--   page view); ties in time are broken by row_id.
-- day_visits: one row per visit of visit_page_views (visitor key, visit number, is_bot when
--   any of its page views is, page views, duration from first to last page view, entry and
--   exit path). marts.build_day computes it once per day and serves it to the three
--   visitor marts from a temp table (it is the costly part of each).

create or replace macro day_build_mode(files, previous_until, previous_approximate) as table
    select
        max(received_at) as last_received_at,
        coalesce(bool_or(anonymized_at is not null), false) and previous_until::timestamptz is not null
            as is_carried_over,
        case
            when not coalesce(bool_or(anonymized_at is not null), false) then false
            when previous_until::timestamptz is null then true
            else coalesce(previous_approximate::boolean, true)
                or coalesce(bool_or(received_at > previous_until::timestamptz), false)
        end as is_approximate
    from read_parquet(files, union_by_name = true);

create or replace macro identified_requests(files, previous_until, previous_approximate) as table
    select requests.*
    from read_parquet(files, union_by_name = true) as requests
    cross join day_build_mode(files, previous_until, previous_approximate) as build_mode
    where
        requests.anonymized_at is null
        and (not build_mode.is_carried_over or requests.received_at > previous_until::timestamptz);

create or replace macro visit_page_views(files, previous_until, previous_approximate) as table
    with page_views as (
        select
            row_id,
            ts,
            path,
            is_bot,
            coalesce('s:' || session_id, 'c:' || client_ip || '|' || coalesce(user_agent, '')) as visitor_key
        from identified_requests(files, previous_until, previous_approximate)
        where is_page
    ),

    visit_starts as (
        select
            *,
            coalesce(ts - lag(ts) over (partition by visitor_key order by ts, row_id) > interval 30 minute, true)
                as is_visit_start
        from page_views
        where visitor_key is not null
    )

    select
        *,
        sum(is_visit_start::integer) over (
            partition by visitor_key order by ts, row_id rows between unbounded preceding and current row
        ) as visit_number
    from visit_starts;

create or replace macro day_visits(files, previous_until, previous_approximate) as table
    select
        visitor_key,
        visit_number,
        coalesce(bool_or(is_bot), false) as is_bot,
        count(*) as count_page_views,
        epoch(max(ts) - min(ts)) as duration_s,
        first(path order by ts, row_id) as entry_path,
        last(path order by ts, row_id) as exit_path
    from visit_page_views(files, previous_until, previous_approximate)
    group by visitor_key, visit_number;
