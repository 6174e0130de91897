-- Rules P1 and A4: IP-like tokens in the text columns of rows that must hold none: rows anonymised
-- (anonymized_at) or scrubbed (scrubbed_at), and, unless $marked_only (a dataset whose unmarked rows
-- past the deadline other checks report), rows past their deadline: the earlier of request and receive
-- time (T3) or, for a file without either (a mart), the end of its partition's day (two days after
-- its date: a mart's day may be a local one), plus the limit.
-- Grain: one row per file, a count of matching rows per scanned column.
-- Parameters: $files, $columns (the text columns to scan), $pattern (RE2), $marked_only, $now, $max_age_us.
with stored as (
    select * from read_parquet($files, union_by_name = true, filename = true)
),

clocked as (  -- each store has its own clock columns; the ones it lacks are NULL
    select * from stored
    union all by name
    select
        null::timestamptz as ts,
        null::timestamptz as received_at,
        null::timestamptz as anonymized_at,
        null::timestamptz as scrubbed_at
    where false
),

due as (
    select *
    from clocked
    where
        coalesce(anonymized_at, scrubbed_at) is not null
        or not $marked_only and coalesce(
            least(ts, received_at),
            try_strptime(regexp_extract(filename, 'date=(\d{4}-\d{2}-\d{2})', 1) || ' +0000', '%Y-%m-%d %z')
            + interval 2 day
        ) + to_microseconds($max_age_us) < $now
),

distinct_values as (  -- each combination of values once, with its rows: text columns repeat a lot
    select filename, columns(lambda c: list_contains($columns, c)), count(*) as count_rows
    from due
    group by all
),

final as (
    select
        filename,
        sum(
            count_rows
            * coalesce(regexp_matches(columns(lambda c: list_contains($columns, c))::varchar, $pattern), false)::integer
        )
    from distinct_values
    group by filename
    order by filename
)

select * from final
