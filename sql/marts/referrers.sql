-- External referrer domains: which other sites send traffic.
-- Grain: one row per site, UTC day and external referrer host.
-- Parameters: $files (Parquet files of the day from requests/ and held/), $site, $built_at.
-- Own host rule (referrers from it are internal and left out), comparing host names without
-- a leading 'www.': the logged virtual hosts, the site name itself, and the referrer host
-- seen most often on asset requests that day (assets are loaded by the site's own pages;
-- ties broken alphabetically).
with requests as (
    select vhost, referrer_host, is_bot, is_page
    from read_parquet($files, union_by_name = true)
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

external as (
    select referrer_host, is_bot, is_page
    from requests
    where
        referrer_host is not null
        and regexp_replace(referrer_host, '^www\.', '') not in (select host from own_hosts where host is not null)
),

final as (
    select
        referrer_host,
        count(*) as count_requests,
        count(*) filter (where is_page) as count_page_views,
        count(*) filter (where is_bot) as count_bot_requests,
        $built_at::timestamptz as built_at
    from external
    group by referrer_host
    order by count_requests desc, referrer_host
)

select * from final
