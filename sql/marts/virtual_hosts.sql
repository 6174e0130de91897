-- Virtual hosts: a log that names the host of each request (%v, $host, vcombined) serves several
-- sites; each host's traffic and visitors (GoAccess's virtual-hosts panel).
-- Grain: one row per site, local day and virtual host as logged (lower case; NULL: the format
--   logs none). With ingest's option that makes each host a site, there is one host per site.
-- Parameters: $built_at; the day's requests from the staging macros (sql/staging/).
--   A host that is an IP address (a client asking for the server by address; a scanner) is kept as
--   the one value '(an IP address)': marts keep no IP-like value (docs/lake.md, "What the audit checks").
--   count_visitors (GoAccess's key, 4xx left out) is carried over on an anonymised day.
with hosts as (
    select
        * replace (
            case
                when regexp_full_match(
                        vhost, '\[?[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}(:[0-9]{1,3}(\.[0-9]{1,3}){3})?\]?(:[0-9]+)?')
                    or regexp_full_match(vhost, '[0-9]{1,3}(\.[0-9]{1,3}){3}(:[0-9]+)?')
                    then '(an IP address)'
                else vhost
            end as vhost
        )
    from day_requests()
),

counted as (
    select
        vhost,
        count(*) as count_requests,
        count(*) filter (where is_page_view and not is_bot) as count_page_views,
        count(*) filter (where is_bot) as count_bot_requests,
        count(*) filter (where status between 400 and 599) as count_errors,
        sum(bytes) as sum_bytes,
        count(distinct visitor_key) as count_visitors
    from hosts
    group by vhost
),

final as (
    select *, $built_at::timestamptz as built_at
    from carried_figures('counted', ['vhost'], '[{"vhost": "VARCHAR", "count_visitors": "BIGINT"}]')
    order by count_requests desc, vhost
)

select * from final
