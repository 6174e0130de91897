-- The queries of the HTML report (accesslake.report), run against the analyst views
-- (sql/views.sql through accesslake.views.connect): the same definitions as the notebooks
-- and `accesslake sql`.
--
-- One query per `-- name:` block. Every value is a bound parameter: $site (NULL: every
-- site), $start and $end (UTC days, inclusive; NULL: unbounded) and $top (rows of a
-- top-N table). Each block's first comment line gives its grain.

-- name: sites
-- one row per site with built marts, whatever the selection
select site, min(date) as first_day, max(date) as last_day
from daily_traffic
group by site
order by site;

-- name: daily
-- one row per UTC day of the selection (sites summed)
select
    date,
    sum(count_requests) as requests,
    sum(count_page_views) as page_views,
    sum(count_visits) as visits,
    sum(count_unique_visitors) as unique_visitors,
    sum(sum_bytes) as bytes,
    sum(count_2xx) as count_2xx,
    sum(count_3xx) as count_3xx,
    sum(count_4xx) as count_4xx,
    sum(count_5xx) as count_5xx,
    sum(count_other_status) as count_other,
    sum(count_bot_requests) as bot_requests,
    sum(count_not_modified) as not_modified,
    max(p50_response_ms) as p50_ms,
    max(p95_response_ms) as p95_ms,
    max(p99_response_ms) as p99_ms,
    bool_or(is_approximate) as is_approximate,
    count(*) as sites
from daily_traffic
where ($site::varchar is null or site = $site)
  and ($start::date is null or date >= $start)
  and ($end::date is null or date <= $end)
group by date
order by date;

-- name: hourly
-- one row per UTC hour with requests
select
    hour_at,
    sum(count_requests) as requests,
    sum(count_page_views) as page_views,
    sum(count_4xx) as count_4xx,
    sum(count_5xx) as count_5xx,
    sum(count_bot_requests) as bot_requests,
    sum(sum_bytes) as bytes
from hourly_traffic
where ($site::varchar is null or site = $site)
  and ($start::date is null or date >= $start)
  and ($end::date is null or date <= $end)
group by hour_at
order by hour_at;

-- name: weekday_hours
-- one row per local weekday and local hour (site time zone) with requests
select
    local_weekday,
    min(weekday_name) as weekday_name,
    local_hour,
    sum(count_requests) as requests,
    sum(count_page_views) as page_views,
    sum(count_human_page_views) as human_page_views,
    sum(count_bot_requests) as bot_requests
from weekday_hours
where ($site::varchar is null or site = $site)
  and ($start::date is null or date >= $start)
  and ($end::date is null or date <= $end)
group by local_weekday, local_hour
order by local_weekday, local_hour;

-- name: pages
-- one row per page path, the $top most viewed by humans
select
    path,
    sum(count_human_page_views) as human_page_views,
    sum(count_bot_page_views) as bot_page_views,
    sum(count_page_views) as page_views,
    sum(count_errors) as errors,
    sum(sum_bytes) as bytes,
    count(*) over () as total_rows
from pages
where ($site::varchar is null or site = $site)
  and ($start::date is null or date >= $start)
  and ($end::date is null or date <= $end)
group by path
order by human_page_views desc, page_views desc, path
limit $top;

-- name: entry_pages
-- one row per page that starts human visits, the $top most frequent
select
    path,
    sum(count_entries) as entries,
    sum(count_bounces) as bounces,
    sum(count_bounces) / nullif(sum(count_entries), 0) as bounce_rate,
    bool_or(is_approximate) as is_approximate
from entry_exit_pages
where ($site::varchar is null or site = $site)
  and ($start::date is null or date >= $start)
  and ($end::date is null or date <= $end)
  and not is_bot
group by path
having sum(count_entries) > 0
order by entries desc, path
limit $top;

-- name: exit_pages
-- one row per page that ends human visits, the $top most frequent
select
    path,
    sum(count_exits) as exits,
    bool_or(is_approximate) as is_approximate
from entry_exit_pages
where ($site::varchar is null or site = $site)
  and ($start::date is null or date >= $start)
  and ($end::date is null or date <= $end)
  and not is_bot
group by path
having sum(count_exits) > 0
order by exits desc, path
limit $top;

-- name: visits
-- one row per is_bot and visit duration bucket
select
    is_bot,
    duration_bucket,
    min(duration_from_s) as duration_from_s,
    sum(count_visits) as visits,
    sum(count_bounces) as bounces,
    sum(count_page_views) as page_views,
    sum(sum_duration_s) as duration_s,
    bool_or(is_approximate) as is_approximate
from visits
where ($site::varchar is null or site = $site)
  and ($start::date is null or date >= $start)
  and ($end::date is null or date <= $end)
group by is_bot, duration_bucket
order by is_bot, duration_from_s;

-- name: referrers
-- one row per external referrer host, the $top referring most page views
select
    referrer_host,
    sum(count_page_views) as page_views,
    sum(count_requests) as requests,
    sum(count_bot_requests) as bot_requests,
    count(*) over () as total_rows
from referrers
where ($site::varchar is null or site = $site)
  and ($start::date is null or date >= $start)
  and ($end::date is null or date <= $end)
group by referrer_host
order by page_views desc, requests desc, referrer_host
limit $top;

-- name: search_engines
-- one row per search engine
select
    search_engine,
    sum(count_page_views) as page_views,
    sum(count_requests) as requests,
    sum(count_bot_requests) as bot_requests,
    max(count_referrer_hosts) as referrer_hosts
from search_engines
where ($site::varchar is null or site = $site)
  and ($start::date is null or date >= $start)
  and ($end::date is null or date <= $end)
group by search_engine
order by page_views desc, requests desc, search_engine;

