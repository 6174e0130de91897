"""What every mart model runs on: the build connection, local days, and the values a model binds.

- :func:`connect_build`: an in-memory DuckDB connection (session time zone UTC) with the
  functions ``decode_path`` (:mod:`.paths`) and ``referrer_source`` (:mod:`.referrers`) and the
  staging macros of ``sql/staging/`` (the day's requests, visits, referrers, carry-over).
- Local days: a mart's day is a date in the site's time zone (``[site] timezone``, default
  Europe/Berlin; ``days = "utc"`` for UTC dates), while the lake's partitions stay UTC dates.
  :func:`day_window` is the UTC window of a local day, :func:`utc_days` the (one or two) UTC
  partitions it reads, :func:`local_days` the local days a UTC partition touches.
- :func:`model_params` / :func:`run_model`: every value a model may use, bound as parameters
  (``$name``) and set as DuckDB variables (``build_*``) for the staging macros.
- :func:`staged`: while a day is built, the staging macros whose result is the same for every
  mart are computed once into temp tables.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
from duckdb.func import FunctionNullHandling

from accesslake import storage as lakefs
from accesslake.analytics.paths import decode_path
from accesslake.analytics.referrers import classify_host
from accesslake.errors import ConfigError
from accesslake.schema import REQUEST_SCHEMA
from accesslake.sqlfiles import read_sql
from accesslake.storage import LakePath
from accesslake.storage.duck import pipeline_spill, spill_folder

__all__ = [
    "STAGING", "DayPlan", "connect_build", "day_window", "empty_requests_file", "local_days", "model_params",
    "run_model", "set_variables", "staged", "utc_days",
]

#: The staging files, in the order they are run (sql/staging/).
STAGING = ("day_requests", "referrers", "day_visits", "carry_over", "day_input", "percentiles")
#: Staging macros computed once per day and served from a temp table while the day's marts run:
#: the same for every mart of the day, or (day_visits) for every mart with the same previous build.
_PER_DAY = ("decoded_paths", "agent_keys", "day_referrer_hosts")
_PER_PREVIOUS = ("day_build_mode", "day_visits")
_VARIABLES = {  # DuckDB variable -> model parameter
    "build_files": "files", "build_day_start": "day_start", "build_day_end": "day_end", "build_tz": "tz",
    "build_site": "site", "build_own_hosts": "own_hosts", "build_previous": "previous",
    "build_previous_until": "previous_until", "build_previous_approximate": "previous_approximate",
}
_BIGINT_MAX = 2**63 - 1
_SOURCE_TYPE = duckdb.struct_type({"kind": duckdb.sqltype("VARCHAR"), "name": duckdb.sqltype("VARCHAR")})


def _referrer_source(host: str | None) -> dict[str, str] | None:
    found = classify_host(host)
    return None if found is None else {"kind": found[0], "name": found[1]}


@functools.cache
def empty_requests_file() -> Path:
    """An empty Parquet file with every request column (one per process, removed at exit): the last
    of a build's input files, so columns that older files lack read as NULL."""
    folder = Path(tempfile.mkdtemp(prefix="accesslake-staging-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "requests.parquet"
    pl.DataFrame(schema=REQUEST_SCHEMA).write_parquet(path)
    return path


def connect_build(lake: LakePath | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection set up for building marts over ``lake``: session time zone UTC,
    the functions ``decode_path`` and ``referrer_source``, and the staging macros (sql/staging/)."""
    # a build runs under the writer lock: it spills into the lake's local staging, within the pipeline's limit
    con = lakefs.connect(lake, spill=pipeline_spill(lake) if lake is not None else spill_folder())
    con.execute("set TimeZone = 'UTC'").fetchall()
    # the macros are checked when created: give them a day to read (no rows)
    set_variables(con, model_params([], site="", day=date(2000, 1, 1), tz="UTC",
                                    built_at=datetime(2000, 1, 1, tzinfo=UTC)))
    varchar = duckdb.sqltype("VARCHAR")
    con.create_function("decode_path", decode_path, [varchar], varchar, null_handling=FunctionNullHandling.SPECIAL)
    con.create_function("referrer_source", _referrer_source, [varchar], _SOURCE_TYPE,
                        null_handling=FunctionNullHandling.SPECIAL)
    for name in STAGING:
        for statement in con.extract_statements(read_sql(f"staging/{name}")):
            con.execute(statement).fetchall()
    return con


# ----------------------------------------------------------------- local days


def day_window(day: date, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of ``day`` as a local date in ``tz`` (23 or 25 h on a DST change)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


def utc_days(day: date, tz: str) -> list[date]:
    """The UTC dates (lake partitions) the local day ``day`` in ``tz`` spans: one or two."""
    start, end = day_window(day, tz)
    last = (end - timedelta(microseconds=1)).date()
    return [start.date() + timedelta(days=n) for n in range((last - start.date()).days + 1)]


def local_days(utc_day: date, tz: str) -> list[date]:
    """The local dates in ``tz`` that the UTC date ``utc_day`` touches: one or two."""
    zone = ZoneInfo(tz)
    first = datetime.combine(utc_day, time(0), UTC).astimezone(zone).date()
    last = datetime.combine(utc_day, time.max, UTC).astimezone(zone).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass(frozen=True)
class DayPlan:
    """One site and local day to build: its zone, its UTC window and its own hosts (from the policy)."""

    site: str
    day: date
    tz: str
    own_hosts: tuple[str, ...] = ()

    @property
    def window(self) -> tuple[datetime, datetime]:
        return day_window(self.day, self.tz)

    @property
    def utc_days(self) -> list[date]:
        return utc_days(self.day, self.tz)


# ----------------------------------------------------------------- parameters and running a model


def model_params(
    files: list[Path],
    *,
    site: str,
    day: date,
    tz: str,
    built_at: datetime,
    own_hosts: tuple[str, ...] | list[str] = (),
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every value a model may use (``files``: the day's input files; an empty file of every request
    column is added at the end)."""
    start, end = day_window(day, tz)
    values: dict[str, Any] = {
        "files": [str(p) for p in [*files, empty_requests_file()]], "site": site, "day": day, "tz": tz,
        "day_start": start, "day_end": end,
        "own_hosts": [str(h) for h in own_hosts], "built_at": built_at,
        "previous": "[]", "previous_until": None, "previous_approximate": None,
    }
    values.update(previous or {})
    return values


def set_variables(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> None:
    """Set the staging macros' variables (``build_*``) from ``params``, as bound parameters."""
    for variable, key in _VARIABLES.items():
        value = params[key]
        if key == "previous_until" and value is not None:
            con.execute(f"set variable {variable} = $value::timestamptz", {"value": value}).fetchall()
        else:
            con.execute(f"set variable {variable} = $value", {"value": value}).fetchall()


def run_model(name: str, params: dict[str, Any], con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Run ``sql/marts/<name>.sql`` with the parameters it names taken from ``params``."""
    text = read_sql(f"marts/{name}")
    statement = con.extract_statements(text)[0]
    missing = sorted(statement.named_parameters - params.keys())
    if missing:
        raise ConfigError(f"sql/marts/{name}.sql: no value for parameter(s) {', '.join(missing)}")
    set_variables(con, params)
    bound = {key: params[key] for key in statement.named_parameters}
    frame = pl.DataFrame(pl.from_arrow(con.sql(text, params=bound).to_arrow_table()))
    # DuckDB sums BIGINT into HUGEINT (no overflow); the marts store BIGINT, saturating at 2^63 - 1
    wide = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.Decimal) and dtype.scale == 0]
    return frame.with_columns(pl.col(name).clip(-_BIGINT_MAX - 1, _BIGINT_MAX).cast(pl.Int64) for name in wide)


# ----------------------------------------------------------------- computing staging macros once per day


def _materialise(con: duckdb.DuckDBPyConnection, macro: str, table: str) -> None:
    con.execute(f"create or replace temp table {table} as select * from {macro}()").fetchall()
    con.execute(f"create or replace temp macro {macro}() as table select * from {table}").fetchall()


@contextmanager
def staged(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> Iterator[Any]:
    """Within the block, the per-day staging macros read temp tables computed once from ``params``;
    the returned ``use(model_params)`` does the same for day_build_mode and day_visits, once per
    previous build (call it before every model)."""
    made: list[tuple[str, str]] = []
    visits: dict[tuple[Any, Any], str] = {}

    def use(model: dict[str, Any]) -> None:
        key = (model["previous_until"], model["previous_approximate"])
        if key not in visits:
            for macro in _PER_PREVIOUS:  # in order: day_visits reads day_build_mode
                con.execute(f"drop macro table if exists temp.{macro}").fetchall()
            set_variables(con, model)
            visits[key] = f"{len(visits)}"
            for macro in _PER_PREVIOUS:
                _materialise(con, macro, f"staged_{macro}_{visits[key]}")
                made.append((macro, f"staged_{macro}_{visits[key]}"))
        for macro in _PER_PREVIOUS:
            con.execute(f"create or replace temp macro {macro}() as table select * from staged_{macro}_{visits[key]}"
                        ).fetchall()

    try:
        set_variables(con, params)
        for macro in _PER_DAY:
            _materialise(con, macro, f"staged_{macro}")
            made.append((macro, f"staged_{macro}"))
        yield use
    finally:
        for macro in (*_PER_DAY, *_PER_PREVIOUS):
            con.execute(f"drop macro table if exists temp.{macro}").fetchall()
        for _, table in made:
            con.execute(f"drop table if exists temp.{table}").fetchall()
