"""HTML building blocks of the report: escaping, number formats, tables, tiles.

Everything here returns a string of HTML with every text escaped (:func:`esc`)
and no script, style sheet or font: the report stays one self-contained file.
Numbers sit in elements with a ``data-value`` attribute holding the raw value
(:func:`number_span`, :func:`html_table`, :func:`tile`) so tests and scripts can
read figures back without parsing formatted text. Number kinds: ``int``,
``bytes``, ``pct``, ``ms``, ``s``, ``ratio``, ``compact``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "VISITORS", "Column", "details", "esc", "format_value", "html_table", "legend", "number_span", "ratio", "tile"]


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def format_value(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "bytes":
        size = float(value)
        for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
            if abs(size) < 1024 or unit == "TiB":
                return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
            size /= 1024
    if kind == "pct":
        return f"{value * 100:.1f}%"
    if kind == "ms":
        if value == 0:
            return "0"
        return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"
    if kind == "s":
        seconds = round(float(value))
        return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"
    if kind == "ratio":
        return f"{value:.2f}"
    if kind == "compact":
        number = float(value)
        for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
            if abs(number) >= size:
                return f"{number / size:.3g}{unit}"
        return f"{number:.3g}"
    return str(value)


def _raw(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else str(value)


def number_span(value: Any, kind: str, tag: str = "span") -> str:
    return f'<{tag} data-value="{esc(_raw(value))}">{esc(format_value(value, kind))}</{tag}>'


@dataclass(frozen=True)
class Column:
    label: str
    key: str
    kind: str = "text"  # text, int, bytes, pct, ms, s, ratio, flag
    bar: bool = False


def html_table(
    rows: Sequence[dict[str, Any]], cols: Sequence[Column], *, caption: str = "", empty: str = "No rows."
) -> str:
    if not rows:
        return f'<p class="empty">{esc(empty)}</p>'
    head = "".join(f'<th{"" if c.kind in ("text", "flag") else " class=n"}>{esc(c.label)}</th>' for c in cols)
    peaks = {c.key: max((r[c.key] or 0 for r in rows), default=0) for c in cols if c.bar}
    body = []
    for row in rows:
        cells = []
        for c in cols:
            value = row[c.key]
            if c.kind == "text":
                text = "" if value is None else str(value)
                short = text if len(text) <= 90 else text[:89] + "…"
                title = f' title="{esc(text)}"' if short != text else ""
                cells.append(f'<td class="t"{title}>{esc(short) if value is not None else "<i>none</i>"}</td>')
            elif c.kind == "flag":
                flag = "<span class=flag>approx.</span>" if value else ""
                cells.append(f'<td data-value="{_raw(bool(value))}">{flag}</td>')
            else:
                style = ""
                if c.bar and peaks[c.key]:
                    style = f' style="--w:{100 * (value or 0) / peaks[c.key]:.1f}%"'
                klass = "n bar" if c.bar else "n"
                number = esc(format_value(value, c.kind))
                cells.append(f'<td class="{klass}"{style} data-value="{esc(_raw(value))}">{number}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


#: The visitors column of the report's tables (a mart's ``count_visitors``, summed over days).
VISITORS = Column("Visitors", "visitors", "int")


def tile(key: str, label: str, value: Any, kind: str, sub: str = "") -> str:
    return (
        f'<div class="tile" data-key="{esc(key)}"><div class="label">{esc(label)}</div>'
        f'<div class="value">{number_span(value, kind)}</div><div class="sub">{sub}</div></div>'
    )


def details(summary: str, inner: str) -> str:
    return f"<details><summary>{esc(summary)}</summary>{inner}</details>"




def legend(items: Sequence[tuple[str, str]]) -> str:
    spans = "".join(f'<span><i style="background:{color}"></i>{esc(name)}</span>' for name, color in items)
    return f'<div class="legend">{spans}</div>'