-- name: campaigns
-- one row per (utm_source, utm_medium, utm_campaign), the $top with most requests
select
    utm_source,
    utm_medium,
    utm_campaign,
    sum(count_requests) as requests,
    sum(count_page_views) as page_views,
    sum(count_bot_requests) as bot_requests,
    bool_or(is_approximate) as is_approximate
from campaigns
where ($site::varchar is null or site = $site)
  and ($start::date is null or date >= $start)
  and ($end::date is null or date <= $end)
group by utm_source, utm_medium, utm_campaign
order by requests desc, utm_source nulls last, utm_medium nulls last, utm_campaign nulls last
limit $top;

-- name: clients
-- one row per dimension ('browser', 'os', 'device') and value, human traffic only
select
    case
        when grouping(browser) = 0 then 'browser'
        when grouping(os) = 0 then 'os'
        else 'device'
    end as dimension,
    coalesce(browser, os, device, 'Unknown') as value,
    sum(count_requests) as requests,
    sum(count_page_views) as page_views
from (
    select
        coalesce(browser, 'Unknown') as browser,
        coalesce(os, 'Unknown') as os,
        coalesce(device, 'Unknown') as device,
        count_requests,
        count_page_views
    from clients
    where ($site::varchar is null or site = $site)
      and ($start::date is null or date >= $start)
      and ($end::date is null or date <= $end)
      and not is_bot
)
group by grouping sets ((browser), (os), (device))
order by dimension, page_views desc, requests desc, value;

-- name: crawlers
-- one row per crawler, scanner or script (browser family of is_bot clients), the $top busiest
select
    coalesce(browser, 'Unknown') as crawler,
    sum(count_requests) as requests,
    sum(count_page_views) as page_views,
    sum(sum_bytes) as bytes,
    count(*) over () as total_rows
from clients
where ($site::varchar is null or site = $site)
  and ($start::date is null or date >= $start)
  and ($end::date is null or date <= $end)
  and is_bot
group by 1
order by requests desc, crawler
limit $top;

-- name: status_codes
-- one row per status code
select
    status,
    min(status_class) as status_class,
    sum(count_requests) as requests,
    sum(count_bot_requests) as bot_requests,
    sum(sum_bytes) as bytes
from status_codes
where ($site::varchar is null or site = $site)
  and ($start::date is null or date >= $start)
  and ($end::date is null or date <= $end)
group by status
order by status;

-- name: broken_links
-- one row per 404 path and referring page of the site or host of another site, the $top most hit
select
    referrer_kind,
    referrer_host,
    referrer_path,
    path,
    sum(count_requests) as requests,
    sum(count_bot_requests) as bot_requests,
    bool_or(is_approximate) as is_approximate,
    count(*) over () as total_rows
from broken_links
where ($site::varchar is null or site = $site)
  and ($start::date is null or date >= $start)
  and ($end::date is null or date <= $end)
  and referrer_kind in ('internal', 'inbound')
group by all
order by referrer_kind desc, requests desc, path, referrer_host, referrer_path
limit $top;

-- name: status_paths
-- one row per status class ('3xx' without 304, '404', '4xx' other than 404, '5xx') and
-- path, the $top most requested of each group
select * from (
    select
        case
            when status = 404 then '404'
            when status >= 500 then '5xx'
            when status >= 400 then '4xx'
            else '3xx'
        end as kind,
        path,
        string_agg(distinct status::varchar, ', ' order by status::varchar) as statuses,
        sum(count_requests) as requests,
        sum(count_bot_requests) as bot_requests,
        max(max_response_ms) as max_response_ms
    from status_paths
    where ($site::varchar is null or site = $site)
      and ($start::date is null or date >= $start)
      and ($end::date is null or date <= $end)
      and status <> 304
    group by kind, path
)
qualify row_number() over (partition by kind order by requests desc, path) <= $top
order by kind, requests desc, path;

-- name: content_types
-- one row per content type
select
    content_type,
    sum(count_requests) as requests,
    sum(count_bot_requests) as bot_requests,
    sum(sum_bytes) as bytes,
    max(max_bytes) as max_bytes
from content_types
where ($site::varchar is null or site = $site)
  and ($start::date is null or date >= $start)
  and ($end::date is null or date <= $end)
group by content_type
order by bytes desc, content_type;

-- name: resources
-- one row per path, the $top that sent the most bytes
select
    path,
    min(content_type) as content_type,
    sum(count_requests) as requests,
    sum(sum_bytes) as bytes,
    max(max_bytes) as max_bytes
from resources
where ($site::varchar is null or site = $site)
  and ($start::date is null or date >= $start)
  and ($end::date is null or date <= $end)
group by path
order by bytes desc, path
limit $top;

-- name: slow_paths
-- one row per path with at least 5 timed requests, the $top slowest by their worst daily p95
select
    path,
    sum(count_timed) as timed,
    max(p50_response_ms) as p50_ms,
    max(p95_response_ms) as p95_ms,
    max(p99_response_ms) as p99_ms,
    max(max_response_ms) as max_ms
from resources
where ($site::varchar is null or site = $site)
  and ($start::date is null or date >= $start)
  and ($end::date is null or date <= $end)
group by path
having sum(count_timed) >= 5
order by p95_ms desc, path
limit $top;

-- name: methods
-- one row per HTTP method and protocol
select
    coalesce(method, '(not HTTP)') as method,
    coalesce(protocol, '') as protocol,
    sum(count_requests) as requests,
    sum(count_errors) as errors,
    sum(count_bot_requests) as bot_requests,
    sum(sum_bytes) as bytes
from methods
where ($site::varchar is null or site = $site)
  and ($start::date is null or date >= $start)
  and ($end::date is null or date <= $end)
group by all
order by requests desc, method, protocol;
