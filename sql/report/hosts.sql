-- Report query `hosts` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per site and virtual host (NULL: not logged)

select
    site,
    vhost,
    sum(count_requests) as requests,
    sum(count_page_views) as page_views,
    sum(count_visitors) as visitors,
    sum(count_errors) as errors,
    sum(sum_bytes) as bytes
from selected('virtual_hosts')
group by site, vhost
order by requests desc, site, vhost;
