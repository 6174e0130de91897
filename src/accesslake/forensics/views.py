"""Forensic access: a DuckDB connection with IPs, for incident response only.

:func:`connect` opens an in-memory DuckDB connection, sets the variables
``lake``, ``now`` and ``max_age_hours`` and runs ``sql/forensics/views.sql``,
which defines (see ``docs/forensics.md``):

- ``forensic_requests``: rows of ``requests/`` that still carry their IP (not
  anonymised, hard limit not passed) plus rows of ``held/`` whose hold is
  active at ``now``, with ``source`` and ``incident_id``;
- ``forensic_holds``, ``abuse_candidates``;
- table macros ``ip_timeline(target)``, ``client_sessions(target)``,
  ``client_user_agents(target)``, ``requests_matching(pattern)``,
  ``top_talkers(start_at, end_at, n := 20)``, ``first_last_seen(target)``,
  where ``target`` is an IPv4/IPv6 address, a CIDR network or a host name;
- scalar macros ``ip_in_cidr(ip, cidr)``, ``client_matches(ip, target)``.

Every connection appends a ``forensic.query`` line to the audit log (rule
D2): who (the OS user), how (``connect``, ``sql`` or ``shell``) and, for
:func:`run_sql`, the SHA-256 of the query text (never the text: it may name
IPs). The analyst views (:mod:`accesslake.analytics.views`) stay IP-free and never
read ``held/``.

The same SQL file runs in the DuckDB shell with one command
(:func:`shell_command`); :func:`open_shell` runs it after logging the access.
"""

from __future__ import annotations

import getpass
import hashlib
import shutil
import subprocess
from datetime import UTC, datetime

import duckdb
import polars as pl

from accesslake import storage as lakefs
from accesslake.errors import ConfigError, QueryError
from accesslake.policy import HARD_LIMIT_HOURS
from accesslake.sqlfiles import SQL_ROOT, open_scripts
from accesslake.storage import LakePath
from accesslake.storage.auditlog import append_event

__all__ = ["VIEWS_SQL", "connect", "open_shell", "run_sql", "shell_command"]

VIEWS = "forensics/views"
VIEWS_SQL = SQL_ROOT / f"{VIEWS}.sql"
EVENT = "forensic.query"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


def _check_lake(lake: LakePath) -> LakePath:
    lake = lakefs.as_lake(lake)
    if not lake.is_dir():
        raise ConfigError(f"--lake: {lake} is not a lake folder; pass the folder that holds requests/ and held/")
    return lake


def _log(lake: LakePath, now: datetime, via: str, **details: object) -> None:
    append_event(lake, EVENT, now, via=via, user=_user(), **details)


def _open(lake: LakePath, now: datetime, max_age_hours: float) -> duckdb.DuckDBPyConnection:
    variables = {"lake": (lakefs.uri(lake), "varchar"), "now": (now, "timestamptz"),
                 "max_age_hours": (float(max_age_hours), "double")}
    return open_scripts(lake, ("empty_tables", VIEWS), variables, "the forensic views")


def connect(
    lake: LakePath, now: datetime | None = None, *, max_age_hours: float = HARD_LIMIT_HOURS
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the forensic views over ``lake``, at ``now`` (default: real clock).

    Appends one ``forensic.query`` line (``via = "connect"``) to the audit log.
    ``max_age_hours`` is the hard limit (policy ``max_age_hours``): main-dataset
    rows past it are not shown even if the nightly run has not anonymised them.
    """
    lake = _check_lake(lake)
    now = now or datetime.now(UTC)
    con = _open(lake, now, max_age_hours)
    _log(lake, now, "connect")
    return con


def run_sql(
    lake: LakePath, text: str, now: datetime | None = None, *, max_age_hours: float = HARD_LIMIT_HOURS
) -> pl.DataFrame:
    """Run one query against the forensic views (``accesslake sql --forensic``).

    The audit line (``via = "sql"``) records the query's SHA-256, appended
    before the query runs so that a failing query is on record too.
    """
    lake = _check_lake(lake)
    now = now or datetime.now(UTC)
    con = _open(lake, now, max_age_hours)
    try:
        _log(lake, now, "sql", query_sha256=hashlib.sha256(text.encode()).hexdigest())
        try:
            relation: duckdb.DuckDBPyRelation | None = con.sql(text)
            if relation is None:  # a statement without a result (SET, CREATE ...)
                return pl.DataFrame()
            return pl.DataFrame(pl.from_arrow(relation.to_arrow_table()))
        except duckdb.Error as exc:
            raise QueryError(f"forensic query failed: {exc}") from exc
    finally:
        con.close()


def shell_command(lake: LakePath, duckdb_cli: str = "duckdb", now: datetime | None = None) -> list[str]:
    """The DuckDB shell command line that opens the forensic views over ``lake``.

    ``duckdb -cmd "SET VARIABLE lake = '<lake>'" -cmd ".read <repo>/sql/empty_tables.sql"
    -cmd ".read <repo>/sql/forensics/views.sql"``
    (``-init`` would run before the variable is set); with ``now``, the clock is
    set too (otherwise the shell uses the real one).
    """
    lake = lakefs.as_lake(lake)
    if lakefs.local_path(lake) is None:
        raise ConfigError(
            f"--lake: {lake}: the DuckDB shell cannot read object storage here (no httpfs); "
            "use `accesslake sql --forensic` or the notebook's forensics.connect()"
        )
    quoted = lakefs.uri(lake).replace("'", "''")
    command = [duckdb_cli, "-cmd", f"SET VARIABLE lake = '{quoted}'"]
    if now is not None:
        command += ["-cmd", f"SET VARIABLE now = TIMESTAMPTZ '{now.astimezone(UTC).isoformat()}'"]
    return [*command, "-cmd", f".read {SQL_ROOT / 'empty_tables.sql'}", "-cmd", f".read {VIEWS_SQL}"]


def open_shell(lake: LakePath, now: datetime | None = None, *, duckdb_cli: str = "duckdb") -> int:
    """Log a ``forensic.query`` line (``via = "shell"``), then run the DuckDB shell; its exit code.

    ``now`` is logged and, when given, also set as the shell's clock.
    """
    lake = _check_lake(lake)
    shell_command(lake, duckdb_cli)  # refuses object storage before anything is logged
    program = shutil.which(duckdb_cli)
    if program is None:
        raise ConfigError(
            f"the DuckDB shell {duckdb_cli!r} is not on PATH; install it with `uv pip install duckdb-cli` "
            "(or use `accesslake sql --forensic`)"
        )
    _log(lake, now or datetime.now(UTC), "shell")
    return subprocess.run(shell_command(lake, program, now), check=False).returncode
