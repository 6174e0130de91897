-- Exact percentiles of the response time in bounded memory (DuckDB table macro, created once per build
-- connection): the same values as quantile_cont(response_time_ms, q) for q = 0.5, 0.95, 0.99 (linear
-- interpolation between the two nearest ranks, low * (1 - d) + high * d as DuckDB computes it), but computed from the count of each distinct value per
-- group (a hash aggregate) ranked by a window over those values (a sort): both spill to disk under the
-- connection's memory limit, where quantile_cont keeps every value of a group in memory (20M values
-- a day would not fit a small worker; docs/performance.md).
--
-- Grain: response_percentiles: one row per group.
--
-- response_percentiles(source): `source` names a relation (a CTE) with the columns percentile_group
-- (any type: one group per value) and response_time_ms; rows without a time are left out, and a group
-- without any has no row (quantile_cont would give NULL: join with a left join). Columns:
-- percentile_group, p50_response_ms, p95_response_ms, p99_response_ms.

create or replace macro response_percentiles(source) as table
    with counted as (
        select percentile_group, response_time_ms as value_ms, count(*) as copies
        from query_table(source)
        where response_time_ms is not null
        group by all
    ),

    ranked as (  -- upto: how many values of the group are <= this one; total: how many it has
        select
            percentile_group,
            value_ms,
            sum(copies) over (partition by percentile_group order by value_ms
                              rows between unbounded preceding and current row) as upto,
            sum(copies) over (partition by percentile_group) as total
        from counted
    ),

    ranks as (  -- (total - 1) * q in double precision, as quantile_cont computes it
        select *, (total - 1)::double * 0.5::double as rank_50, (total - 1)::double * 0.95::double as rank_95,
            (total - 1)::double * 0.99::double as rank_99
        from ranked
    ),

    bounds as (  -- the values at the ranks floor and ceil of (total - 1) * q (0-based)
        select
            percentile_group,
            any_value(rank_50) as rank_50,
            any_value(rank_95) as rank_95,
            any_value(rank_99) as rank_99,
            min(value_ms) filter (where upto > floor(rank_50)) as low_50,
            min(value_ms) filter (where upto > ceil(rank_50)) as high_50,
            min(value_ms) filter (where upto > floor(rank_95)) as low_95,
            min(value_ms) filter (where upto > ceil(rank_95)) as high_95,
            min(value_ms) filter (where upto > floor(rank_99)) as low_99,
            min(value_ms) filter (where upto > ceil(rank_99)) as high_99
        from ranks
        group by percentile_group
    )

    select
        percentile_group,
        low_50 * (1 - (rank_50 - floor(rank_50))) + high_50 * (rank_50 - floor(rank_50)) as p50_response_ms,
        low_95 * (1 - (rank_95 - floor(rank_95))) + high_95 * (rank_95 - floor(rank_95)) as p95_response_ms,
        low_99 * (1 - (rank_99 - floor(rank_99))) + high_99 * (rank_99 - floor(rank_99)) as p99_response_ms
    from bounds;
