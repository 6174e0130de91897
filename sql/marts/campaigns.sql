-- Campaigns: traffic tagged with utm_source / utm_medium / utm_campaign in the query string.
-- Grain: one row per site, UTC day and (utm_source, utm_medium, utm_campaign); requests
--   without any of the three are left out. Values are URL-decoded ('+' is a space),
--   source and medium in lower case, each cut to 200 characters.
-- Parameters: $files, $built_at, $previous, $previous_until, $previous_approximate.
-- Anonymisation drops the query string, so on an anonymised day the rows are carried over
-- from the previous build and those received since added on top (docs/marts.md).
with requests as (
    select query, is_bot, is_page, received_at, anonymized_at
    from read_parquet($files, union_by_name = true)
),

previous as (
    select unnest(from_json($previous, '[{
        "utm_source": "VARCHAR",
        "utm_medium": "VARCHAR",
        "utm_campaign": "VARCHAR",
        "count_requests": "BIGINT",
        "count_page_views": "BIGINT",
        "count_bot_requests": "BIGINT"
    }]'), recursive := true)
),

build as (
    select
        max(received_at) as last_received_at,
        coalesce(bool_or(anonymized_at is not null), false) as has_anonymized_rows
    from requests
),

build_mode as (
    select
        last_received_at,
        has_anonymized_rows and $previous_until::timestamptz is not null as is_carried_over
    from build
),

considered as (
    select requests.*
    from requests
    cross join build_mode
    where not build_mode.is_carried_over or requests.received_at > $previous_until::timestamptz
),

parameters as (
    select
        nullif(regexp_extract(query, '(?:^|&)utm_source=([^&]*)', 1), '') as raw_source,
        nullif(regexp_extract(query, '(?:^|&)utm_medium=([^&]*)', 1), '') as raw_medium,
        nullif(regexp_extract(query, '(?:^|&)utm_campaign=([^&]*)', 1), '') as raw_campaign,
        is_bot,
        is_page
    from considered
    where query is not null
),

decoded as (
    select
        left(lower(trim(coalesce(try(url_decode(replace(raw_source, '+', ' '))), raw_source))), 200) as utm_source,
        left(lower(trim(coalesce(try(url_decode(replace(raw_medium, '+', ' '))), raw_medium))), 200) as utm_medium,
        left(trim(coalesce(try(url_decode(replace(raw_campaign, '+', ' '))), raw_campaign)), 200) as utm_campaign,
        is_bot,
        is_page
    from parameters
    where coalesce(raw_source, raw_medium, raw_campaign) is not null
),

counted as (
    select
        utm_source,
        utm_medium,
        utm_campaign,
        count(*) as count_requests,
        count(*) filter (where is_page) as count_page_views,
        count(*) filter (where is_bot) as count_bot_requests
    from decoded
    group by utm_source, utm_medium, utm_campaign
),

carried as (
    select previous.*
    from previous
    cross join build_mode
    where build_mode.is_carried_over
),

merged as (
    select
        utm_source,
        utm_medium,
        utm_campaign,
        sum(count_requests)::bigint as count_requests,
        sum(count_page_views)::bigint as count_page_views,
        sum(count_bot_requests)::bigint as count_bot_requests
    from (
        select * from counted
        union all by name
        select utm_source, utm_medium, utm_campaign, count_requests, count_page_views, count_bot_requests
        from carried
    )
    group by utm_source, utm_medium, utm_campaign
),

-- approximate when rows counted here had lost their query string, or the carried figures were
approximation as (
    select
        coalesce(bool_or(anonymized_at is not null), false)
            or (build_mode.is_carried_over and coalesce($previous_approximate::boolean, true))
            as is_approximate
    from build_mode
    left join considered on true
    group by build_mode.is_carried_over
),

final as (
    select
        merged.utm_source,
        merged.utm_medium,
        merged.utm_campaign,
        merged.count_requests,
        merged.count_page_views,
        merged.count_bot_requests,
        approximation.is_approximate,
        build_mode.last_received_at,
        $built_at::timestamptz as built_at
    from merged
    cross join approximation
    cross join build_mode
    order by merged.count_requests desc, merged.utm_source, merged.utm_medium, merged.utm_campaign
)

select * from final
