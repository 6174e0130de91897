-- Rule P4 accounting: rows stored per ingested file, to compare with the ledger.
-- Grain: one row per site and file key (the prefix of row_id).
-- Parameters: $files (Parquet files of one dataset: requests+held, or rejects).
with stored as (
    select
        split_part(row_id, ':', 1) as file_key,
        regexp_extract(filename, 'site=([^/]+)', 1) as site
    from read_parquet($files, union_by_name = true, filename = true)
),

final as (
    select site, file_key, count(*) as count_rows
    from stored
    group by site, file_key
    order by site, file_key
)

select * from final
