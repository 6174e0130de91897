-- Report query `clients` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per dimension ('browser', 'os', 'device') and value, human traffic only

select
    case
        when grouping(browser) = 0 then 'browser'
        when grouping(os) = 0 then 'os'
        else 'device'
    end as dimension,
    coalesce(browser, os, device, 'Unknown') as value,
    sum(count_requests) as requests,
    sum(count_page_views) as page_views
from (
    select
        coalesce(browser, 'Unknown') as browser,
        coalesce(os, 'Unknown') as os,
        coalesce(device, 'Unknown') as device,
        count_requests,
        count_page_views
    from selected('clients')
    where not is_bot
)
group by grouping sets ((browser), (os), (device))
order by dimension, page_views desc, requests desc, value;
