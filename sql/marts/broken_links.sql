-- Broken links: 404s by page and where the link was (a page of the site, another site, none).
-- Grain: one row per site, local day, path answered 404, referrer_kind, referrer_host and referrer_path.
-- Parameters: $built_at; requests with their referrer's kind from sql/staging/referrers.sql.
--   referrer_kind: 'internal' (the referrer is one of the site's own hosts), 'inbound' (another
--   site links to a missing page) or 'none'. referrer_path (the decoded path of the referring
--   page, without query) is kept for internal links only: it is the page to fix, and other
--   sites' paths may carry personal data. Anonymisation cuts the referrer to its origin, so on
--   an anonymised day the rows are carried over and those received since added (docs/marts.md).
with not_found as (
    select
        page as path,
        referrer_host,
        is_bot,
        anonymized_at,
        case referrer_kind when 'internal' then 'internal' when 'none' then 'none' else 'inbound' end
            as referrer_kind,
        regexp_extract(referrer, '^[A-Za-z][A-Za-z0-9+.\-]*://[^/?#]*(/[^?#]*)?', 1) as referrer_target
    from day_referrers()
    where status = 404 and is_new
),

counted as (
    select
        path,
        referrer_kind,
        referrer_host,
        case
            when referrer_kind <> 'internal' or anonymized_at is not null then null
            else decode_path(coalesce(nullif(referrer_target, ''), '/'))
        end as referrer_path,
        count(*) as count_requests,
        count(*) filter (where is_bot) as count_bot_requests,
        count(*) filter (where referrer_kind = 'internal' and anonymized_at is not null) as count_lost_paths
    from not_found
    group by all
),

final as (
    select
        * exclude (count_lost_paths)
            replace (approximate_after((select sum(count_lost_paths) > 0 from counted)) as is_approximate),
        $built_at::timestamptz as built_at
    from carried_figures('counted', ['path', 'referrer_kind', 'referrer_host', 'referrer_path'], '[{
        "path": "VARCHAR", "referrer_kind": "VARCHAR", "referrer_host": "VARCHAR", "referrer_path": "VARCHAR",
        "count_requests": "BIGINT", "count_bot_requests": "BIGINT"
    }]')
    order by count_requests desc, path, referrer_kind, referrer_host, referrer_path
)

select * from final
