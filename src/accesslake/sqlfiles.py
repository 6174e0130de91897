"""Load and run the SQL models kept in ``sql/`` (one model per file).

Values are always bound as DuckDB ``$name`` parameters; identifiers come from
code. The folder is found beside the source tree (editable install) or inside
the installed package.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from accesslake.errors import AccesslakeError
from accesslake.storage import connect

__all__ = ["SQL_ROOT", "open_scripts", "query", "read_sql"]


def _root() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "sql", here.parents[1] / "sql"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the sql/ folder is missing (looked beside {here})")


SQL_ROOT = _root()


@cache
def read_sql(name: str) -> str:
    """The text of ``sql/<name>.sql`` (``name`` like ``checks/duplicate_rows``)."""
    return (SQL_ROOT / f"{name}.sql").read_text(encoding="utf-8")


def query(name: str, params: dict[str, Any], con: duckdb.DuckDBPyConnection | None = None) -> pl.DataFrame:
    """Run the model ``name`` with bound ``params`` and return the result as Polars."""
    connection = con or connect()
    try:
        table = connection.sql(read_sql(name), params=params).to_arrow_table()
        return pl.DataFrame(pl.from_arrow(table))
    finally:
        if con is None:
            connection.close()


def open_scripts(lake: Any, scripts: tuple[str, ...], variables: dict[str, tuple[Any, str]],
                 what: str) -> duckdb.DuckDBPyConnection:
    """A connection that can read ``lake``, in UTC, with ``variables`` set (name -> (value, SQL type),
    bound, never pasted) and the ``scripts`` of sql/ run in order; an error names the script and
    ``what`` it was to define."""
    con = connect(lake)
    script = scripts[0] if scripts else ""
    try:
        con.execute("set TimeZone = 'UTC'").fetchall()
        for name, (value, sql_type) in variables.items():
            con.execute(f"set variable {name} = $value::{sql_type}", {"value": value}).fetchall()
        for script in scripts:
            for statement in con.extract_statements(read_sql(script)):
                con.execute(statement).fetchall()
    except duckdb.Error as exc:
        con.close()
        raise AccesslakeError(f"sql/{script}.sql: cannot define {what} over {lake}: {exc}") from exc
    return con
