-- Rules P1 and A4 on rejected lines, and the facts the manifest of verified files keeps of each
-- rejects file (accesslake.storage.manifest): its lines, the earliest receive time of the lines
-- not yet scrubbed (their request time is unknown, so the deadline counts from it: T3), and the
-- unscrubbed lines past the hard deadline at $now.
-- Grain: one row per file that holds lines.
-- Parameters: $files, $now, $max_age_us.
with rejects as (
    select filename, received_at, scrubbed_at from read_parquet($files, union_by_name = true, filename = true)
),

facts as (
    select
        filename,
        count(*) as count_rows,
        min(received_at) filter (where scrubbed_at is null) as unscrubbed_since,
        count(*) filter (where scrubbed_at is null and received_at + to_microseconds($max_age_us) < $now)
            as count_past_deadline
    from rejects
    group by filename
),

final as (
    select * from facts order by filename
)

select * from final
