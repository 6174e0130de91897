-- The requests abuse detection reads: one site and UTC day, rows still personal and in time.
-- Grain: one row per request of requests/site=<site>/date=<day> whose client_ip is still there,
--   not anonymised, and whose least(ts, received_at) is after $cutoff.
-- Parameters:
--   $files     Parquet files of requests/site=<site>/date=<day> (the main dataset only; rows
--              already in held/ are under investigation anyway)
--   $cutoff    rows with least(ts, received_at) at or before it are past anonymize_after and
--              are left out: a candidate only ever holds IPs of rows still in their time
-- accesslake.forensics.candidates runs it once per site and day into the temp table
-- day_requests, which form_abuse.sql, credential_probes.sql and abuse_candidates.sql read.

with stored as (
    select
        row_id, ts, received_at, client_ip, method, path, query, status, referrer, user_agent, is_page,
        anonymized_at
    from read_parquet($files, union_by_name = true)
),

final as (
    select * exclude (anonymized_at)
    from stored
    where
        client_ip is not null
        and anonymized_at is null
        and least(ts, received_at) > $cutoff
)

select * from final
