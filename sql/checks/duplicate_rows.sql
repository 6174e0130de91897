-- Rule P4: a request is stored once, in the main dataset or in held/, never twice.
-- Grain: one row per duplicated row_id.
-- Parameters: $files (every Parquet file of requests/ and held/).
-- Duplicates are looked for by hash first (cheap to group), then confirmed by row_id.
with stored as (
    select row_id, filename from read_parquet($files, union_by_name = true, filename = true)
),

repeated_hashes as (
    select hash(row_id) as row_hash from stored group by row_hash having count(*) > 1
),

duplicates as (
    select row_id, count(*) as count_copies, list(filename order by filename) as files
    from stored
    where hash(row_id) in (select row_hash from repeated_hashes)
    group by row_id
    having count(*) > 1
),

final as (
    select * from duplicates order by row_id
)

select * from final
