"""Which local days need their marts built again, read from as little as possible (issue 15).

- :func:`holds_requests_between`: from the ``ts`` statistics in a file's footer, can it hold a request
  of a day's window? :func:`accesslake.analytics.marts.days_touched` asks it only of the files newer
  than a day's marts, so a local day at the edge of the data with no request is not built at all.
- :func:`keep_if_unchanged`: the anonymiser rewrites files (and moves rows to held/) after the
  marts of their days were built, which makes those days look stale. When the day still has the
  requests its marts counted (``sql/staging/day_input.sql``: as many, and none received since the
  build), a build would give the same figures: the marts are written again as they are, so that
  they are newer than their input, instead of being computed again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from accesslake import storage as lakefs
from accesslake.analytics.staging import set_variables
from accesslake.storage import LakePath

__all__ = ["holds_requests_between", "keep_if_unchanged"]

_READ_ERRORS = (OSError, ValueError, KeyError, IndexError, pa.ArrowException, pl.exceptions.PolarsError)


def holds_requests_between(path: LakePath, start: datetime, end: datetime,
                           ranges: dict[str, tuple[datetime, datetime] | None]) -> bool:
    """Can ``path`` hold a request with ``start <= ts < end``? From the ``ts`` statistics of its footer
    (read once per ``ranges``, a cache); True when the footer cannot tell."""
    if str(path) not in ranges:
        ranges[str(path)] = _ts_range(path)
    found = ranges[str(path)]
    return found is None or (found[0] < end and found[1] >= start)


def _ts_range(path: LakePath) -> tuple[datetime, datetime] | None:
    """The earliest and latest ``ts`` of a Parquet file from its footer, or None when it cannot tell."""
    try:
        meta = lakefs.parquet_metadata(path)
        index = meta.schema.names.index("ts")
        found = [meta.row_group(g).column(index).statistics for g in range(meta.num_row_groups)]
    except _READ_ERRORS:
        return None
    if not found or any(stats is None or not stats.has_min_max for stats in found):
        return None
    low, high = min(s.min for s in found), max(s.max for s in found)
    if not isinstance(low, datetime) or not isinstance(high, datetime):
        return None
    return (low if low.tzinfo else low.replace(tzinfo=UTC)), (high if high.tzinfo else high.replace(tzinfo=UTC))


def keep_if_unchanged(con: duckdb.DuckDBPyConnection, params: dict[str, Any], marts: dict[str, LakePath]) -> bool:
    """Write the day's marts (``marts``: name -> path, ``daily_traffic`` among them) again as they are when its
    input (``params``: the build's parameters) has the requests they were built from; True when kept."""
    try:
        frames = {name: lakefs.read_parquet(path) for name, path in marts.items()}
    except _READ_ERRORS:
        return False  # a mart missing or unreadable: build
    daily = frames["daily_traffic"]
    if daily.height and not {"count_requests", "last_received_at"} <= set(daily.columns):
        return False
    built = (int(daily["count_requests"].sum()), daily["last_received_at"].max()) if daily.height else (0, None)
    set_variables(con, params)
    count, last = con.execute("select count_requests, last_received_at from day_input()").fetchone() or (0, None)
    if (int(count), last) != built:
        return False
    for name, frame in frames.items():
        lakefs.write_parquet_atomic(frame, marts[name])
    return True
