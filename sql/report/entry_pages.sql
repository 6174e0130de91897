-- Report query `entry_pages` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per page that starts visits of people, the $top most frequent

select
    path,
    sum(count_entries) as entries,
    sum(count_bounces) as bounces,
    sum(count_bounces) / nullif(sum(count_entries), 0) as bounce_rate,
    sum(count_entry_visitors) as visitors,
    bool_or(is_approximate) as is_approximate
from selected('entry_exit_pages')
where not is_bot
group by path
having sum(count_entries) > 0
order by entries desc, path
limit $top;
