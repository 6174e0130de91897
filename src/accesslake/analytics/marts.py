"""Statistics marts: the SQL models in ``sql/marts/`` built per site and local day.

Each model reads the requests of one site and day and writes one Parquet file::

    <lake>/marts/<table>/site=<site>/date=<YYYY-MM-DD>/part-0.parquet

The day is the site's LOCAL date (policy ``[site] timezone``, per site in
``[sites.NAME]``; ``days = "utc"`` for UTC dates), while the lake's partitions
stay UTC dates: a local day reads the one or two UTC partitions of ``requests/``
and ``held/`` (held rows are real traffic) that its window touches, and keeps the
rows inside the window (:mod:`accesslake.analytics.staging`). Rebuilding a day
replaces its files (written atomically), so a build can be repeated at will. Marts
are built before the day is anonymised (nightly order: ingest -> marts ->
anonymise) and hold no personal column.

Late data: on a day with anonymised rows, counts that survive anonymisation are
recomputed from every row; those that need the removed columns (visitors, visits,
entry/exit pages, campaigns, referring pages of broken links) are carried over
from the previous build of the day, with the rows received after it
(``last_received_at``) added on top, and ``is_approximate`` set
(``sql/staging/carry_over.sql``; the rule is written out in ``docs/marts.md``).

The caller holds the writer lock (:func:`accesslake.storage.writer_lock`).
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from accesslake import storage as lakefs
from accesslake.analytics.freshness import holds_requests_between, keep_if_unchanged
from accesslake.analytics.staging import DayPlan, connect_build, local_days, model_params, run_model, staged
from accesslake.config import Progress, Settings, report_progress
from accesslake.errors import InputError, NotFoundError
from accesslake.storage import LakePath, Layout
from accesslake.storage.duck import with_more_memory
from accesslake.storage.manifest import partitions_listed

__all__ = [
    "MART_NAMES",
    "MartsResult",
    "build_day",
    "build_marts",
    "build_one_day",
    "connect_build",
    "day_plan",
    "days_touched",
    "input_files",
    "mart_path",
    "model_params",
    "read_mart",
    "run_model",
]

#: Every mart, in the order a build runs them (none reads another's output).
MART_NAMES: tuple[str, ...] = (
    "daily_traffic",
    "hourly_traffic",
    "weekday_hours",
    "pages",
    "entry_exit_pages",
    "visits",
    "referrers",
    "search_engines",
    "campaigns",
    "clients",
    "status_codes",
    "status_paths",
    "broken_links",
    "resources",
    "content_types",
    "methods",
    "virtual_hosts",
)

PART_NAME = "part-0.parquet"


@dataclass
class MartsResult:
    """What one build did: the site/days built, those with approximate visitor figures."""

    now: str
    built: list[tuple[str, date]] = field(default_factory=list)
    approximate: list[tuple[str, date]] = field(default_factory=list)
    skipped: list[tuple[str, date]] = field(default_factory=list)
    files_written: int = 0
    kept: list[tuple[str, date]] = field(default_factory=list)  # stale by time, same requests: not computed again

    @classmethod
    def merge(cls, now: datetime, results: list[MartsResult]) -> MartsResult:
        """One result for builds run day by day (the flow's one task per day)."""
        merged = cls(now=now.isoformat())
        for part in results:
            merged.built += part.built
            merged.approximate += part.approximate
            merged.skipped += part.skipped
            merged.files_written += part.files_written
            merged.kept += part.kept
        return merged

    def lines(self) -> list[str]:
        if not self.built and not self.skipped and not self.kept:
            return [f"marts at {self.now}: every day up to date"]
        out = [f"marts at {self.now}: {len(self.built)} day(s) built, {self.files_written} files written"]
        out += [f"  {site} {day.isoformat()}" + (" (approximate visitor figures)"
                if (site, day) in self.approximate else "") for site, day in self.built]
        out += [f"  {site} {day.isoformat()}: no input rows, skipped" for site, day in self.skipped]
        out += [f"  {site} {day.isoformat()}: the same requests as when built (rows anonymised or held since), "
                "kept" for site, day in self.kept]
        return out


def _check_name(name: str) -> str:
    if name not in MART_NAMES:
        raise NotFoundError(f"unknown mart {name!r}; known: {', '.join(MART_NAMES)}")
    return name


def mart_path(lake: LakePath, name: str, site: str, day: date) -> LakePath:
    """Where the mart ``name`` of one site and (local) day is stored."""
    return lakefs.partition_dir(Layout(lake).mart(_check_name(name)), site, day) / PART_NAME


def day_plan(settings: Settings, site: str, day: date) -> DayPlan:
    """The local day ``day`` of ``site`` as the policy defines it: its zone and own hosts."""
    found = settings.site(site)
    tz = "UTC" if found.days == "utc" else str(found.timezone)
    return DayPlan(site=site, day=day, tz=tz, own_hosts=found.own_hosts or ())


def input_files(lake: LakePath, site: str, day: date) -> list[Path]:
    """The Parquet files of one site and UTC partition ``day``: requests/ and every hold."""
    found = lakefs.Partition(site, day, lakefs.partition_dir(Layout(lake).requests, site, day)).files()
    for part in lakefs.list_partitions(Layout(lake).held):
        if part.site == site and part.day == day:
            found += part.files()
    return sorted(found, key=str)


def _plan_files(lake: LakePath, plan: DayPlan) -> list[Path]:
    return [path for utc_day in plan.utc_days for path in input_files(lake, plan.site, utc_day)]


def days_touched(lake: LakePath, settings: Settings | None = None) -> list[tuple[str, date]]:
    """Every site and local day whose marts are missing or older than an input file that holds a request
    of the day.

    The UTC partitions of requests/ and held/ are listed once; each touches one or two local
    days of its site (``settings``: the zone per site; default Europe/Berlin), and a local day
    reads every partition its window touches. Of the files newer than a day's marts (every file,
    when a mart is missing), the footers say whether one holds a request in the day's window (the
    ``ts`` statistics): a local day at the edge of the data with no request is not built (it would be
    built empty, then again when its requests come). On object storage times are whole seconds, so
    a mart built in the second its input was written counts as fresh: within a run only the
    anonymiser writes after the marts, and that needs no rebuild (marts are built from the rows
    before anonymisation).
    """
    settings = settings or Settings()
    inputs: dict[tuple[str, date], list[tuple[LakePath, int]]] = {}
    for root in (Layout(lake).requests, Layout(lake).held):
        # one listing of the dataset (one LIST on object storage), not one per partition
        for part, listed in partitions_listed(root, lake).items():
            for _, path, (_, mtime, _) in listed:
                for day in local_days(part.day, day_plan(settings, part.site, part.day).tz):
                    inputs.setdefault((part.site, day), []).append((path, mtime))
    built = lakefs.mtimes_ns(Layout(lake).marts)
    stale = []
    ranges: dict[str, tuple[datetime, datetime] | None] = {}
    # mart_path(lake, name, site, day) as text, without building a path per mart and day (a year is thousands)
    roots = {name: str(Layout(lake).mart(name)) for name in MART_NAMES}
    for (site, day), files in sorted(inputs.items()):
        tail = f"/{lakefs.partition_dir(Path('.'), site, day).as_posix()}/{PART_NAME}"
        stamps = [built.get(roots[name] + tail) for name in MART_NAMES]
        oldest = None if any(t is None for t in stamps) else min(t for t in stamps if t is not None)
        newer = [path for path, mtime in files if oldest is None or oldest < mtime]
        start, end = day_plan(settings, site, day).window
        if any(holds_requests_between(path, start, end, ranges) for path in newer):
            stale.append((site, day))
    return stale


def _previous(path: LakePath) -> dict[str, Any]:
    """The previous build of a mart as parameters: its rows (JSON), last_received_at, is_approximate."""
    empty: dict[str, Any] = {"previous": "[]", "previous_until": None, "previous_approximate": None}
    if not path.is_file():
        return empty
    frame = lakefs.read_parquet(path)
    if frame.height == 0 or "last_received_at" not in frame.columns:
        return empty
    return {
        "previous": frame.write_json(),
        "previous_until": frame["last_received_at"].max(),
        "previous_approximate": bool(frame["is_approximate"].any()),
    }


@dataclass(frozen=True)
class DayBuilt:
    """What :func:`build_day` wrote: the rows of each mart, and whether its visitor figures are approximate."""

    rows: dict[str, int]
    approximate: bool


def build_day(con: duckdb.DuckDBPyConnection, settings: Settings, site: str, day: date, now: datetime) -> DayBuilt:
    """Build every mart of one site and local day and write them.

    What every mart of the day reads the same way (decoded paths, agent keys, referrer hosts)
    is computed once; the build mode and the visits (the costly part of the visitor marts) once
    per distinct previous build (see :func:`accesslake.analytics.staging.staged`). Each mart is
    written to the lake's staging as soon as it is computed (only one mart's rows are held in
    memory at a time), and the day's files are put in place once all of them are computed: a
    failure leaves the day's marts as they were.
    """
    lake = settings.lake
    plan = day_plan(settings, site, day)
    run = lakefs.staging_dir(lake, f"marts-{site}-{day.isoformat()}-{uuid.uuid4().hex[:8]}")
    try:
        with lakefs.local_copies(lake, _plan_files(lake, plan), f"marts-{site}-{day.isoformat()}") as files:
            base = model_params(files, site=site, day=day, tz=plan.tz, built_at=now, own_hosts=plan.own_hosts)
            try:  # out of memory in an operator DuckDB cannot spill: the day again with more (storage.duck)
                built = with_more_memory(con, lambda: _compute_day(con, lake, site, day, base, run))
            except duckdb.Error as exc:
                raise InputError(f"marts for site {site} on {day.isoformat()} ({plan.tz}): {exc}") from exc
        for name in built.rows:
            lakefs.publish(run / name / "part-0.parquet", mart_path(lake, name, site, day))
    finally:
        shutil.rmtree(run, ignore_errors=True)
    return built


def _compute_day(con: duckdb.DuckDBPyConnection, lake: LakePath, site: str, day: date,
                 base: dict[str, Any], run: Path) -> DayBuilt:
    rows: dict[str, int] = {}
    approximate = False
    with staged(con, base) as use_previous:
        for name in MART_NAMES:
            params = {**base, **_previous(mart_path(lake, name, site, day))}
            use_previous(params)
            frame = run_model(name, params, con)
            lakefs.write_parquet_atomic(frame, run / name / "part-0.parquet")
            rows[name] = frame.height
            if name == "daily_traffic":
                approximate = bool(frame.height and frame["is_approximate"].any())
            del frame
    return DayBuilt(rows, approximate)


def build_marts(
    settings: Settings, now: datetime, days: list[tuple[str, date]] | None = None, *,
    progress: Progress | None = None, keep_unchanged: bool = False,
) -> MartsResult:
    """Build the marts of ``days`` (site, local day); None: every day whose marts are stale.

    A day is stale when one of its marts is missing or older than the newest input file
    it reads in requests/ or held/. One DuckDB connection serves the build.
    ``progress`` is told of each day built (:data:`accesslake.config.Progress`).
    ``keep_unchanged`` (the nightly): a day whose input still has the requests its marts were
    built from is kept, not computed again (:func:`~.freshness.keep_if_unchanged`).
    """
    lake = settings.lake
    targets = days_touched(lake, settings) if days is None else sorted(set(days))
    result = MartsResult(now=now.isoformat())
    if not targets:
        return result
    con = connect_build(lake)
    try:
        for number, (site, day) in enumerate(targets):
            report_progress(progress, "marts", number, len(targets))
            lakefs.check_site(site)
            if not _plan_files(lake, day_plan(settings, site, day)):
                result.skipped.append((site, day))
                continue
            if keep_unchanged and _kept(con, settings, site, day, now):
                result.kept.append((site, day))
                continue
            built = build_day(con, settings, site, day, now)
            result.built.append((site, day))
            result.files_written += len(built.rows)
            if built.approximate:
                result.approximate.append((site, day))
        report_progress(progress, "marts", len(targets), len(targets))
    finally:
        con.close()
    return result


def build_one_day(day: tuple[str, date], settings: Settings, now: datetime) -> MartsResult:
    """The marts of one stale site and day (the nightly's unit of work; ``day`` first, for mapping): kept
    when its requests are those they were built from, else built."""
    return build_marts(settings, now, [day], keep_unchanged=True)


def _kept(con: duckdb.DuckDBPyConnection, settings: Settings, site: str, day: date, now: datetime) -> bool:
    lake = settings.lake
    plan = day_plan(settings, site, day)
    with lakefs.local_copies(lake, _plan_files(lake, plan), f"marts-{site}-{day.isoformat()}") as files:
        params = model_params(files, site=site, day=day, tz=plan.tz, built_at=now, own_hosts=plan.own_hosts)
        return keep_if_unchanged(con, params, {name: mart_path(lake, name, site, day) for name in MART_NAMES})


def read_mart(lake: LakePath, name: str) -> pl.DataFrame:
    """Every stored day of the mart ``name``, with ``site`` and ``date`` first."""
    files = lakefs.list_files(Layout(lake).mart(_check_name(name)))
    if not files:
        return pl.DataFrame(schema={"site": pl.String, "date": pl.Date})
    frame = lakefs.read_partitioned(files)
    rest = [c for c in frame.columns if c not in ("site", "date")]
    return frame.select("site", "date", *rest).sort("site", "date", maintain_order=True)
