"""Analyst views: a DuckDB connection over the lake, and the headline for ``accesslake stats``.

:func:`connect` opens an in-memory DuckDB connection, sets the variable
``lake`` and runs ``sql/views.sql``, which defines:

- ``requests``: the main dataset without ``client_ip``, ``session_id``,
  ``remote_user`` and ``forwarded_for`` (analysts never see IPs, and never
  read ``held/``);
- one view per mart, named like the mart (``daily_traffic``, ``pages``, ...).

The same file works in the DuckDB shell (``SET VARIABLE lake = '...'`` then
``.read sql/views.sql``). A dataset without files yet gives an empty view with
the right columns.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from accesslake import lake as lakefs
from accesslake.errors import AccesslakeError, ConfigError
from accesslake.marts import read_mart
from accesslake.sqlfiles import read_sql

__all__ = ["HIDDEN_COLUMNS", "connect", "headline_stats", "run_sql"]

#: Columns of requests/ that the analyst ``requests`` view leaves out: the personal
#: ones, and those that fingerprint or may carry personal data (raw user agent, query,
#: full referrer; the view keeps ``referrer_host``).
HIDDEN_COLUMNS = ("client_ip", "session_id", "remote_user", "forwarded_for", "user_agent", "query", "referrer")

_STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")


def connect(lake: Path, *, forensic: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the analyst views over ``lake``."""
    if forensic:
        raise NotImplementedError("forensic views: issue 5")
    lake = lakefs.as_lake(lake)
    con = lakefs.connect(lake)
    try:
        con.execute("set TimeZone = 'UTC'").fetchall()
        con.execute("set variable lake = $lake", {"lake": lakefs.uri(lake)}).fetchall()
        for statement in con.extract_statements(read_sql("views")):
            con.execute(statement).fetchall()
    except duckdb.Error as exc:
        con.close()
        raise AccesslakeError(f"sql/views.sql: cannot define the views over {lake}: {exc}") from exc
    return con


def run_sql(lake: Path, text: str) -> pl.DataFrame:
    """Run one query against the analyst views and return its result."""
    con = connect(lake)
    try:
        try:
            relation = con.sql(text)
        except duckdb.Error as exc:
            raise ConfigError(f"query failed: {exc}") from exc
        if relation is None:
            return pl.DataFrame()
        return pl.DataFrame(pl.from_arrow(relation.to_arrow_table()))
    finally:
        con.close()


def _totals(frame: pl.DataFrame) -> dict[str, Any]:
    def total(column: str) -> int:
        return int(frame[column].sum()) if frame.height else 0

    requests = total("count_requests")
    errors = total("count_4xx") + total("count_5xx")
    return {
        "requests": requests,
        "page_views": total("count_page_views"),
        "visits": total("count_visits"),
        "unique_visitors": total("count_unique_visitors"),
        "bytes": total("sum_bytes"),
        "status": {cls: total(f"count_{cls}") for cls in _STATUS_CLASSES},
        "error_rate": errors / requests if requests else None,
        "bot_share": total("count_bot_requests") / requests if requests else None,
        "is_approximate": bool(frame["is_approximate"].any()) if frame.height else False,
    }


def headline_stats(
    lake: Path, site: str | None = None, start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    """Headline figures from ``daily_traffic`` for ``site`` (all when None), days start..end inclusive.

    Unique visitors over several days are the sum of the daily figures, as GoAccess
    reports them. ``per_day`` has one entry per site and day.
    """
    frame = read_mart(lake, "daily_traffic")
    if "count_requests" not in frame.columns:  # nothing built yet
        return {"site": site, "start": start, "end": end, "days": 0, **_empty_totals(), "per_day": []}
    if site is not None:
        frame = frame.filter(pl.col("site") == site)
    if start is not None:
        frame = frame.filter(pl.col("date") >= start)
    if end is not None:
        frame = frame.filter(pl.col("date") <= end)
    frame = frame.sort("date", "site")
    per_day = [
        {"site": row["site"], "date": row["date"], **_totals(pl.DataFrame([row], schema=frame.schema))}
        for row in frame.iter_rows(named=True)
    ]
    return {
        "site": site,
        "start": start,
        "end": end,
        "days": frame.select(pl.col("date").n_unique()).item() if frame.height else 0,
        **_totals(frame),
        "per_day": per_day,
    }


def _empty_totals() -> dict[str, Any]:
    return {
        "requests": 0,
        "page_views": 0,
        "visits": 0,
        "unique_visitors": 0,
        "bytes": 0,
        "status": dict.fromkeys(_STATUS_CLASSES, 0),
        "error_rate": None,
        "bot_share": None,
        "is_approximate": False,
    }
