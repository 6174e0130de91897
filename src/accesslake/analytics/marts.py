"""Statistics marts: the SQL models in ``sql/marts/`` built per site and day.

Each model reads the requests of one site and UTC day, from ``requests/`` and
``held/`` (held rows are real traffic), and writes one Parquet file::

    <lake>/marts/<table>/site=<site>/date=<YYYY-MM-DD>/part-0.parquet

Rebuilding a day replaces its file (written atomically), so a build can be
repeated at will. Marts are built before the day is anonymised (nightly order:
ingest -> marts -> anonymise) and hold no personal column.

Late data: on a day with anonymised rows, counts that survive anonymisation are
recomputed from every row; those that need the removed columns (visitors,
visits, entry/exit pages, campaigns, referring pages of broken links) are
carried over from the previous build of the day, with the rows received after
it (``last_received_at``) added on top, and ``is_approximate`` set. A model
takes part in this when its SQL has the ``$previous`` parameter. The rule is
written out in ``docs/marts.md``.

The caller holds the writer lock (:func:`accesslake.storage.writer_lock`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from accesslake import storage as lakefs
from accesslake.config import Settings
from accesslake.errors import ConfigError, InputError, NotFoundError
from accesslake.sqlfiles import read_sql
from accesslake.storage import LakePath, Layout

__all__ = [
    "MART_NAMES",
    "MartsResult",
    "build_day",
    "build_one_day",
    "build_marts",
    "connect_build",
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

    @classmethod
    def merge(cls, now: datetime, results: list[MartsResult]) -> MartsResult:
        """One result for builds run day by day (the flow's one task per day)."""
        merged = cls(now=now.isoformat())
        for part in results:
            merged.built += part.built
            merged.approximate += part.approximate
            merged.skipped += part.skipped
            merged.files_written += part.files_written
        return merged

    def lines(self) -> list[str]:
        if not self.built and not self.skipped:
            return [f"marts at {self.now}: every day up to date"]
        out = [f"marts at {self.now}: {len(self.built)} day(s) built, {self.files_written} files written"]
        out += [f"  {site} {day.isoformat()}" + (" (approximate visitor figures)"
                if (site, day) in self.approximate else "") for site, day in self.built]
        out += [f"  {site} {day.isoformat()}: no input rows, skipped" for site, day in self.skipped]
        return out


def _check_name(name: str) -> str:
    if name not in MART_NAMES:
        raise NotFoundError(f"unknown mart {name!r}; known: {', '.join(MART_NAMES)}")
    return name


def mart_path(lake: LakePath, name: str, site: str, day: date) -> LakePath:
    """Where the mart ``name`` of one site and day is stored."""
    return lakefs.partition_dir(Layout(lake).mart(_check_name(name)), site, day) / PART_NAME


def input_files(lake: LakePath, site: str, day: date) -> list[Path]:
    """The Parquet files holding the requests of one site and day: requests/ and every hold."""
    found = lakefs.Partition(site, day, lakefs.partition_dir(Layout(lake).requests, site, day)).files()
    for part in lakefs.list_partitions(Layout(lake).held):
        if part.site == site and part.day == day:
            found += part.files()
    return sorted(found, key=str)


def days_touched(lake: LakePath) -> list[tuple[str, date]]:
    """Every site/day of requests/ and held/ whose marts are missing or older than an input file.

    On object storage times are whole seconds, so a mart built in the second its input was
    written counts as fresh: within a run only the anonymiser writes after the marts, and
    that needs no rebuild (marts are built from the rows before anonymisation).
    """
    newest: dict[tuple[str, date], int] = {}
    for root in (Layout(lake).requests, Layout(lake).held):
        times = lakefs.mtimes_ns(root)  # one listing, not a request per file, on object storage
        for part in lakefs.list_partitions(root):
            for path in part.files():
                key = (part.site, part.day)
                stamp = times.get(str(path))
                newest[key] = max(newest.get(key, 0), stamp if stamp is not None else lakefs.mtime_ns(path))
    built = lakefs.mtimes_ns(Layout(lake).marts)
    stale = []
    for (site, day), mtime in sorted(newest.items()):
        stamps = [built.get(str(mart_path(lake, name, site, day))) for name in MART_NAMES]
        if any(t is None or t < mtime for t in stamps):
            stale.append((site, day))
    return stale


def connect_build(lake: LakePath | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection set up for building marts over ``lake``: session time zone
    UTC, and the visit macros the visitor marts share (sql/staging/day_visits.sql)."""
    con = lakefs.connect(lake)
    con.execute("set TimeZone = 'UTC'").fetchall()
    for statement in con.extract_statements(read_sql("staging/day_visits")):
        con.execute(statement).fetchall()
    return con


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


def model_params(
    files: list[Path],
    *,
    site: str,
    day: date,
    tz: str,
    built_at: datetime,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every value a model may bind; :func:`run_model` passes the ones its SQL names."""
    values: dict[str, Any] = {
        "files": [str(p) for p in files],
        "site": site,
        "day": day,
        "tz": tz,
        "built_at": built_at,
        "previous": "[]",
        "previous_until": None,
        "previous_approximate": None,
    }
    values.update(previous or {})
    return values


def run_model(name: str, params: dict[str, Any], con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Run ``sql/marts/<name>.sql`` with the parameters it names taken from ``params``."""
    text = read_sql(f"marts/{_check_name(name)}")
    statement = con.extract_statements(text)[0]
    missing = sorted(statement.named_parameters - params.keys())
    if missing:
        raise ConfigError(f"sql/marts/{name}.sql: no value for parameter(s) {', '.join(missing)}")
    bound = {key: params[key] for key in statement.named_parameters}
    table = con.sql(text, params=bound).to_arrow_table()
    return pl.DataFrame(pl.from_arrow(table))


def build_day(
    con: duckdb.DuckDBPyConnection, settings: Settings, site: str, day: date, now: datetime
) -> dict[str, pl.DataFrame]:
    """Build every mart of one site and day and write them; returns the frames written.

    The visits of the day (the ``day_visits`` macro, the costly part of the visitor marts) are
    computed once per distinct (previous_until, previous_approximate) into a temp table; while
    a model that reads them runs, a temp macro of the same name serves that table instead.
    """
    lake = settings.lake
    with lakefs.local_copies(lake, input_files(lake, site, day), f"marts-{site}-{day.isoformat()}") as files:
        return _build_day(con, settings, site, day, now, files)


def _build_day(
    con: duckdb.DuckDBPyConnection, settings: Settings, site: str, day: date, now: datetime, files: list[Path]
) -> dict[str, pl.DataFrame]:
    lake = settings.lake
    frames: dict[str, pl.DataFrame] = {}
    visit_tables: dict[tuple[Any, Any], str] = {}  # (previous_until, previous_approximate) -> temp table
    visit_args = ("files", "previous_until", "previous_approximate")
    try:
        for name in MART_NAMES:
            target = mart_path(lake, name, site, day)
            params = model_params(files, site=site, day=day, tz=settings.site_tz, built_at=now,
                                  previous=_previous(target))
            reads_visits = "day_visits($files, $previous_until, $previous_approximate)" in read_sql(f"marts/{name}")
            try:
                if reads_visits:
                    key = (params["previous_until"], params["previous_approximate"])
                    table = visit_tables.get(key)
                    if table is None:
                        table = f"build_day_visits_{len(visit_tables)}"
                        con.execute(f"create or replace temp table {table} as "
                                    "select * from day_visits($files, $previous_until, $previous_approximate)",
                                    {arg: params[arg] for arg in visit_args}).fetchall()
                        visit_tables[key] = table
                    con.execute("create or replace temp macro day_visits(files, previous_until, previous_approximate)"
                                f" as table select * from {table}").fetchall()
                try:
                    frame = run_model(name, params, con)
                finally:
                    if reads_visits:
                        con.execute("drop macro table if exists temp.day_visits").fetchall()
            except duckdb.Error as exc:
                raise InputError(f"mart {name} for site {site} on {day.isoformat()}: {exc}") from exc
            lakefs.write_parquet_atomic(frame, target)
            frames[name] = frame
    finally:
        for table in visit_tables.values():
            con.execute(f"drop table if exists temp.{table}").fetchall()
    return frames


def build_marts(
    settings: Settings, now: datetime, days: list[tuple[str, date]] | None = None
) -> MartsResult:
    """Build the marts of ``days`` (site, UTC day); None: every day whose marts are stale.

    A day is stale when one of its marts is missing or older than its newest
    input file in requests/ or held/. One DuckDB connection serves the build.
    """
    lake = settings.lake
    targets = days_touched(lake) if days is None else sorted(set(days))
    result = MartsResult(now=now.isoformat())
    if not targets:
        return result
    con = connect_build(lake)
    try:
        for site, day in targets:
            lakefs.check_site(site)
            if not input_files(lake, site, day):
                result.skipped.append((site, day))
                continue
            frames = build_day(con, settings, site, day, now)
            result.built.append((site, day))
            result.files_written += len(frames)
            headline = frames["daily_traffic"]
            if headline.height and bool(headline["is_approximate"].any()):
                result.approximate.append((site, day))
    finally:
        con.close()
    return result


def build_one_day(day: tuple[str, date], settings: Settings, now: datetime) -> MartsResult:
    """The marts of one site and day (the nightly's unit of work; ``day`` first, for mapping)."""
    return build_marts(settings, now, [day])


def read_mart(lake: LakePath, name: str) -> pl.DataFrame:
    """Every stored day of the mart ``name``, with ``site`` and ``date`` first."""
    files = lakefs.list_files(Layout(lake).mart(_check_name(name)))
    if not files:
        return pl.DataFrame(schema={"site": pl.String, "date": pl.Date})
    frame = lakefs.read_partitioned(files)
    rest = [c for c in frame.columns if c not in ("site", "date")]
    return frame.select("site", "date", *rest).sort("site", "date", maintain_order=True)
