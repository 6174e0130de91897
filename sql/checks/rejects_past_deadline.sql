-- Rules P1 and A4 on rejected lines: unscrubbed lines past their deadline,
-- counted from the receive time because their request time is unknown (T3).
-- Grain: one row per rejects file with at least one such line.
-- Parameters: $files, $now, $max_age_us.
with rejects as (
    select filename, received_at, scrubbed_at from read_parquet($files, union_by_name = true, filename = true)
),

violations as (
    select filename, count(*) as count_rows, min(received_at) as oldest_at
    from rejects
    where scrubbed_at is null and received_at + to_microseconds($max_age_us) < $now
    group by filename
),

final as (
    select * from violations order by filename
)

select * from final
