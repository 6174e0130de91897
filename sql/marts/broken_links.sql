-- Broken links: 404s by path and where the link was (internal page, other site, none).
-- Grain: one row per site, UTC day, path, referrer_kind, referrer_host and referrer_path.
-- Parameters: $files, $site, $built_at, $previous, $previous_until, $previous_approximate.
-- referrer_kind: 'internal' (the referrer is the site itself, own host rule as in
-- referrers), 'inbound' (another site links to a missing page) or 'none'.
-- referrer_path (path of the referring page, without query) is kept for internal links
-- only: it is the page to fix, and other sites' paths may carry personal data.
-- Anonymisation cuts the referrer to its origin, so on an anonymised day the rows
-- are carried over from the previous build and those received since added (docs/marts.md).
with requests as (
    select
        vhost,
        path,
        status,
        referrer,
        referrer_host,
        is_bot,
        is_page,
        received_at,
        anonymized_at
    from read_parquet($files, union_by_name = true)
),

previous as (
    select unnest(from_json($previous, '[{
        "path": "VARCHAR",
        "referrer_kind": "VARCHAR",
        "referrer_host": "VARCHAR",
        "referrer_path": "VARCHAR",
        "count_requests": "BIGINT",
        "count_bot_requests": "BIGINT"
    }]'), recursive := true)
),

asset_referrers as (
    select regexp_replace(referrer_host, '^www\.', '') as host, count(*) as count_requests
    from requests
    where not is_page and referrer_host is not null
    group by 1
),

own_hosts as (
    select distinct regexp_replace(lower(regexp_replace(vhost, ':\d+$', '')), '^www\.', '') as host
    from requests
    where vhost is not null
    union
    select regexp_replace(lower($site::varchar), '^www\.', '') as host
    union
    select host
    from (select host from asset_referrers order by count_requests desc, host limit 1)
),

build as (
    select
        max(received_at) as last_received_at,
        coalesce(bool_or(anonymized_at is not null), false) as has_anonymized_rows
    from requests
),

build_mode as (
    select
        last_received_at,
        has_anonymized_rows and $previous_until::timestamptz is not null as is_carried_over
    from build
),

not_found as (
    select
        requests.path,
        requests.referrer,
        requests.referrer_host,
        requests.is_bot,
        requests.anonymized_at,
        case
            when requests.referrer_host is null then 'none'
            when regexp_replace(requests.referrer_host, '^www\.', '') in (select host from own_hosts where host is not null)
                then 'internal'
            else 'inbound'
        end as referrer_kind
    from requests
    cross join build_mode
    where
        requests.status = 404
        and (not build_mode.is_carried_over or requests.received_at > $previous_until::timestamptz)
),

counted as (
    select
        path,
        referrer_kind,
        referrer_host,
        case
            when referrer_kind <> 'internal' or anonymized_at is not null then null
            else coalesce(nullif(regexp_extract(referrer, '^[A-Za-z][A-Za-z0-9+.\-]*://[^/?#]*(/[^?#]*)?', 1), ''), '/')
        end as referrer_path,
        count(*) as count_requests,
        count(*) filter (where is_bot) as count_bot_requests,
        coalesce(bool_or(referrer_kind = 'internal' and anonymized_at is not null), false) as is_path_lost
    from not_found
    group by all
),

carried as (
    select previous.*
    from previous
    cross join build_mode
    where build_mode.is_carried_over
),

merged as (
    select
        path,
        referrer_kind,
        referrer_host,
        referrer_path,
        sum(count_requests)::bigint as count_requests,
        sum(count_bot_requests)::bigint as count_bot_requests
    from (
        select path, referrer_kind, referrer_host, referrer_path, count_requests, count_bot_requests from counted
        union all
        select path, referrer_kind, referrer_host, referrer_path, count_requests, count_bot_requests from carried
    )
    group by path, referrer_kind, referrer_host, referrer_path
),

approximation as (
    select
        case
            when build_mode.is_carried_over
                then coalesce($previous_approximate::boolean, true)
                    or coalesce((select bool_or(is_path_lost) from counted), false)
            else coalesce((select bool_or(is_path_lost) from counted), false)
        end as is_approximate
    from build_mode
),

final as (
    select
        merged.path,
        merged.referrer_kind,
        merged.referrer_host,
        merged.referrer_path,
        merged.count_requests,
        merged.count_bot_requests,
        approximation.is_approximate,
        build_mode.last_received_at,
        $built_at::timestamptz as built_at
    from merged
    cross join approximation
    cross join build_mode
    order by merged.count_requests desc, merged.path, merged.referrer_kind, merged.referrer_host, merged.referrer_path
)

select * from final
