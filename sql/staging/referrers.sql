-- Where the requests of one site and day came from: the site's own hosts and every referrer
-- host's kind (DuckDB table macros, created once per build connection; variables as in
-- day_requests.sql). Shared by the marts referrers, search_engines and broken_links.
--
-- Grain: own_hosts: one row per own host name; day_referrer_hosts: one row per distinct
--   referrer host of the day; day_referrers: one row per request (day_requests) with the kind
--   and name of its referrer.
--
-- Own hosts (compared without a leading 'www.'): the hosts the policy names for the site
-- (build_own_hosts: [sites.NAME] own_hosts or [site] own_hosts; '*.example.org' is
-- example.org and every subdomain), the logged virtual hosts (port removed) and the site name.
-- Only when the policy names none and no virtual host is logged is one inferred: the referrer
-- host seen most often on asset requests that day (ties alphabetical): assets are loaded by the
-- site's own pages.
-- referrer_kind: internal (an own host), search, social, ai (referrer_source, from the Matomo
-- list: accesslake.analytics.referrers), website (any other host), none (no referrer).

create or replace macro own_hosts() as table
    with configured as (
        select distinct regexp_replace(lower(host), '^www\.', '') as host
        from (select unnest(getvariable('build_own_hosts')::varchar[]) as host)
    ),

    logged as (
        select distinct regexp_replace(lower(regexp_replace(vhost, ':\d+$', '')), '^www\.', '') as host
        from day_rows()
        where vhost is not null
    ),

    inferred as (
        select regexp_replace(referrer_host, '^www\.', '') as host
        from day_rows()
        where not is_page and referrer_host is not null
        group by 1
        order by count(*) desc, 1
        limit 1
    )

    select host from configured
    union
    select host from logged
    union
    select regexp_replace(lower(getvariable('build_site')::varchar), '^www\.', '') as host
    union
    select host from inferred
    where not exists (select 1 from configured) and not exists (select 1 from logged);

create or replace macro day_referrer_hosts() as table
    with hosts as (
        select referrer_host, regexp_replace(referrer_host, '^www\.', '') as bare_host
        from (select distinct referrer_host from day_rows() where referrer_host is not null)
    ),

    own as (
        select distinct hosts.referrer_host
        from hosts
        inner join own_hosts() as own_hosts
            on hosts.bare_host = own_hosts.host
            or (starts_with(own_hosts.host, '*.')
                and (hosts.bare_host = own_hosts.host[3:] or ends_with(hosts.bare_host, own_hosts.host[2:])))
    ),

    sourced as (
        select referrer_host, referrer_source(referrer_host) as source
        from hosts
        where referrer_host not in (select referrer_host from own)
    )

    select
        hosts.referrer_host,
        case
            when own.referrer_host is not null then 'internal'
            else coalesce(sourced.source.kind, 'website')
        end as referrer_kind,
        sourced.source.name as referrer_name
    from hosts
    left join own on hosts.referrer_host = own.referrer_host
    left join sourced on hosts.referrer_host = sourced.referrer_host;

create or replace macro day_referrers() as table
    select
        requests.*,
        coalesce(hosts.referrer_kind, 'none') as referrer_kind,
        hosts.referrer_name
    from day_requests() as requests
    left join day_referrer_hosts() as hosts on requests.referrer_host = hosts.referrer_host;
