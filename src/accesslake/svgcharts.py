"""HTML building blocks of the report: inline SVG charts, tables, tiles, number formats.

Everything here returns a string of HTML with every text escaped
(:func:`esc`) and no script, style sheet or font: the report stays one
self-contained file. Numbers sit in elements with a ``data-value`` attribute
holding the raw value (:func:`number_span`, :func:`html_table`, :func:`tile`)
so tests and scripts can read figures back without parsing formatted text.

* :func:`svg_chart`: a line chart or a stacked bar chart;
* :func:`svg_heatmap`: a weekday x hour grid;
* :func:`html_table` (columns described by :class:`Column`), :func:`tile`,
  :func:`details`;
* :func:`format_value` (kinds ``int``, ``bytes``, ``pct``, ``ms``, ``s``,
  ``ratio``, ``compact``), :func:`number_span`, :func:`ratio`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "WEEKDAYS",
    "Column",
    "Series",
    "details",
    "esc",
    "format_value",
    "html_table",
    "number_span",
    "ratio",
    "svg_chart",
    "svg_heatmap",
    "tile",
]

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


# ---------------------------------------------------------------- formatting


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


def tile(key: str, label: str, value: Any, kind: str, sub: str = "") -> str:
    return (
        f'<div class="tile" data-key="{esc(key)}"><div class="label">{esc(label)}</div>'
        f'<div class="value">{number_span(value, kind)}</div><div class="sub">{sub}</div></div>'
    )


def _legend(items: Sequence[tuple[str, str]]) -> str:
    spans = "".join(f'<span><i style="background:{color}"></i>{esc(name)}</span>' for name, color in items)
    return f'<div class="legend">{spans}</div>'


def details(summary: str, inner: str) -> str:
    return f"<details><summary>{esc(summary)}</summary>{inner}</details>"


# ---------------------------------------------------------------- SVG charts


def _ticks(peak: float, count: int = 4) -> list[float]:
    if peak <= 0:
        return [0.0, 1.0]
    raw = peak / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(math.ceil(peak / step - 1e-9) + 1)]


Series = tuple[str, Sequence[float | None], str]  # name, values, colour


def svg_chart(
    labels: Sequence[str], series: Sequence[Series], *, kind: str, label: str, fmt: str = "int",
    height: int = 210, width: int = 640, xticks: Sequence[tuple[int, str]] | None = None,
) -> str:
    """A line chart (``kind='line'``) or a stacked bar chart (``kind='bars'``), x = labels."""
    left, right, top, bottom = 58, 10, 10, 26
    pw, ph = width - left - right, height - top - bottom
    count = max(len(labels), 1)
    if kind == "bars":
        peak = max((sum(v[i] or 0 for _, v, _ in series) for i in range(len(labels))), default=0)
    else:
        peak = max((v for _, vals, _ in series for v in vals if v is not None), default=0)
    ticks = _ticks(float(peak))
    scale = ticks[-1]

    def x(i: float) -> float:
        return left + pw * (i + 0.5) / count

    def y(v: float) -> float:
        return top + ph - ph * v / scale

    out = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{esc(label)}">']
    for tick in ticks:
        out.append(f'<line class="grid-line" x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>')
        tick_text = esc(format_value(tick, "compact" if fmt == "int" else fmt))
        out.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick_text}</text>')
    out.append(f'<line class="axis" x1="{left}" x2="{width - right}" y1="{top + ph}" y2="{top + ph}"/>')
    if xticks is None:
        xticks = list(enumerate(labels))
    if xticks:
        room = max(1, int(pw / (max(len(t) for _, t in xticks) * 6.5 + 14)))
        xticks = list(xticks)[:: math.ceil(len(xticks) / room)]
    for i, text in xticks:
        out.append(f'<text x="{x(i):.1f}" y="{height - 8}" text-anchor="middle">{esc(text)}</text>')
    if kind == "bars":
        band = pw / count * (0.72 if count < 60 else 0.9)
        base = [0.0] * len(labels)
        for name, values, color in series:
            for i, value in enumerate(values):
                if not value:
                    continue
                y0, y1 = y(base[i]), y(base[i] + value)
                out.append(
                    f'<rect x="{x(i) - band / 2:.1f}" y="{y1:.1f}" width="{band:.1f}" height="{y0 - y1:.1f}" '
                    f'fill="{color}">'
                    f"<title>{esc(labels[i])}: {esc(name)} {esc(format_value(value, fmt))}</title></rect>"
                )
                base[i] += value
    else:
        for name, values, color in series:
            points = [(x(i), y(v), i, v) for i, v in enumerate(values) if v is not None]
            if len(points) > 1:
                path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in points)
                out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
            for px, py, i, v in points:
                out.append(
                    f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color}">'
                    f"<title>{esc(labels[i])}: {esc(name)} {esc(format_value(v, fmt))}</title></circle>"
                )
    out.append("</svg>")
    legend = _legend([(name, color) for name, _, color in series])
    return f"<figure>{''.join(out)}{legend}</figure>"


def _heat_color(share: float) -> str:
    low, high = (240, 244, 250), (8, 69, 148)
    r, g, b = (round(lo + (hi - lo) * share) for lo, hi in zip(low, high))
    return f"rgb({r},{g},{b})"


def svg_heatmap(grid: list[list[int]], *, label: str, what: str) -> str:
    cell_w, cell_h, left, top = 48, 24, 44, 18
    width, height = left + 24 * cell_w + 4, top + 7 * cell_h + 4
    peak = max((v for row in grid for v in row), default=0)
    out = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{esc(label)}">']
    for hour in range(24):
        out.append(f'<text x="{left + hour * cell_w + cell_w / 2:.1f}" y="12" text-anchor="middle">{hour:02d}</text>')
    for day, row in enumerate(grid):
        yy = top + day * cell_h
        out.append(f'<text x="{left - 6}" y="{yy + cell_h / 2 + 4:.1f}" text-anchor="end">{WEEKDAYS[day]}</text>')
        for hour, value in enumerate(row):
            color = _heat_color(value / peak if peak else 0)
            out.append(
                f'<rect x="{left + hour * cell_w + 1}" y="{yy + 1}" width="{cell_w - 2}" height="{cell_h - 2}" rx="2" '
                f'fill="{color}" data-value="{value}"><title>{WEEKDAYS[day]} {hour:02d}:00–{hour + 1:02d}:00: '
                f"{value:,} {esc(what)}</title></rect>"
            )
    out.append("</svg>")
    legend = _legend([("0", _heat_color(0)), (f"{peak:,} {what} (peak)", _heat_color(1))])
    return f"<figure>{''.join(out)}{legend}</figure>"
