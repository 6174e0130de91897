-- Bandwidth by content type: the lower-case file extension of the path, or 'page' for a
-- path without one or with a page extension (html, htm, xhtml, shtml, php, asp, aspx, jsp,
-- cgi). Unlike is_page this shows downloads (jar, deb, iso...) apart from pages.
-- Grain: one row per site, local day and content type.
-- Parameters: $built_at; the day's requests from the staging macros (sql/staging/).
with requests as (
    select path, bytes, is_bot
    from day_requests()
),

extensions as (
    select
        nullif(lower(regexp_extract(path, '\.([A-Za-z0-9]{1,10})$', 1)), '') as extension,
        bytes,
        is_bot
    from requests
),

typed as (
    select
        case
            when extension is null or extension in ('html', 'htm', 'xhtml', 'shtml', 'php', 'asp', 'aspx', 'jsp', 'cgi')
                then 'page'
            else extension
        end as content_type,
        bytes,
        is_bot
    from extensions
),

final as (
    select
        content_type,
        count(*) as count_requests,
        count(*) filter (where is_bot) as count_bot_requests,
        coalesce(sum(bytes), 0) as sum_bytes,
        coalesce(max(bytes), 0)::bigint as max_bytes,
        $built_at::timestamptz as built_at
    from typed
    group by content_type
    order by sum_bytes desc, content_type
)

select * from final
