"""``accesslake marts``, ``stats``, ``sql`` and ``report``: statistics for analysts."""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import Any

from accesslake import storage
from accesslake.analytics import build_marts, headline_stats, run_sql, write_report
from accesslake.cli.app import Context, bounded_int, register
from accesslake.errors import ConfigError

__all__ = ["add_commands", "day"]


def day(value: str | None, option: str) -> date | None:
    """A ``YYYY-MM-DD`` option value as a date (None when not given)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{option}: {value!r} is not a date; write YYYY-MM-DD") from exc


def _marts(args: argparse.Namespace, ctx: Context) -> None:
    storage.check_site(args.site)
    days = [(args.site, day(d, "--day")) for d in args.day] if args.day else None
    with storage.writer_lock(ctx.settings.lake, ctx.wait):
        result = build_marts(ctx.settings, ctx.now, days)  # type: ignore[arg-type]
    ctx.out.emit(result, result.lines())


def _stats(args: argparse.Namespace, ctx: Context) -> None:
    stats = headline_stats(ctx.settings.lake, args.site, day(args.start, "--from"), day(args.end, "--to"))
    rows = [f"{key:>18}: {value}" for key, value in stats.items() if key != "per_day"]
    rows += ["", "per day:"] + [
        f"  {d['date']} {d['site']}: {d['requests']} requests, {d['page_views']} page views, "
        f"{d['visits']} visits, {d['unique_visitors']} visitors, {d['bytes']} bytes" for d in stats["per_day"]
    ]
    ctx.out.emit(stats, rows)


def _sql(args: argparse.Namespace, ctx: Context) -> None:
    if args.forensic:
        from accesslake.forensics.views import run_sql as run_forensic

        frame = run_forensic(ctx.settings.lake, args.query, ctx.now, max_age_hours=ctx.settings.policy.max_age_hours)
    else:
        frame = run_sql(ctx.settings.lake, args.query)
    if ctx.out.as_json:
        ctx.out.write(json.dumps(frame.to_dicts(), indent=2, default=str) + "\n")
    else:
        import polars as pl

        with pl.Config(tbl_rows=args.limit, tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=200):
            ctx.out.write(f"{frame}\n")


def _report(args: argparse.Namespace, ctx: Context) -> None:
    result = write_report(ctx.settings, Path(args.out), now=ctx.now, site=args.site,
                          start=day(args.start, "--from"), end=day(args.end, "--to"))
    ctx.out.emit(result, result.lines())


def add_commands(sub: Any) -> None:
    p = register(sub, "marts", _marts, help="build the statistics marts of stale days (or of --day)")
    p.add_argument("--site", default="default", help="site of the --day options (default 'default')")
    p.add_argument("--day", action="append", help="UTC day YYYY-MM-DD to (re)build; repeatable")

    p = register(sub, "stats", _stats, help="headline figures from the marts")
    p.add_argument("--site", help="one site (default: all)")
    p.add_argument("--from", dest="start", help="first day YYYY-MM-DD")
    p.add_argument("--to", dest="end", help="last day YYYY-MM-DD")

    p = register(sub, "sql", _sql, help="run a query against the analyst views (or --forensic views)")
    p.add_argument("query", help="SQL text, e.g. \"select * from daily_traffic\"")
    p.add_argument("--forensic", action="store_true", help="the forensic views (IPs, held data); audit-logged")
    p.add_argument("--limit", type=bounded_int(1, 10_000_000), default=50, help="rows to print (default 50)")

    p = register(sub, "report", _report, help="write the self-contained HTML report (no network requests)")
    p.add_argument("--out", required=True, help="the HTML file to write")
    p.add_argument("--site", help="one site (default: all)")
    p.add_argument("--from", dest="start", help="first UTC day YYYY-MM-DD")
    p.add_argument("--to", dest="end", help="last UTC day YYYY-MM-DD")
