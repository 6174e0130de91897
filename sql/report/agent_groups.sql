-- Report query `agent_groups` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per agent group (person, crawler, feed_reader, monitor, scanner, script, other_bot)

select
    agent_group,
    bool_or(is_bot) as is_bot,
    sum(count_requests) as requests,
    sum(count_page_views) + sum(count_bot_page_views) as page_requests,
    sum(sum_bytes) as bytes,
    sum(count_visitors) as visitors
from selected('clients')
group by agent_group
order by is_bot, requests desc, agent_group;
