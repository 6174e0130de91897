-- Referring hosts of other sites: which search engines, social networks, AI assistants and other
-- websites send traffic, with the visitors they send.
-- Grain: one row per site, local day and referrer host that is not one of the site's own hosts.
-- Parameters: $built_at; requests with their referrer's kind from sql/staging/referrers.sql (own
--   hosts: policy own_hosts, logged virtual hosts, the site name; inferred only when none is
--   known; kinds from the Matomo list). count_visitors is carried over on an anonymised day.
with counted as (
    select
        referrer_host,
        referrer_kind,
        referrer_name,
        count(*) as count_requests,
        count(*) filter (where is_page_view and not is_bot) as count_page_views,
        count(*) filter (where is_bot) as count_bot_requests,
        count(distinct visitor_key) as count_visitors
    from day_referrers()
    where referrer_kind not in ('internal', 'none')
    group by all
),

final as (
    select *, $built_at::timestamptz as built_at
    from carried_figures('counted', ['referrer_host', 'referrer_kind', 'referrer_name'], '[{
        "referrer_host": "VARCHAR", "referrer_kind": "VARCHAR", "referrer_name": "VARCHAR", "count_visitors": "BIGINT"
    }]')
    order by count_requests desc, referrer_host
)

select * from final
