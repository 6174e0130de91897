-- The requests of one site and day, as every mart reads them: DuckDB table macros, created once
-- per build connection (accesslake.analytics.staging.connect_build).
--
-- Grain: day_rows, day_requests: one row per request of the day; decoded_paths: one row per
--   distinct path; agent_keys: one row per distinct user agent; day_build_mode: one row.
--
-- The day is a LOCAL day: the requests with build_day_start <= ts < build_day_end, read from
-- the UTC partitions that window touches (requests/ and held/). The window, the files and the
-- rest are DuckDB variables, set from bound parameters before each model runs
-- (staging.run_model): build_files, build_day_start, build_day_end, build_tz, build_site,
-- build_own_hosts, build_previous (JSON rows of the previous build of the mart),
-- build_previous_until (its last_received_at), build_previous_approximate (its flag).
-- build_files ends with an empty file of every request column, so a column older files lack
-- (agent_group) reads as NULL instead of failing.
--
-- day_build_mode: is_carried_over (the day has anonymised rows and the mart a previous build:
--   figures that need personal columns are carried over, only rows received since are added),
--   is_approximate (those figures can no longer be recomputed exactly; docs/marts.md, Late data).
-- day_requests adds to every row:
--   agent_group (NULL in rows written before it existed: other_bot or person by is_bot),
--   page (the decoded path, docs/marts.md "Readable paths"), is_page_view (the page-view
--   definition), is_new (counted by this build: not carried over, or received since),
--   client_key (GoAccess's visitor: client_ip | agent key) for rows whose identity this build
--   counts, and visitor_key: the same but NULL for 4xx answers (GoAccess leaves them out).

create or replace macro day_rows() as table
    select *
    from read_parquet(getvariable('build_files'), union_by_name = true)
    where ts >= getvariable('build_day_start')::timestamptz and ts < getvariable('build_day_end')::timestamptz;

create or replace macro day_build_mode() as table
    select
        max(received_at) as last_received_at,
        coalesce(bool_or(anonymized_at is not null), false)
            and getvariable('build_previous_until')::timestamptz is not null as is_carried_over,
        case
            when not coalesce(bool_or(anonymized_at is not null), false) then false
            when getvariable('build_previous_until')::timestamptz is null then true
            else coalesce(getvariable('build_previous_approximate')::boolean, true)
                or coalesce(bool_or(received_at > getvariable('build_previous_until')::timestamptz), false)
        end as is_approximate
    from day_rows();

-- once per distinct path (decode_path: accesslake.analytics.paths)
create or replace macro decoded_paths() as table
    select path, decode_path(path) as page
    from (select distinct path from day_rows() where path is not null);

-- once per distinct user agent: GoAccess 1.7 keys visitors on the URL-decoded, trimmed agent
create or replace macro agent_keys() as table
    select user_agent, trim(coalesce(try(url_decode(user_agent)), user_agent), e' \t\r\n') as agent_key
    from (select distinct user_agent from day_rows() where user_agent is not null);

create or replace macro day_requests() as table
    with marked as (
        select
            requests.* exclude (agent_group),
            coalesce(requests.agent_group, if(requests.is_bot, 'other_bot', 'person')) as agent_group,
            coalesce(paths.page, requests.path) as page,
            coalesce(
                requests.is_page and requests.method in ('GET', 'POST')
                and (requests.status between 200 and 299 or requests.status = 304),
                false
            ) as is_page_view,
            not mode.is_carried_over
                or requests.received_at > getvariable('build_previous_until')::timestamptz as is_new,
            agents.agent_key
        from day_rows() as requests
        cross join day_build_mode() as mode
        left join decoded_paths() as paths on requests.path = paths.path
        left join agent_keys() as agents on requests.user_agent = agents.user_agent
    )

    select
        * exclude (agent_key),
        case
            when is_new and anonymized_at is null and client_ip is not null
                then client_ip || '|' || coalesce(agent_key, '-')
        end as client_key,
        case when not coalesce(status between 400 and 499, false) then client_key end as visitor_key
    from marked;
