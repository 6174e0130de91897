-- Report query `clients` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per dimension ('browser', 'os', 'device') and value, people only

select
    case
        when grouping(browser) = 0 then 'browser'
        when grouping(os) = 0 then 'os'
        else 'device'
    end as dimension,
    coalesce(browser, os, device, 'Unknown') as value,
    sum(count_requests) as requests,
    sum(count_page_views) as page_views,
    sum(count_visitors) as visitors
from (
    select
        coalesce(browser, 'Unknown') as browser,
        coalesce(os, 'Unknown') as os,
        coalesce(device, 'Unknown') as device,
        count_requests,
        count_page_views,
        count_visitors
    from selected('clients')
    where not is_bot
)
group by grouping sets ((browser), (os), (device))
order by dimension, page_views desc, requests desc, value;
