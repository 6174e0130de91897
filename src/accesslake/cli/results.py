"""Query results (``accesslake sql``) as a table, CSV, JSON or Markdown.

- ``table``: aligned columns for a person (:meth:`Output.table`: whole values, one block per
  row when the terminal is too narrow);
- ``csv``: RFC 4180 with a header line (NULL is an empty field; lists and structs as JSON);
- ``json``: a list of objects, numbers as numbers (DECIMAL and HUGEINT sums too), times as
  ISO-8601 text, NULL, NaN and infinities as null;
- ``markdown``: a GitHub table (``|`` escaped, newlines as ``<br>``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import polars as pl

from accesslake.cli.output import Output, display, plain, scalar_text

__all__ = ["FORMATS", "TABLE_ROWS", "print_result"]

FORMATS = ("table", "csv", "json", "markdown")

#: Rows a table or Markdown shows unless --limit says otherwise (CSV and JSON print every row).
TABLE_ROWS = 50

#: Rows written per chunk: a big result goes out while it is formatted, and a closed pipe stops it early.
_CHUNK = 2_000


def _numeric(frame: pl.DataFrame) -> list[str]:
    return [name for name, dtype in frame.schema.items() if dtype.is_numeric()]


def _chunks(frame: pl.DataFrame) -> Iterator[list[tuple[Any, ...]]]:
    for start in range(0, frame.height, _CHUNK):
        yield frame.slice(start, _CHUNK).rows()


def _csv(out: Output, frame: pl.DataFrame) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(frame.columns)
    for rows in _chunks(frame):
        writer.writerows([scalar_text(v, "") for v in row] for row in rows)
        out.write(buffer.getvalue())
        buffer.seek(0)
        buffer.truncate()
    out.write(buffer.getvalue())


def _json(out: Output, frame: pl.DataFrame) -> None:
    names = frame.columns
    if frame.height == 0:
        out.write("[]\n")
        return
    first = True
    for rows in _chunks(frame):
        parts = []
        for row in rows:
            item = {name: plain(value) for name, value in zip(names, row)}
            parts.append(("[\n  " if first else ",\n  ") + json.dumps(item, ensure_ascii=False, default=str))
            first = False
        out.write("".join(parts))
    out.write("\n]\n")


def _markdown_cell(value: Any) -> str:
    if isinstance(value, str):
        value = value.replace("\r\n", "\n").replace("\n", "<br>")
    return display(value).replace("|", "\\|")


def _markdown(out: Output, frame: pl.DataFrame) -> None:
    numeric = set(_numeric(frame))
    lines = ["| " + " | ".join(_markdown_cell(name) for name in frame.columns) + " |",
             "|" + "|".join("---:" if name in numeric else "---" for name in frame.columns) + "|"]
    lines += ["| " + " | ".join(_markdown_cell(v) for v in row) + " |" for row in frame.rows()]
    out.write("\n".join(lines) + "\n")


def print_result(out: Output, frame: pl.DataFrame, fmt: str, *, more: bool) -> None:
    """Print ``frame`` in ``fmt``; ``more``: the query has rows past ``frame`` (said on stderr)."""
    if fmt == "csv":
        _csv(out, frame)
    elif fmt == "json":
        _json(out, frame)
    elif fmt == "markdown":
        _markdown(out, frame)
    elif frame.width == 0:
        out.write("(no columns)\n")
    else:
        out.write(out.table(frame.columns, frame.rows(), right=_numeric(frame)) if frame.height
                  else "(no rows) columns: " + ", ".join(frame.columns) + "\n")
    if more:
        out.note(f"showing the first {frame.height} rows; --limit N shows more, --format csv prints them all")
