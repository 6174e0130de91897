-- Search engines that send visitors (by referrer host; search terms are not logged by them).
-- Grain: one row per site, UTC day and search engine.
-- Parameters: $files (Parquet files of the day from requests/ and held/), $built_at.
-- Engines are recognised by referrer host (patterns below, lower case); the site's own
-- host never matches them, so no own-host rule is needed here. The patterns run on the
-- day's distinct referrer hosts, not on every request (a 2-million-row day: 40 s -> 0.1 s).
with requests as (
    select referrer_host, is_bot, is_page
    from read_parquet($files, union_by_name = true)
),

engines (search_engine, host_pattern) as (
    values
        ('Google', '^(www\.|encrypted\.)?google(\.com?)?(\.[a-z]{2,3})?$'),
        ('Bing', '^(www\.|cn\.)?bing\.com$'),
        ('DuckDuckGo', '^(www\.|html\.|lite\.)?duckduckgo\.com$'),
        ('Yahoo', '(^|\.)search\.yahoo\.(com|co\.jp|[a-z]{2})$'),
        ('Yandex', '^(www\.)?(yandex\.[a-z.]+|ya\.ru)$'),
        ('Baidu', '^(www\.|m\.)?baidu\.com$'),
        ('Ecosia', '^(www\.)?ecosia\.org$'),
        ('Qwant', '^(www\.|lite\.)?qwant\.com$'),
        ('Startpage', '^(www\.)?startpage\.com$'),
        ('Brave', '^search\.brave\.com$'),
        ('Ask', '^(www\.)?ask\.com$'),
        ('Naver', '^(www\.|search\.)?naver\.com$'),
        ('Seznam', '^(www\.|search\.)?seznam\.cz$'),
        ('Sogou', '^(www\.)?sogou\.com$'),
        ('AOL', '^(www\.)?search\.aol\.com$')
),

hosts as (
    select
        referrer_host,
        count(*) as count_requests,
        count(*) filter (where is_page) as count_page_views,
        count(*) filter (where is_bot) as count_bot_requests
    from requests
    where referrer_host is not null
    group by referrer_host
),

matched as (
    select engines.search_engine, hosts.*
    from hosts
    inner join engines on regexp_matches(hosts.referrer_host, engines.host_pattern)
),

final as (
    select
        search_engine,
        sum(count_requests)::bigint as count_requests,
        sum(count_page_views)::bigint as count_page_views,
        sum(count_bot_requests)::bigint as count_bot_requests,
        count(distinct referrer_host) as count_referrer_hosts,
        $built_at::timestamptz as built_at
    from matched
    group by search_engine
    order by count_requests desc, search_engine
)

select * from final
