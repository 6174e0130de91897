-- Report query `visits` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per is_bot and visit duration bucket

select
    is_bot,
    duration_bucket,
    min(duration_from_s) as duration_from_s,
    sum(count_visits) as visits,
    sum(count_bounces) as bounces,
    sum(count_page_views) as page_views,
    sum(sum_duration_s) as duration_s,
    bool_or(is_approximate) as is_approximate
from selected('visits')
group by is_bot, duration_bucket
order by is_bot, duration_from_s;
