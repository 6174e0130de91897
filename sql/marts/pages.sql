-- Top pages: page views by path (assets excluded: is_page, by path extension).
-- Grain: one row per site, UTC day and path of a page view.
-- Parameters: $files (Parquet files of the day from requests/ and held/), $built_at.
with requests as (
    select path, status, bytes, is_bot, is_page
    from read_parquet($files, union_by_name = true)
),

final as (
    select
        path,
        count(*) as count_page_views,
        count(*) filter (where not is_bot) as count_human_page_views,
        count(*) filter (where is_bot) as count_bot_page_views,
        count(*) filter (where status between 400 and 599) as count_errors,
        coalesce(sum(bytes), 0)::bigint as sum_bytes,
        $built_at::timestamptz as built_at
    from requests
    where is_page
    group by path
    order by count_page_views desc, path
)

select * from final
