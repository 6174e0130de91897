"""The one way commands print: human text by default, JSON with ``--json``; broken pipes end quietly.

- :meth:`Output.emit` prints a command's result: its payload as JSON with ``--json``,
  else its human lines;
- :meth:`Output.table` renders rows as an aligned table (``rich``) that never cuts a
  value: on a terminal too narrow for it, each row is printed as a block of
  ``column  value`` lines instead; into a pipe or file, lines are as long as they need;
- :meth:`Output.note` says something about the output on stderr (never on stdout);
- :meth:`Output.progress` gives the progress hook of a long library call: a progress
  display on a terminal's stderr, nothing when stderr is not a terminal or with ``--json``.

Values shown to a person have their control characters escaped (``\\x1b`` and the
like), so a hostile log line cannot drive the terminal.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from accesslake.config import Progress

__all__ = ["Output", "display", "json_value", "plain", "render_table", "scalar_text"]

#: Width used when stdout is not a terminal: a table's lines are as long as they need.
UNLIMITED = 1_000_000

_CONTROL = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
_CONTROL.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})


def json_value(value: Any) -> Any:
    """A scalar as JSON wants it: exact numbers as numbers (DECIMAL and HUGEINT too), NaN and
    infinities as null, times as ISO-8601 text, bytes as escaped text."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _bytes_text(bytes(value))
    return value


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses, paths, dates, decimals and frames turned into plain types."""
    if is_dataclass(value) and not isinstance(value, type):
        return {k: plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_dicts"):
        return plain(value.to_dicts())
    if hasattr(value, "to_dict"):
        return plain(value.to_dict())
    return json_value(value)


def _bytes_text(data: bytes) -> str:
    return "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x5C else f"\\x{b:02x}" for b in data)


def scalar_text(value: Any, null: str) -> str:
    """One value as text (CSV fields, table cells): exact numbers, ISO-8601 times, lists and structs
    as JSON, ``null`` for NULL."""
    if value is None:
        return null
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(plain(value), ensure_ascii=False, default=str)
    if isinstance(value, float):
        return repr(value)
    found = json_value(value)
    return found if isinstance(found, str) else str(value)


def display(value: Any) -> str:
    """One value as a person reads it in a table: whole, on one line, control characters escaped."""
    return scalar_text(value, "NULL").translate(_CONTROL)


def _console(width: int, stream: Any = None) -> Any:
    from rich.console import Console

    return Console(file=stream or sys.stdout, width=width, color_system=None, highlight=False, markup=False,
                   emoji=False, soft_wrap=False, force_terminal=False)


def render_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, width: int = UNLIMITED,
                 right: Sequence[str] = ()) -> str:
    """``rows`` under ``columns`` as an aligned text table whose lines fit ``width``.

    Every value is shown whole; when the table cannot fit ``width`` without cutting or
    folding a value, each row becomes a block of ``column  value`` lines instead.
    ``right`` names the columns aligned right (numbers).
    """
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, safe_box=True)
    for name in columns:
        table.add_column(display(name), justify="right" if name in right else "left",
                         overflow="fold")
    cells = [[display(value) for value in row] for row in rows]
    for row in cells:
        table.add_row(*row)
    if _console(UNLIMITED).measure(table).maximum > width:  # measured without the width's cap
        return _records(columns, cells)
    console = _console(width)
    with console.capture() as captured:
        console.print(table)
    return "".join(f"{line.rstrip()}\n" for line in str(captured.get()).splitlines())


def _records(columns: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    names = [display(name) for name in columns]
    pad = max((len(name) for name in names), default=0)
    blocks = []
    for number, row in enumerate(cells, 1):
        lines = [f"-- row {number} " + "-" * max(0, pad + 6 - len(str(number)))]
        lines += [f"{name:<{pad}}  {value}" for name, value in zip(names, row)]
        blocks.append("\n".join(lines))
    return "\n".join(blocks) + "\n"


class Output:
    """Where a command's result goes: stdout, as text lines or as JSON; notes and progress on stderr."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def emit(self, payload: Any, text: str | Sequence[str]) -> None:
        """Print ``payload`` as JSON with ``--json``, else the human ``text``."""
        if self.as_json:
            self.write(json.dumps(plain(payload), indent=2, default=str, ensure_ascii=False) + "\n")
        else:
            self.write((text if isinstance(text, str) else "\n".join(text)) + "\n")

    def write(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def note(self, text: str) -> None:
        """One line about the output or what a command did first, on stderr."""
        print(f"accesslake: {text}", file=sys.stderr)

    def width(self) -> int:
        """The terminal's width when stdout is one, else no limit."""
        if not _is_terminal(sys.stdout):
            return UNLIMITED
        from shutil import get_terminal_size

        return max(20, get_terminal_size().columns)

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, right: Sequence[str] = ()) -> str:
        """``rows`` as a table for this output (:func:`render_table` at the terminal's width)."""
        return render_table(columns, rows, width=self.width(), right=right)

    @contextmanager
    def progress(self) -> Iterator[Progress | None]:
        """The progress hook for a long call: drawn on stderr when it is a terminal, else None."""
        if self.as_json or not _is_terminal(sys.stderr):
            yield None
            return
        from accesslake.cli.progress import TerminalProgress

        with TerminalProgress(sys.stderr) as hook:
            yield hook


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False
