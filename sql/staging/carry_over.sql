-- Carrying figures over to a rebuild of an anonymised day (docs/marts.md, "Late data"), one
-- macro for every mart that needs it (variables as in day_requests.sql).
--
-- Grain: carried_figures: the grain of the mart, one row per value of `keys`; approximate_after: a value.
--
-- carried_figures(counted, keys, shape): the rows of the CTE named `counted` (this build's
-- figures, one row per key: exact counts from every row, personal ones from the rows this
-- build counts), plus, when the build carries figures over (day_build_mode), the previous
-- build's rows (variable build_previous, JSON; `shape` names the key columns and the figures
-- to carry, with their types), summed key by key; then is_approximate and last_received_at of
-- the build. A column `shape` does not name (an exact count, a percentile) is this build's
-- alone: NULL for a key only the previous build has (for most marts: none; campaigns and broken
-- links: the keys of anonymised rows). Integer sums come out as HUGEINT: staging.run_model
-- stores them as BIGINT, saturating at 2^63 - 1 (docs/marts.md, "Sums").

create or replace macro carried_figures(counted, keys, shape) as table
    select merged.*, build_mode.is_approximate, build_mode.last_received_at
    from (
        select
            columns(lambda c: list_contains(keys, c)),
            sum(columns(lambda c: not list_contains(keys, c)))
        from (
            from query_table(counted)
            union all by name
            select unnest(from_json(getvariable('build_previous'), shape), recursive := true)
            from day_build_mode()
            where is_carried_over
        )
        group by all
    ) as merged
    cross join day_build_mode() as build_mode;

-- is_approximate of a mart that only adds request counts (campaigns, broken_links): true when a
-- row counted by this build had lost what the mart reads (`lost`: its query string, its referring
-- page), or when the figures carried over were approximate themselves.
create or replace macro approximate_after(lost) as
    coalesce(lost, false) or coalesce((
        select is_carried_over and coalesce(getvariable('build_previous_approximate')::boolean, true)
        from day_build_mode()
    ), false);
