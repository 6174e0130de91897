"""``accesslake marts``, ``stats``, ``sql`` and ``report``: statistics for analysts.

``stats`` and ``report`` build the marts of stale days first (days whose requests
changed since their marts were built, e.g. right after ``accesslake ingest``) and say
so on stderr; ``report FILE...`` ingests the files first (the same ingest as
``accesslake ingest``): one step from a log to a report.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from accesslake import storage
from accesslake.analytics import build_marts, days_touched, headline_stats, run_sql, write_report
from accesslake.cli.app import Context, PartialFailure, bounded_int, register
from accesslake.cli.results import FORMATS, TABLE_ROWS, print_result
from accesslake.cli.stats import stats_lines
from accesslake.errors import ConfigError, LockError

__all__ = ["add_commands", "day"]


def day(value: str | None, option: str) -> date | None:
    """A ``YYYY-MM-DD`` option value as a date (None when not given)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{option}: {value!r} is not a date; write YYYY-MM-DD") from exc


def _site(value: str | None) -> str | None:
    return None if value is None else storage.check_site(value)


def _marts(args: argparse.Namespace, ctx: Context) -> None:
    storage.check_site(args.site)
    days = [(args.site, day(d, "--day")) for d in args.day] if args.day else None
    with storage.writer_lock(ctx.settings.lake, ctx.wait), ctx.out.progress() as progress:
        result = build_marts(ctx.settings, ctx.now, days, progress=progress)  # type: ignore[arg-type]
    ctx.out.emit(result, result.lines())


def build_stale(ctx: Context) -> None:
    """Build the marts of every stale day first (said on stderr); a lake this user cannot write is
    read as it is, with a note."""
    stale = days_touched(ctx.settings.lake, ctx.settings)
    if not stale:
        return
    span = stale[0][1].isoformat() if len(stale) == 1 else f"{min(d for _, d in stale)} to {max(d for _, d in stale)}"
    ctx.out.note(f"building the statistics of {len(stale)} day(s) not built yet ({span}) first")
    try:
        with storage.writer_lock(ctx.settings.lake, ctx.wait), ctx.out.progress() as progress:
            build_marts(ctx.settings, ctx.now, stale, progress=progress)
    except (LockError, PermissionError) as exc:
        ctx.out.note(f"cannot build them ({exc}); the figures leave those days out (--no-build reads the lake as is)")


def _stats(args: argparse.Namespace, ctx: Context) -> None:
    site, start, end = _site(args.site), day(args.start, "--from"), day(args.end, "--to")
    if not args.no_build:
        build_stale(ctx)
    stats = headline_stats(ctx.settings.lake, site, start, end)
    ctx.out.emit(stats, stats_lines(stats, ctx.out))


def _output_format(args: argparse.Namespace, ctx: Context) -> str:
    if ctx.out.as_json and args.format not in (None, "json"):
        raise ConfigError(f"--format {args.format} and --json disagree; give one of them")
    return "json" if ctx.out.as_json else args.format or "table"


def _sql(args: argparse.Namespace, ctx: Context) -> None:
    fmt = _output_format(args, ctx)
    limit = args.limit if args.limit is not None else TABLE_ROWS if fmt in ("table", "markdown") else None
    if args.forensic:
        from accesslake.forensics.views import run_sql as run_forensic

        frame = run_forensic(ctx.settings.lake, args.query, ctx.now, max_age_hours=ctx.settings.policy.max_age_hours)
    else:
        frame = run_sql(ctx.settings.lake, args.query, limit=None if limit is None else limit + 1)
    more = limit is not None and frame.height > limit
    print_result(ctx.out, frame.head(limit) if limit is not None and more else frame, fmt, more=more)


def _report(args: argparse.Namespace, ctx: Context) -> None:
    site, failed = _site(args.site), list[str]()
    if args.files:
        from accesslake.cli.ingest import ingest_files

        site = site or "default"
        ingested, failed = ingest_files(ctx, args.files, site=site, fmt=args.log_format, cookie=args.cookie)
        for done in ingested:
            ctx.out.note(done.summary())
        for line in failed:
            ctx.out.note(f"FAILED {line}")
    if not args.no_build:
        build_stale(ctx)
    result = write_report(ctx.settings, Path(args.out), now=ctx.now, site=site,
                          start=day(args.start, "--from"), end=day(args.end, "--to"))
    ctx.out.emit(result, result.lines())
    if args.files and failed:
        raise PartialFailure(f"{len(failed)} of {len(args.files)} files were not ingested (nothing written for them); "
                             "the report leaves them out")


def add_commands(sub: Any) -> None:
    p = register(sub, "marts", _marts, help="build the statistics marts of stale days (or of --day)")
    p.add_argument("--site", default="default", help="site of the --day options (default 'default')")
    p.add_argument("--day", action="append", help="UTC day YYYY-MM-DD to (re)build; repeatable")

    p = register(sub, "stats", _stats,
                 help="headline figures from the marts (builds the statistics of stale days first)")
    p.add_argument("--site", help="one site (default: all sites)")
    p.add_argument("--from", dest="start", help="first UTC day YYYY-MM-DD (default: the first day in the lake)")
    p.add_argument("--to", dest="end", help="last UTC day YYYY-MM-DD (default: the last day in the lake)")
    p.add_argument("--no-build", action="store_true", help="read the marts as they are; build no stale day first")

    p = register(sub, "sql", _sql,
                 help="run one read-only query against the analyst views (or --forensic views)")
    p.add_argument("query", help="SQL text, e.g. \"select * from daily_traffic\"")
    p.add_argument("--forensic", action="store_true", help="the forensic views (IPs, held data); audit-logged")
    p.add_argument("--format", choices=FORMATS, help="table (default), csv, json (also: --json) or markdown")
    p.add_argument("--limit", type=bounded_int(1, 100_000_000),
                   help=f"rows to print (default {TABLE_ROWS} for table and markdown, every row for csv and json)")

    p = register(sub, "report", _report,
                 help="write the self-contained HTML report (no network requests); with FILEs, ingest them first")
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="access logs to ingest first, as `accesslake ingest FILE...` does (then the report shows "
                        "their site)")
    p.add_argument("--out", required=True, help="the HTML file to write")
    p.add_argument("--site", help="one site (default: all sites; with FILEs, the site they go into: 'default')")
    p.add_argument("--from", dest="start", help="first UTC day YYYY-MM-DD")
    p.add_argument("--to", dest="end", help="last UTC day YYYY-MM-DD")
    p.add_argument("--format", dest="log_format", help="with FILEs: their log format, as for `accesslake ingest`")
    p.add_argument("--cookie", help="with FILEs: the session cookie's name, as for `accesslake ingest`")
    p.add_argument("--no-build", action="store_true", help="read the marts as they are; build no stale day first")
