-- Rule P4: the rows of each file by the ingested file they come from (the file key, the part of
-- row_id before ':'), with their first and last source line (the part after it): the audit sums
-- the rows per site and file key to compare with the ledger, and looks for duplicated rows only
-- among files whose lines of a file key overlap. A row_id without a readable line number widens
-- its file key's range to every line.
-- Grain: one row per file and file key.
-- Parameters: $files (Parquet files of requests/ and held/, or of rejects/).
with stored as (
    select
        filename,
        split_part(row_id, ':', 1) as file_key,
        try_cast(split_part(row_id, ':', 2) as bigint) as source_line
    from read_parquet($files, union_by_name = true, filename = true)
),

counted as (
    select
        filename,
        file_key,
        count(*) as count_rows,
        if(count(source_line) < count(*), 0, min(source_line)) as first_line,
        if(count(source_line) < count(*), 9223372036854775807, max(source_line)) as last_line
    from stored
    group by filename, file_key
),

final as (
    select * from counted order by filename, file_key
)

select * from final
