"""Inline SVG charts of the report: a line or stacked bar chart, and a weekday x hour heat map.

Pure functions returning escaped SVG markup (no script, no external resource).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from accesslake.analytics.report.html import esc, format_value, legend

__all__ = ["WEEKDAYS", "Series", "svg_chart", "svg_heatmap"]

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


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
    key = legend([(name, color) for name, _, color in series])
    return f"<figure>{''.join(out)}{key}</figure>"


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
    key = legend([("0", _heat_color(0)), (f"{peak:,} {what} (peak)", _heat_color(1))])
    return f"<figure>{''.join(out)}{key}</figure>"
