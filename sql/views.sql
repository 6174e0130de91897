-- Analyst views over the lake: the requests without identifying columns, and one view per
-- mart (same name as the mart). held/ is never read here; forensic views live apart.
--
-- Grain: requests, one row per stored request (requests/ only); each mart view, the
-- grain of its mart (docs/marts.md).
--
-- Use from Python: accesslake.views.connect(lake). Use in the DuckDB shell (1.5 or later):
--   duckdb -cmd "SET VARIABLE lake = 'data/lake'" -cmd ".read sql/views.sql"
-- The lake root comes from the variable `lake` (default data/lake); it is read with
-- getvariable('lake') and never pasted into SQL text.
--
-- A dataset without any file yet (an empty lake, a mart never built) gives an empty view
-- with the right columns, from the typed empty tables of schema empty_lake. Which datasets
-- have files is looked up when this file runs: run it again once the first files arrive.

set variable lake = coalesce(getvariable('lake'), 'data/lake');

set variable lake_datasets = (
    select coalesce(list(distinct regexp_extract(file, '/(requests|marts/[^/]+)/site=[^/]+/date=[^/]+/[^/]+$', 1)), [])
    from (
        select file from glob(getvariable('lake') || '/requests/site=*/date=*/*.parquet')
        union all
        select file from glob(getvariable('lake') || '/marts/*/site=*/date=*/*.parquet')
    )
);

-- the SQL text that reads one dataset ('requests' or 'marts/<name>'), or its empty table
create or replace macro lake_scan(dataset) as
    if(
        list_contains(getvariable('lake_datasets'), dataset),
        'from read_parquet(getvariable(''lake'') || ''/' || dataset || '/site=*/date=*/*.parquet'', '
            || 'hive_partitioning = true, hive_types = {''site'': varchar, ''date'': date}, union_by_name = true)',
        'from empty_lake.' || replace(dataset, 'marts/', '')
    );

create schema if not exists empty_lake;

create or replace table empty_lake.requests (
    site varchar,
    date date,
    row_id varchar,
    ts timestamptz,
    vhost varchar,
    method varchar,
    path varchar,
    query varchar,
    protocol varchar,
    status smallint,
    bytes bigint,
    referrer varchar,
    referrer_host varchar,
    user_agent varchar,
    browser varchar,
    browser_version varchar,
    os varchar,
    os_version varchar,
    device varchar,
    is_bot boolean,
    is_page boolean,
    response_time_ms double,
    received_at timestamptz,
    anonymized_at timestamptz,
    source_file varchar,
    source_line bigint
);

create or replace table empty_lake.daily_traffic (
    site varchar,
    date date,
    count_requests bigint,
    count_page_views bigint,
    count_visits bigint,
    count_unique_visitors bigint,
    sum_bytes bigint,
    count_2xx bigint,
    count_3xx bigint,
    count_4xx bigint,
    count_5xx bigint,
    count_other_status bigint,
    error_rate double,
    count_bot_requests bigint,
    bot_share double,
    count_not_modified bigint,
    not_modified_share double,
    p50_response_ms double,
    p95_response_ms double,
    p99_response_ms double,
    count_bounces bigint,
    bounce_rate double,
    count_visit_page_views bigint,
    pages_per_visit double,
    sum_visit_duration_s double,
    avg_visit_duration_s double,
    is_approximate boolean,
    last_received_at timestamptz,
    built_at timestamptz
);

create or replace table empty_lake.hourly_traffic (
    site varchar,
    date date,
    hour_at timestamptz,
    count_requests bigint,
    count_page_views bigint,
    sum_bytes bigint,
    count_2xx bigint,
    count_3xx bigint,
    count_4xx bigint,
    count_5xx bigint,
    error_rate double,
    count_not_modified bigint,
    count_bot_requests bigint,
    bot_share double,
    p95_response_ms double,
    built_at timestamptz
);

create or replace table empty_lake.weekday_hours (
    site varchar,
    date date,
    local_weekday integer,
    weekday_name varchar,
    local_hour integer,
    count_requests bigint,
    count_page_views bigint,
    count_human_page_views bigint,
    count_bot_requests bigint,
    sum_bytes bigint,
    built_at timestamptz
);

