-- Rules A2-A3 on rows marked anonymised: the query string and the raw user agent are gone and the
-- referrer is at most an origin (scheme://host[:port]). Addresses, sessions, users and forwarded
-- addresses are checked against the deadline (personal_past_deadline), other text by the IP scan.
-- Grain: one row per file with at least one such row.
-- Parameters: $files (Parquet paths of requests/ or held/).
with anonymised as (
    select filename, query, user_agent, referrer
    from read_parquet($files, union_by_name = true, filename = true)
    where anonymized_at is not null
),

counted as (
    select
        filename,
        count(*) filter (where query is not null) as count_query,
        count(*) filter (where user_agent is not null) as count_user_agent,
        count(*) filter (
            where referrer is not null and not regexp_full_match(referrer, '[A-Za-z][A-Za-z0-9+.-]*://[^/?#@]*')
        ) as count_referrer
    from anonymised
    group by filename
),

final as (
    select * from counted
    where count_query + count_user_agent + count_referrer > 0
    order by filename
)

select * from final
