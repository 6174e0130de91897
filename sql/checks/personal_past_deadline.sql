-- Rule P1: rows whose personal columns are still set after their hard deadline.
-- Grain: one row per file that holds at least one such row.
-- Parameters: $files (Parquet paths of requests/ or held/), $now (timestamptz),
--   $max_age_us (hard limit in microseconds), $exempt (incident ids of active holds),
--   $kept (network addresses that truncate mode keeps on anonymised rows, rule A1; else empty).
-- The deadline of a row is the earlier of request and receive time plus the limit (T3).
with requests as (
    select
        filename,
        ts,
        received_at,
        client_ip,
        session_id,
        remote_user,
        forwarded_for,
        anonymized_at,
        regexp_extract(filename, 'incident=([^/]+)', 1) as incident_id
    from read_parquet($files, union_by_name = true, filename = true)
),

violations as (
    select
        filename,
        count(*) as count_rows,
        min(least(ts, received_at)) as oldest_at
    from requests
    where
        (
            coalesce(session_id, remote_user, forwarded_for) is not null
            or (client_ip is not null and (anonymized_at is null or not list_contains($kept, client_ip)))
        )
        and least(ts, received_at) + to_microseconds($max_age_us) < $now
        and not list_contains($exempt, incident_id)
    group by filename
),

final as (
    select * from violations order by filename
)

select * from final
