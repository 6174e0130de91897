-- Report query `exit_pages` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per page that ends visits of people, the $top most frequent

select
    path,
    sum(count_exits) as exits,
    sum(count_exit_visitors) as visitors,
    bool_or(is_approximate) as is_approximate
from selected('entry_exit_pages')
where not is_bot
group by path
having sum(count_exits) > 0
order by exits desc, path
limit $top;
