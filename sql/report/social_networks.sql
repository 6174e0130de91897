-- Report query `social_networks` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per social network or AI assistant (referrer_kind social or ai)

select
    referrer_kind,
    referrer_name,
    sum(count_page_views) as page_views,
    sum(count_requests) as requests,
    sum(count_bot_requests) as bot_requests,
    sum(count_visitors) as visitors
from selected('referrers')
where referrer_kind in ('social', 'ai')
group by referrer_kind, referrer_name
order by page_views desc, requests desc, referrer_name;
