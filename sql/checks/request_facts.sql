-- Rule P1 on requests/ and held/, and the facts the manifest of verified files keeps of each file
-- (accesslake.storage.manifest): its rows; the earliest request-or-receive time (T3) of the rows
-- still personal (the audit's deadline) and of the rows not yet anonymised (retention's); and
-- the personal rows past their hard deadline at $now (P1 violations unless the file is in an
-- active hold, which the audit decides).
-- Grain: one row per file that holds rows.
-- Parameters: $files (Parquet paths of requests/ or held/), $now (timestamptz), $max_age_us (hard
--   limit in microseconds), $kept (network addresses that truncate mode keeps on anonymised rows,
--   rule A1; else empty).
-- A row is personal while it keeps a session id, user or forwarded address, or an address: any
-- before anonymisation, after it any but a kept network.
with requests as (
    select
        filename,
        least(ts, received_at) as base_at,
        anonymized_at,
        coalesce(session_id, remote_user, forwarded_for) is not null
        or (client_ip is not null and (anonymized_at is null or not list_contains($kept, client_ip))) as is_personal
    from read_parquet($files, union_by_name = true, filename = true)
),

facts as (
    select
        filename,
        count(*) as count_rows,
        min(base_at) filter (where is_personal) as personal_since,
        min(base_at) filter (where anonymized_at is null) as pending_since,
        count(*) filter (where is_personal and base_at + to_microseconds($max_age_us) < $now)
            as count_past_deadline
    from requests
    group by filename
),

final as (
    select * from facts order by filename
)

select * from final