create or replace table empty_lake.pages (
    site varchar,
    date date,
    path varchar,
    count_page_views bigint,
    count_human_page_views bigint,
    count_bot_page_views bigint,
    count_errors bigint,
    sum_bytes bigint,
    built_at timestamptz
);

create or replace table empty_lake.entry_exit_pages (
    site varchar,
    date date,
    path varchar,
    is_bot boolean,
    count_entries bigint,
    count_exits bigint,
    count_bounces bigint,
    bounce_rate double,
    is_approximate boolean,
    last_received_at timestamptz,
    built_at timestamptz
);

create or replace table empty_lake.visits (
    site varchar,
    date date,
    is_bot boolean,
    duration_bucket varchar,
    duration_from_s integer,
    count_visits bigint,
    count_bounces bigint,
    bounce_rate double,
    count_page_views bigint,
    pages_per_visit double,
    sum_duration_s double,
    avg_duration_s double,
    is_approximate boolean,
    last_received_at timestamptz,
    built_at timestamptz
);

create or replace table empty_lake.referrers (
    site varchar,
    date date,
    referrer_host varchar,
    count_requests bigint,
    count_page_views bigint,
    count_bot_requests bigint,
    built_at timestamptz
);

create or replace table empty_lake.search_engines (
    site varchar,
    date date,
    search_engine varchar,
    count_requests bigint,
    count_page_views bigint,
    count_bot_requests bigint,
    count_referrer_hosts bigint,
    built_at timestamptz
);

create or replace table empty_lake.campaigns (
    site varchar,
    date date,
    utm_source varchar,
    utm_medium varchar,
    utm_campaign varchar,
    count_requests bigint,
    count_page_views bigint,
    count_bot_requests bigint,
    is_approximate boolean,
    last_received_at timestamptz,
    built_at timestamptz
);

create or replace table empty_lake.clients (
    site varchar,
    date date,
    browser varchar,
    browser_version varchar,
    os varchar,
    os_version varchar,
    device varchar,
    is_bot boolean,
    count_requests bigint,
    count_page_views bigint,
    sum_bytes bigint,
    built_at timestamptz
);

create or replace table empty_lake.status_codes (
    site varchar,
    date date,
    hour_at timestamptz,
    status smallint,
    status_class varchar,
    count_requests bigint,
    count_bot_requests bigint,
    sum_bytes bigint,
    built_at timestamptz
);

create or replace table empty_lake.status_paths (
    site varchar,
    date date,
    status smallint,
    status_class varchar,
    path varchar,
    count_requests bigint,
    count_bot_requests bigint,
    sum_bytes bigint,
    max_response_ms double,
    built_at timestamptz
);

create or replace table empty_lake.broken_links (
    site varchar,
    date date,
    path varchar,
    referrer_kind varchar,
    referrer_host varchar,
    referrer_path varchar,
    count_requests bigint,
    count_bot_requests bigint,
    is_approximate boolean,
    last_received_at timestamptz,
    built_at timestamptz
);

create or replace table empty_lake.resources (
    site varchar,
    date date,
    path varchar,
    content_type varchar,
    is_page boolean,
    count_requests bigint,
    count_errors bigint,
    sum_bytes bigint,
    max_bytes bigint,
    count_timed bigint,
    p50_response_ms double,
    p95_response_ms double,
    p99_response_ms double,
    max_response_ms double,
    built_at timestamptz
);

create or replace table empty_lake.content_types (
    site varchar,
    date date,
    content_type varchar,
    count_requests bigint,
    count_bot_requests bigint,
    sum_bytes bigint,
    max_bytes bigint,
    built_at timestamptz
);

create or replace table empty_lake.methods (
    site varchar,
    date date,
    method varchar,
    protocol varchar,
    count_requests bigint,
    count_bot_requests bigint,
    count_errors bigint,
    sum_bytes bigint,
    built_at timestamptz
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
