-- Analyst views over the lake: the requests without identifying columns, and one view per
-- mart (same name as the mart). held/ is never read here; forensic views live apart.
--
-- Grain: requests, one row per stored request (requests/ only); each mart view, the
-- grain of its mart (docs/marts.md).
--
-- Where the rows come from (variable `lake_source`):
--   'files'       read_parquet under the variable `lake` (default; the DuckDB shell, for operators):
--                   duckdb -cmd "SET VARIABLE lake = 'data/lake'" -cmd ".read sql/empty_tables.sql" \
--                          -cmd ".read sql/views.sql"
--   'registered'  the datasets the caller registered on the connection as lake_source_requests and
--                 lake_source_<mart> (accesslake.analytics.views.connect: PyArrow datasets of the
--                 allowed columns only, then external access switched off, so the analyst
--                 connection cannot open any file by path); the caller also sets `lake_datasets`.
-- Values come from variables read with getvariable, never pasted into SQL.
--
-- A dataset without any file yet (an empty lake, a mart never built) gives an empty view
-- with the right columns, from the typed empty tables of schema lake_empty
-- (sql/empty_tables.sql, generated; read it first). Which datasets have files is looked up
-- when this file runs: run it again once the first files arrive.

set variable lake = coalesce(getvariable('lake'), 'data/lake');

set variable lake_source = coalesce(getvariable('lake_source'), 'files');

-- the datasets with files ('requests', 'marts/<name>'): globbed under `lake` when reading files
set variable lake_datasets = coalesce(getvariable('lake_datasets'), (
    select coalesce(list(distinct regexp_extract(file, '/(requests|marts/[^/]+)/site=[^/]+/date=[^/]+/[^/]+$', 1)), [])
    from query(if(
        getvariable('lake_source') = 'files',
        'select file from glob(getvariable(''lake'') || ''/requests/site=*/date=*/*.parquet'')
         union all
         select file from glob(getvariable(''lake'') || ''/marts/*/site=*/date=*/*.parquet'')',
        'select null::varchar as file where false'
    ))
));

-- the SQL text that reads one dataset ('requests' or 'marts/<name>'), or its empty table
create or replace macro lake_scan(dataset) as
    if(
        not list_contains(getvariable('lake_datasets'), dataset),
        'from lake_empty.' || replace(dataset, 'marts/', ''),
        if(
            getvariable('lake_source') = 'registered',
            'from lake_source_' || replace(dataset, 'marts/', ''),
            -- the empty table first: files written before a column existed read it as NULL
            'from (from lake_empty.' || replace(dataset, 'marts/', '') || ' union all by name '
                || 'from read_parquet(getvariable(''lake'') || ''/' || dataset || '/site=*/date=*/*.parquet'', '
                || 'hive_partitioning = true, hive_types = {''site'': varchar, ''date'': date}, union_by_name = true))'
        )
    );

-- requests without anything that identifies or fingerprints a person: no client_ip,
-- session_id, remote_user or forwarded_for, no raw user_agent, no query string, and the
-- referrer only as its host (the marts keep campaigns and broken-link referrers in aggregate)
create or replace view requests as
select
    site,
    date,
    row_id,
    ts,
    vhost,
    method,
    path,
    protocol,
    status,
    bytes,
    referrer_host,
    browser,
    browser_version,
    os,
    os_version,
    device,
    is_bot,
    agent_group,
    is_page,
    response_time_ms,
    received_at,
    anonymized_at,
    source_file,
    source_line
from query(lake_scan('requests'));

-- one view per mart
create or replace view daily_traffic as
select site, date, * exclude (site, date) from query(lake_scan('marts/daily_traffic'));

create or replace view hourly_traffic as
select site, date, * exclude (site, date) from query(lake_scan('marts/hourly_traffic'));

create or replace view weekday_hours as
select site, date, * exclude (site, date) from query(lake_scan('marts/weekday_hours'));

create or replace view pages as
select site, date, * exclude (site, date) from query(lake_scan('marts/pages'));

create or replace view entry_exit_pages as
select site, date, * exclude (site, date) from query(lake_scan('marts/entry_exit_pages'));

create or replace view visits as
select site, date, * exclude (site, date) from query(lake_scan('marts/visits'));

create or replace view referrers as
select site, date, * exclude (site, date) from query(lake_scan('marts/referrers'));

create or replace view search_engines as
select site, date, * exclude (site, date) from query(lake_scan('marts/search_engines'));

create or replace view campaigns as
select site, date, * exclude (site, date) from query(lake_scan('marts/campaigns'));

create or replace view clients as
select site, date, * exclude (site, date) from query(lake_scan('marts/clients'));

create or replace view status_codes as
select site, date, * exclude (site, date) from query(lake_scan('marts/status_codes'));

create or replace view status_paths as
select site, date, * exclude (site, date) from query(lake_scan('marts/status_paths'));

create or replace view broken_links as
select site, date, * exclude (site, date) from query(lake_scan('marts/broken_links'));

create or replace view resources as
select site, date, * exclude (site, date) from query(lake_scan('marts/resources'));

create or replace view content_types as
select site, date, * exclude (site, date) from query(lake_scan('marts/content_types'));

create or replace view methods as
select site, date, * exclude (site, date) from query(lake_scan('marts/methods'));

create or replace view virtual_hosts as
select site, date, * exclude (site, date) from query(lake_scan('marts/virtual_hosts'));
