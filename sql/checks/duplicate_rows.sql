-- Rule P4: a request is stored once, in the main dataset or in held/, never twice.
-- Grain: one row per duplicated row_id.
-- Parameters: $files (every Parquet file of requests/ and held/).
with stored as (
    select row_id, filename from read_parquet($files, filename = true)
),

duplicates as (
    select row_id, count(*) as count_copies, list(filename order by filename) as files
    from stored
    group by row_id
    having count(*) > 1
),

final as (
    select * from duplicates order by row_id
)

select * from final
