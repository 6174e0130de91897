-- Rule A1 in truncate mode: the client addresses still stored on anonymised rows,
-- for the audit to check that each is a network address of the kept prefix.
-- Grain: one row per distinct client_ip.
-- Parameters: $files (Parquet paths of requests/ and held/).
with anonymised as (
    select client_ip
    from read_parquet($files, union_by_name = true)
    where anonymized_at is not null and client_ip is not null
),

final as (
    select distinct client_ip from anonymised order by client_ip
)

select * from final
