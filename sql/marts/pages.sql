-- Top pages: page views by page (the decoded path), with the visitors who viewed them.
-- Grain: one row per site, local day and page with a page view (of people or of automated clients).
-- Parameters: $built_at; the day's requests from the staging macros (sql/staging/). A page view:
--   a non-static request (is_page) answered 2xx or 304, method GET or POST; count_page_views are
--   those of people, count_bot_page_views those of automated clients (docs/marts.md).
--   count_visitors (people, GoAccess's key) is carried over on an anonymised day.
with counted as (
    select
        page as path,
        count(*) filter (where not is_bot) as count_page_views,
        count(*) filter (where is_bot) as count_bot_page_views,
        count(distinct visitor_key) filter (where not is_bot) as count_visitors,
        sum(bytes) as sum_bytes
    from day_requests()
    where is_page_view
    group by page
),

final as (
    select *, $built_at::timestamptz as built_at
    from carried_figures('counted', ['path'], '[{"path": "VARCHAR", "count_visitors": "BIGINT"}]')
    order by count_page_views desc, count_bot_page_views desc, path
)

select * from final
