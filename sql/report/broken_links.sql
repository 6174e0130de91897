-- Report query `broken_links` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per 404 path and referring page of the site or host of another site, the $top most hit

select
    referrer_kind,
    referrer_host,
    referrer_path,
    path,
    sum(count_requests) as requests,
    sum(count_bot_requests) as bot_requests,
    bool_or(is_approximate) as is_approximate,
    count(*) over () as total_rows
from selected('broken_links')
where referrer_kind in ('internal', 'inbound')
group by all
order by referrer_kind desc, requests desc, path, referrer_host, referrer_path
limit $top;
