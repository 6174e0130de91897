-- Report query `search_engines` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per search engine

select
    search_engine,
    sum(count_page_views) as page_views,
    sum(count_requests) as requests,
    sum(count_bot_requests) as bot_requests,
    sum(count_visitors) as visitors,
    max(count_referrer_hosts) as referrer_hosts
from selected('search_engines')
group by search_engine
order by page_views desc, requests desc, search_engine;
