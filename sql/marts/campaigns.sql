-- Campaigns: traffic tagged with utm_source / utm_medium / utm_campaign in the query string.
-- Grain: one row per site, local day and (utm_source, utm_medium, utm_campaign); requests
--   without any of the three are left out. Values are URL-decoded ('+' is a space), source and
--   medium in lower case, each cut to 200 characters.
-- Parameters: $built_at; the day's requests from the staging macros (sql/staging/). Anonymisation
--   drops the query string, so on an anonymised day the rows are carried over from the previous
--   build and those received since added on top (docs/marts.md).
with considered as (
    select query, is_bot, is_page_view, anonymized_at
    from day_requests()
    where is_new
),

parameters as (
    select
        nullif(regexp_extract(query, '(?:^|&)utm_source=([^&]*)', 1), '') as raw_source,
        nullif(regexp_extract(query, '(?:^|&)utm_medium=([^&]*)', 1), '') as raw_medium,
        nullif(regexp_extract(query, '(?:^|&)utm_campaign=([^&]*)', 1), '') as raw_campaign,
        is_bot,
        is_page_view
    from considered
    where query is not null
),

decoded as (
    select
        left(lower(trim(coalesce(try(url_decode(replace(raw_source, '+', ' '))), raw_source))), 200) as utm_source,
        left(lower(trim(coalesce(try(url_decode(replace(raw_medium, '+', ' '))), raw_medium))), 200) as utm_medium,
        left(trim(coalesce(try(url_decode(replace(raw_campaign, '+', ' '))), raw_campaign)), 200) as utm_campaign,
        is_bot,
        is_page_view
    from parameters
    where coalesce(raw_source, raw_medium, raw_campaign) is not null
),

counted as (
    select
        utm_source,
        utm_medium,
        utm_campaign,
        count(*) as count_requests,
        count(*) filter (where is_page_view and not is_bot) as count_page_views,
        count(*) filter (where is_bot) as count_bot_requests
    from decoded
    group by utm_source, utm_medium, utm_campaign
),

final as (
    select
        * replace (approximate_after((select bool_or(anonymized_at is not null) from considered)) as is_approximate),
        $built_at::timestamptz as built_at
    from carried_figures('counted', ['utm_source', 'utm_medium', 'utm_campaign'], '[{
        "utm_source": "VARCHAR", "utm_medium": "VARCHAR", "utm_campaign": "VARCHAR", "count_requests": "BIGINT",
        "count_page_views": "BIGINT", "count_bot_requests": "BIGINT"
    }]')
    order by count_requests desc, utm_source, utm_medium, utm_campaign
)

select * from final
