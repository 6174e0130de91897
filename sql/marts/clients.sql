-- Browsers, operating systems, devices and who sent the requests (agent groups), with visitors.
-- Grain: one row per site, local day and (browser, browser_version, os, os_version, device,
--   agent_group, is_bot). Automated traffic: the rows with is_bot, by agent_group (crawler,
--   feed_reader, monitor, scanner, script, other_bot) and browser family.
-- Parameters: $built_at; the day's requests from the staging macros (sql/staging/). A user agent
--   determines every key column, so visitors add up over rows. count_visitors is carried over on
--   an anonymised day (docs/marts.md, "Late data").
with counted as (
    select
        browser,
        browser_version,
        os,
        os_version,
        device,
        agent_group,
        is_bot,
        count(*) as count_requests,
        count(*) filter (where is_page_view and not is_bot) as count_page_views,
        count(*) filter (where is_page_view and is_bot) as count_bot_page_views,
        sum(bytes) as sum_bytes,
        count(distinct visitor_key) as count_visitors
    from day_requests()
    group by all
),

final as (
    select *, $built_at::timestamptz as built_at
    from carried_figures(
        'counted', ['browser', 'browser_version', 'os', 'os_version', 'device', 'agent_group', 'is_bot'], '[{
            "browser": "VARCHAR", "browser_version": "VARCHAR", "os": "VARCHAR", "os_version": "VARCHAR",
            "device": "VARCHAR", "agent_group": "VARCHAR", "is_bot": "BOOLEAN", "count_visitors": "BIGINT"
        }]')
    order by count_requests desc, browser, browser_version, os, os_version, device, agent_group, is_bot
)

select * from final
