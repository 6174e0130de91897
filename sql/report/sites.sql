-- Report query `sites` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per site with built marts, whatever the selection, with the zone of its days

select site, min(date) as first_day, max(date) as last_day, max(time_zone) as time_zone
from daily_traffic
group by site
order by site;
