-- The columns of a set of Parquet files read together by name, and their types: the result has
-- no rows, its schema is the answer (which columns hold text, for the IP scan).
-- Grain: none (no rows).
-- Parameters: $files.
select * from read_parquet($files, union_by_name = true) limit 0
