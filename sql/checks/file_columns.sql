-- Every field of every Parquet file (nested ones too), from the footers alone: for the audit to
-- check that each file can be read, has the columns of its dataset and no personal column.
-- Grain: one row per file and schema field (the schema's root left out).
-- Parameters: $files.
with fields as (
    select file_name as filename, name as column_name
    from parquet_schema($files)
    where repetition_type is not null
),

final as (
    select distinct filename, column_name from fields order by filename, column_name
)

select * from final
