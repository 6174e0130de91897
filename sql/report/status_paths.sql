-- Report query `status_paths` (accesslake.analytics.report), over the analyst views and the
-- report's selection (sql/report/selection.sql).
--
-- Grain: one row per status class ('3xx' without 304, '404', '4xx' other than 404, '5xx') and
-- path, the $top most requested of each group

select * from (
    select
        case
            when status = 404 then '404'
            when status >= 500 then '5xx'
            when status >= 400 then '4xx'
            else '3xx'
        end as kind,
        path,
        string_agg(distinct status::varchar, ', ' order by status::varchar) as statuses,
        sum(count_requests) as requests,
        sum(count_bot_requests) as bot_requests,
        sum(count_visitors) as visitors,
        max(max_response_ms) as max_response_ms
    from selected('status_paths')
    where status <> 304
    group by kind, path
)
qualify row_number() over (partition by kind order by requests desc, path) <= $top
order by kind, requests desc, path;
