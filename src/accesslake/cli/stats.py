"""The human text of ``accesslake stats``: the selection in words, the headline figures, a table per day."""

from __future__ import annotations

from datetime import date
from typing import Any

from accesslake.cli.output import Output

__all__ = ["stats_lines"]

_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB")
_PER_DAY = ("date", "site", "requests", "page views", "visits", "visitors", "bytes")


def _size(value: int) -> str:
    amount, unit = float(value), 0
    while amount >= 1024 and unit < len(_UNITS) - 1:
        amount, unit = amount / 1024, unit + 1
    return f"{value:,} bytes" if unit == 0 else f"{amount:,.1f} {_UNITS[unit]} ({value:,} bytes)"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _period(first: date | None, last: date | None, days: int) -> str:
    if first is None or last is None:
        return "no days"
    span = first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"
    return f"{span} ({days} day{'s' if days != 1 else ''})"


def selection(stats: dict[str, Any]) -> str:
    """``site www, 2026-11-20 to 2026-11-29 (10 days)``, or ``all sites, ...``."""
    who = f"site {stats['site']}" if stats.get("site") else "all sites"
    first = stats.get("start") or stats.get("first_day")
    last = stats.get("end") or stats.get("last_day")
    return f"{who}, {_period(first, last, stats['days'])}"


def _count(value: int | None) -> str:
    """A count, or "not known" (visitor figures of days whose IPs were never stored)."""
    return "not known" if value is None else f"{value:,}"


def stats_lines(stats: dict[str, Any], out: Output) -> list[str]:
    """``stats`` (:func:`accesslake.analytics.headline_stats`) as lines for a person."""
    head = selection(stats)
    if not stats["per_day"]:
        if stats.get("site") or stats.get("start") or stats.get("end"):
            return [f"{head.split(', no days')[0]}: no statistics for this selection (`accesslake stats` shows "
                    "every site and day)"]
        return ["no statistics yet: ingest a log first (`accesslake ingest FILE`, or in one step "
                "`accesslake report FILE --out report.html`)"]
    status = stats["status"]
    lines = [
        head,
        f"  requests         {stats['requests']:,}",
        f"  page views       {stats['page_views']:,}",
        f"  visits           {_count(stats['visits'])}",
        f"  unique visitors  {_count(stats['unique_visitors'])}" + (" (sum of the daily figures)"
                                                                    if stats["days"] > 1 else ""),
        f"  transferred      {_size(stats['bytes'])}",
        "  status           " + ", ".join(f"{cls} {status[cls]:,}" for cls in ("2xx", "3xx", "4xx", "5xx")),
        f"  error rate       {_share(stats['error_rate'])} (4xx and 5xx)",
        f"  bot share        {_share(stats['bot_share'])}",
    ]
    unknown = stats.get("visitor_days_unknown", 0)
    if unknown:
        lines.append(f"  (visitors and visits not known for {unknown} day(s): their lines arrived after "
                     "anonymize_after, so their IPs were never stored; they are left out of the visitor figures)")
    if stats["is_approximate"] and unknown < len(stats["per_day"]):
        lines.append("  (approximate: some days' visitor figures were built after their IPs were anonymised)")
    rows = [(d["date"], d["site"], d["requests"], d["page_views"], _count(d["visits"]), _count(d["unique_visitors"]),
             d["bytes"]) for d in stats["per_day"]]
    lines += ["", "per day:", out.table(_PER_DAY, rows, right=_PER_DAY[2:]).rstrip("\n")]
    return lines
