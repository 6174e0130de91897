-- Report query `crawlers` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per automated client family (agent group and browser family), the $top busiest

select
    agent_group,
    coalesce(browser, 'Unknown') as crawler,
    sum(count_requests) as requests,
    sum(count_bot_page_views) as page_requests,
    sum(sum_bytes) as bytes,
    count(*) over () as total_rows
from selected('clients')
where is_bot
group by agent_group, crawler
order by requests desc, agent_group, crawler
limit $top;
