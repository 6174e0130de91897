-- Browsers, operating systems and devices with their major versions (parsed user agents).
-- Grain: one row per site, UTC day and (browser, browser_version, os, os_version, device, is_bot).
--   Top crawlers: the rows with is_bot, by browser family.
-- Parameters: $files (Parquet files of the day from requests/ and held/), $built_at.
with requests as (
    select browser, browser_version, os, os_version, device, is_bot, is_page, bytes
    from read_parquet($files, union_by_name = true)
),

final as (
    select
        browser,
        browser_version,
        os,
        os_version,
        device,
        is_bot,
        count(*) as count_requests,
        count(*) filter (where is_page) as count_page_views,
        coalesce(sum(bytes), 0)::bigint as sum_bytes,
        $built_at::timestamptz as built_at
    from requests
    group by browser, browser_version, os, os_version, device, is_bot
    order by count_requests desc, browser, browser_version, os, os_version, device, is_bot
)

select * from final
