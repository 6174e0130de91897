"""Headline figures for ``accesslake stats``, from the ``daily_traffic`` mart."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from accesslake.analytics.marts import read_mart
from accesslake.storage import LakePath

__all__ = ["headline_stats"]

_STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")


def _unknown_visitors(frame: pl.DataFrame) -> pl.Expr:
    """Days whose visitor figures are not known: every row had lost its IP before the day was first built
    (an archive ingested past anonymize_after: rule P3 keeps the IPs from ever being stored)."""
    return pl.col("is_approximate") & (pl.col("count_unique_visitors") == 0) & (pl.col("count_requests") > 0)


def _totals(frame: pl.DataFrame) -> dict[str, Any]:
    def total(column: str, rows: pl.DataFrame = frame) -> int:
        # Python integers: a day's sums saturate at 2^63 - 1, so a sum of days may exceed Int64
        return sum(int(value) for value in rows[column].drop_nulls()) if rows.height else 0

    requests = total("count_requests")
    errors = total("count_4xx") + total("count_5xx")
    known = frame.filter(~_unknown_visitors(frame)) if frame.height else frame
    unknown_days = frame.height - known.height
    return {
        "requests": requests,
        "page_views": total("count_page_views"),
        "visits": total("count_visits", known) if known.height else None,
        "unique_visitors": total("count_unique_visitors", known) if known.height else None,
        "visitor_days_unknown": unknown_days,
        "bytes": total("sum_bytes"),
        "status": {cls: total(f"count_{cls}") for cls in _STATUS_CLASSES},
        "error_rate": errors / requests if requests else None,
        "bot_share": total("count_bot_requests") / requests if requests else None,
        "is_approximate": bool(frame["is_approximate"].any()) if frame.height else False,
    }


def headline_stats(
    lake: LakePath, site: str | None = None, start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    """Headline figures from ``daily_traffic`` for ``site`` (all when None), days start..end inclusive.

    Unique visitors over several days are the sum of the daily figures, as GoAccess
    reports them. ``per_day`` has one entry per site and day. ``site``, ``start`` and
    ``end`` are the selection (None: all sites, unbounded); ``first_day`` and ``last_day``
    the days the figures actually cover (None when there are none).
    """
    frame = read_mart(lake, "daily_traffic")
    if "count_requests" not in frame.columns:  # nothing built yet
        return {"site": site, "start": start, "end": end, "first_day": None, "last_day": None, "days": 0,
                **_empty_totals(), "per_day": []}
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
        "first_day": frame["date"].min() if frame.height else None,
        "last_day": frame["date"].max() if frame.height else None,
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
        "visitor_days_unknown": 0,
        "is_approximate": False,
    }
