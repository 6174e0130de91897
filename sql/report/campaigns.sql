-- Report query `campaigns` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per (utm_source, utm_medium, utm_campaign), the $top with most requests

select
    utm_source,
    utm_medium,
    utm_campaign,
    sum(count_requests) as requests,
    sum(count_page_views) as page_views,
    sum(count_bot_requests) as bot_requests,
    bool_or(is_approximate) as is_approximate
from selected('campaigns')
group by utm_source, utm_medium, utm_campaign
order by requests desc, utm_source nulls last, utm_medium nulls last, utm_campaign nulls last
limit $top;
