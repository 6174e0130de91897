-- Search engines that send visitors (by referrer host; engines do not pass search terms).
-- Grain: one row per site, local day and search engine.
-- Parameters: $built_at; requests with their referrer's kind and name from
--   sql/staging/referrers.sql (the Matomo list: subdomains such as images.google.de or
--   r.duckduckgo.com and app referrers such as com.google.android.googlequicksearchbox).
--   count_visitors is carried over on an anonymised day.
with counted as (
    select
        referrer_name as search_engine,
        count(*) as count_requests,
        count(*) filter (where is_page_view and not is_bot) as count_page_views,
        count(*) filter (where is_bot) as count_bot_requests,
        count(distinct referrer_host) as count_referrer_hosts,
        count(distinct visitor_key) as count_visitors
    from day_referrers()
    where referrer_kind = 'search'
    group by referrer_name
),

final as (
    select *, $built_at::timestamptz as built_at
    from carried_figures('counted', ['search_engine'], '[{"search_engine": "VARCHAR", "count_visitors": "BIGINT"}]')
    order by count_requests desc, search_engine
)

select * from final
