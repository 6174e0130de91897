"""The HTML report: one self-contained file with GoAccess's panels and more.

:func:`write_report` reads the marts through the analyst views
(:func:`accesslake.views.connect`, the definitions the notebooks and
``accesslake sql`` use) with the queries of ``report_assets/queries.sql`` and
writes ONE HTML file: inline CSS (``report_assets/report.css``), charts as
inline SVG (drawn by :mod:`accesslake.svgcharts`), no script, no font, no
image, no link to anything. A Content-Security-Policy meta tag
(``default-src 'none'``) makes the browser refuse any load the page might
still attempt, so opening the report makes no network request.

Every string from the lake is escaped (:func:`html.escape`). Each panel is a
``<section class="panel" id="...">`` with an id from :data:`PANELS`; every
number sits in an element with a ``data-value`` attribute holding the raw
value (tiles also carry ``data-key``), so tests and scripts can read the
figures back without parsing formatted text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from accesslake import __version__, views
from accesslake.config import Settings
from accesslake.errors import AccesslakeError, ConfigError
from accesslake.svgcharts import (
    WEEKDAYS,
    Column,
    details,
    esc,
    format_value,
    html_table,
    number_span,
    ratio,
    svg_chart,
    svg_heatmap,
    tile,
)

__all__ = ["CSP", "PANELS", "ReportResult", "write_report"]

ASSETS = Path(__file__).resolve().parent / "report_assets"

#: The page's Content-Security-Policy: nothing may be loaded; inline styles only.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

#: Panel ids in page order, with their titles.
PANELS: dict[str, str] = {
    "headline": "Headline",
    "traffic": "Traffic per day",
    "weekday-hours": "When people come: weekday x hour",
    "pages": "Top pages",
    "referrers": "Referring sites",
    "entry-exit": "Entry and exit pages",
    "visits": "Visits: duration, pages per visit, bounces",
    "search-engines": "Search engines",
    "campaigns": "Campaigns (UTM tags)",
    "methods": "Methods and protocols",
    "clients": "Browsers, operating systems, devices",
    "status-codes": "Status codes",
    "broken-links": "Broken links (404)",
    "status-paths": "Server errors, other client errors and redirects by path",
    "bandwidth": "Bandwidth by content type and largest resources",
    "crawlers": "Crawlers and scripts",
    "response-times": "Response times",
}
_WIDE = {
    "headline", "traffic", "weekday-hours", "entry-exit", "clients", "status-codes", "broken-links", "status-paths",
    "bandwidth", "crawlers", "response-times",
}

_COLORS = ("#0b5cad", "#e08a00", "#2a9d5c", "#c23b22", "#7b4fa0")
_STATUS_COLORS = {"2xx": "#2a9d5c", "3xx": "#4a90d9", "4xx": "#e08a00", "5xx": "#c23b22", "other": "#8a8f98"}


@dataclass
class ReportResult:
    """What :func:`write_report` wrote."""

    path: str
    site: str | None
    start: str | None
    end: str | None
    days: int
    requests: int
    is_empty: bool
    size_bytes: int
    panels: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        period = f"{self.start} to {self.end}" if self.days else "no data"
        return [
            f"report: {self.path} ({self.size_bytes / 1024:.0f} KiB, {len(self.panels)} panels)",
            f"site {self.site or 'all sites'}, {period}, {self.days} day(s), {self.requests} requests",
        ]


def write_report(
    settings: Settings,
    out: Path,
    *,
    now: datetime,
    site: str | None = None,
    start: date | None = None,
    end: date | None = None,
    top: int = 20,
) -> ReportResult:
    """Write the HTML report of ``site`` (all when None), UTC days ``start``..``end`` inclusive, to ``out``."""
    if start is not None and end is not None and start > end:
        raise ConfigError(f"--from {start} is after --to {end}; give a start day on or before the end day")
    if top < 1:
        raise ConfigError(f"top: {top} rows per table; give 1 or more")
    data = _gather(settings.lake, {"site": site, "start": start, "end": end, "top": top})
    context = _Context(settings=settings, now=now, site=site, start=start, end=end, data=data)
    text = _render(context)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AccesslakeError(f"{out}: cannot write the report: {exc.strerror or exc}") from exc
    daily = data["daily"]
    return ReportResult(
        path=str(out), site=site,
        start=str(daily[0]["date"]) if daily else (start.isoformat() if start else None),
        end=str(daily[-1]["date"]) if daily else (end.isoformat() if end else None),
        days=len(daily), requests=context.total("requests"), is_empty=not daily,
        size_bytes=len(text.encode("utf-8")), panels=list(PANELS),
    )


# ---------------------------------------------------------------- data


@cache
def _queries() -> dict[str, str]:
    text = (ASSETS / "queries.sql").read_text(encoding="utf-8")
    blocks = re.split(r"^-- name: (\w+)[ \t]*$", text, flags=re.MULTILINE)
    return {blocks[i]: blocks[i + 1].strip().rstrip(";") for i in range(1, len(blocks), 2)}


def _gather(lake: Path, params: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    con = views.connect(lake)
    try:
        data = {}
        for name, sql in _queries().items():
            used = set(re.findall(r"\$(\w+)", re.sub(r"--[^\n]*", "", sql)))
            try:
                cursor = con.execute(sql, {k: v for k, v in params.items() if k in used})
                columns = [d[0] for d in cursor.description]
                data[name] = [dict(zip(columns, row)) for row in cursor.fetchall()]
            except duckdb.Error as exc:
                raise AccesslakeError(f"report_assets/queries.sql, query {name}: {exc}") from exc
        return data
    finally:
        con.close()


@dataclass
class _Context:
    settings: Settings
    now: datetime
    site: str | None
    start: date | None
    end: date | None
    data: dict[str, list[dict[str, Any]]]

    def rows(self, name: str, **where: Any) -> list[dict[str, Any]]:
        return [r for r in self.data[name] if all(r[k] == v for k, v in where.items())]

    def total(self, column: str, name: str = "daily", **where: Any) -> int:
        return int(sum(r[column] or 0 for r in self.rows(name, **where)))


# ---------------------------------------------------------------- panels


def _panel_headline(c: _Context) -> str:
    daily = c.data["daily"]
    requests = c.total("requests")
    errors = c.total("count_4xx") + c.total("count_5xx")
    humans = c.rows("visits", is_bot=False)
    visits = sum(r["visits"] for r in humans)
    days = len(daily)
    per_day = f"≈ {format_value(requests / days, 'int')} per day" if days else ""
    tiles = [
        tile("requests", "Requests", requests, "int", esc(per_day)),
        tile("page_views", "Page views", c.total("page_views"), "int", "requests of pages, not assets"),
        tile("visits", "Visits", c.total("visits"), "int", "30-minute sessions, crawlers included"),
        tile("unique_visitors", "Unique visitors", c.total("unique_visitors"), "int", "GoAccess definition, see note"),
        tile("bytes", "Data sent", c.total("bytes"), "bytes", esc(f"{c.total('bytes'):,} bytes")),
        tile("error_rate", "Error rate", ratio(errors, requests), "pct",
              esc(f"{c.total('count_4xx'):,} 4xx + {c.total('count_5xx'):,} 5xx")),
        tile("bot_share", "Bot share", ratio(c.total("bot_requests"), requests), "pct",
              esc(f"{c.total('bot_requests'):,} requests of crawlers and scripts")),
        tile("bounce_rate", "Bounce rate (people)", ratio(sum(r["bounces"] for r in humans), visits), "pct",
              "one-page visits, crawlers left out"),
        tile("pages_per_visit", "Pages per visit", ratio(sum(r["page_views"] for r in humans), visits), "ratio",
              "people"),
        tile("avg_visit_s", "Visit duration", ratio(sum(r["duration_s"] or 0 for r in humans), visits), "s",
              "average, first to last page"),
    ]
    approximate = [str(r["date"]) for r in daily if r["is_approximate"]]
    notes = [
        "<b>Unique visitors</b> follow GoAccess's definition so the figures compare: distinct client IP, "
        "day and user agent among requests not answered 4xx, counted per UTC day; over several days the "
        "daily figures are summed (someone who comes back on three days counts three times).",
    ]
    if approximate:
        notes.append(
            f'<span class=flag data-key="approximate_days" data-value="{len(approximate)}">Approximate:</span> '
            f"visitor figures (visitors, visits, bounces, entry/exit pages, campaigns, referring pages) of "
            f"{esc(', '.join(approximate))} were rebuilt after the day was anonymised: carried over from the "
            "earlier build plus late rows, so a returning visitor may count twice."
        )
    else:
        notes.append(
            '<span data-key="approximate_days" data-value="0">Every visitor figure is exact</span>: '
            "no day was rebuilt after anonymisation."
        )
    if _in_progress(c):
        notes.append(f"{esc(_in_progress(c))} is still in progress at {esc(_stamp(c.now))}: its figures are partial.")
    return f'<div class="tiles">{"".join(tiles)}</div>' + "".join(f'<p class="note">{n}</p>' for n in notes)


def _in_progress(c: _Context) -> str:
    """The last day of the report when it has not ended at ``now`` (UTC), else ''."""
    daily = c.data["daily"]
    if daily and daily[-1]["date"] >= c.now.astimezone(timezone.utc).date():
        return str(daily[-1]["date"])
    return ""


def _day_labels(c: _Context) -> list[str]:
    return [r["date"].strftime("%a %d %b") for r in c.data["daily"]]


def _day_ticks(c: _Context) -> list[tuple[int, str]]:
    return [(i, r["date"].strftime("%d %b")) for i, r in enumerate(c.data["daily"])]


def _panel_traffic(c: _Context) -> str:
    daily, labels = c.data["daily"], _day_labels(c)
    left = svg_chart(labels, [("Requests", [r["requests"] for r in daily], _COLORS[0]),
                           ("Page views", [r["page_views"] for r in daily], _COLORS[1])],
                  kind="line", label="Requests and page views per day", width=580, xticks=_day_ticks(c))
    right = svg_chart(labels, [("Visits", [r["visits"] for r in daily], _COLORS[2]),
                            ("Unique visitors", [r["unique_visitors"] for r in daily], _COLORS[4])],
                   kind="line", label="Visits and unique visitors per day", width=580, xticks=_day_ticks(c))
    hourly = c.data["hourly"]
    hour_labels = [r["hour_at"].astimezone(timezone.utc).strftime("%a %d %b %H:00 UTC") for r in hourly]
    xticks = [(i, r["hour_at"].strftime("%d %b")) for i, r in enumerate(hourly) if r["hour_at"].hour == 0]
    load = svg_chart(hour_labels, [("People", [r["requests"] - r["bot_requests"] for r in hourly], _COLORS[0]),
                                ("Crawlers and scripts", [r["bot_requests"] for r in hourly], _COLORS[1])],
                  kind="bars", label="Requests per UTC hour", height=170, width=1190, xticks=xticks)
    rows = [{**r, "error_rate": ratio(r["count_4xx"] + r["count_5xx"], r["requests"]),
             "bot_share": ratio(r["bot_requests"], r["requests"])} for r in daily]
    table = html_table(rows, [
        Column("Day (UTC)", "date"), Column("Requests", "requests", "int", True),
        Column("Page views", "page_views", "int"),
        Column("Visits", "visits", "int"), Column("Unique visitors", "unique_visitors", "int"),
        Column("Data sent", "bytes", "bytes"), Column("Error rate", "error_rate", "pct"),
        Column("Bot share", "bot_share", "pct"), Column("Visitors approx.", "is_approximate", "flag"),
    ])
    partial = _in_progress(c)
    note = f'<p class="note">{esc(partial)} is still in progress: its figures are partial.</p>' if partial else ""
    return (
        f'<div class="cols"><div><h3>Requests and page views</h3>{left}</div>'
        f"<div><h3>Visits and unique visitors</h3>{right}</div></div>{note}"
        f"<h3>Requests per hour (UTC)</h3>{load}{table}"
    )


def _panel_weekday_hours(c: _Context) -> str:
    grid = [[0] * 24 for _ in range(7)]
    for r in c.data["weekday_hours"]:
        grid[r["local_weekday"] - 1][r["local_hour"]] = int(r["human_page_views"])
    occurrences = [0] * 7
    for r in c.data["daily"]:
        occurrences[r["date"].isoweekday() - 1] += 1
    peak = max(((v, d, h) for d, row in enumerate(grid) for h, v in enumerate(row)), default=(0, 0, 0))
    note = (
        f"Page views of people (crawlers left out), by weekday and hour in the site time zone "
        f"{esc(c.settings.site_tz)}, summed over the period."
    )
    if peak[0]:
        note += f" Busiest: {WEEKDAYS[peak[1]]} {peak[2]:02d}:00–{peak[2] + 1:02d}:00 ({peak[0]:,} page views)."
    if len(set(occurrences)) > 1:
        note += " Weekdays that occur more often weigh more; UTC days in the period: " + ", ".join(
            f"{WEEKDAYS[i]} ×{n}" for i, n in enumerate(occurrences) if n) + "."
    rows = [{"weekday": WEEKDAYS[d], **{f"h{h:02d}": grid[d][h] for h in range(24)}} for d in range(7)]
    table = html_table(rows, [Column("", "weekday")] + [Column(f"{h:02d}", f"h{h:02d}", "int") for h in range(24)])
    heatmap = svg_heatmap(grid, label="Page views by weekday and hour", what="page views")
    return f'<p class="note">{note}</p>{heatmap}' + details("Data table", table)


def _panel_pages(c: _Context) -> str:
    rows = c.data["pages"]
    caption = f"Top {len(rows)} of {rows[0]['total_rows']:,} pages by page views of people." if rows else ""
    return html_table(rows, [
        Column("Page", "path"), Column("Views (people)", "human_page_views", "int", True),
        Column("Crawlers", "bot_page_views", "int"), Column("Errors", "errors", "int"),
        Column("Data sent", "bytes", "bytes"),
    ], caption=caption)


def _panel_entry_exit(c: _Context) -> str:
    entries = html_table(c.data["entry_pages"], [
        Column("Entry page", "path"), Column("Visits", "entries", "int", True),
        Column("Bounce rate", "bounce_rate", "pct"), Column("", "is_approximate", "flag"),
    ])
    exits = html_table(c.data["exit_pages"], [
        Column("Exit page", "path"), Column("Visits", "exits", "int", True), Column("", "is_approximate", "flag"),
    ])
    return (
        '<p class="note">First and last page of visits of people. Bounce rate: visits of one page '
        f'that entered here.</p><div class="cols"><div><h3>Entry pages</h3>{entries}</div>'
        f"<div><h3>Exit pages</h3>{exits}</div></div>"
    )


def _panel_visits(c: _Context) -> str:
    humans = c.rows("visits", is_bot=False)
    rows = [
        {**r, "bounce_rate": ratio(r["bounces"], r["visits"]), "pages_per_visit": ratio(r["page_views"], r["visits"])}
        for r in humans
    ]
    bots = c.total("visits", "visits", is_bot=True)
    table = html_table(rows, [
        Column("Duration", "duration_bucket"), Column("Visits", "visits", "int", True),
        Column("Bounce rate", "bounce_rate", "pct"), Column("Pages per visit", "pages_per_visit", "ratio"),
        Column("", "is_approximate", "flag"),
    ], caption="A visit runs from its first to its last page view: a bounce lasts 0 s.")
    return (
        f'<p class="note">Visits of people: page views with no gap over 30 minutes. Crawler visits, '
        f"left out here: {number_span(bots, 'int')}.</p>{table}"
    )


def _panel_referrers(c: _Context) -> str:
    rows = c.data["referrers"]
    caption = f"Top {len(rows)} of {rows[0]['total_rows']:,} hosts." if rows else ""
    note = '<p class="note">Other sites whose pages sent visitors; the site\'s own hosts are left out.</p>'
    return note + html_table(
        rows, [Column("Referring host", "referrer_host"), Column("Page views", "page_views", "int", True),
               Column("Requests", "requests", "int"), Column("Bots", "bot_requests", "int")],
        caption=caption, empty="No referrer from another site.")


def _panel_search_engines(c: _Context) -> str:
    return html_table(c.data["search_engines"], [
        Column("Search engine", "search_engine"), Column("Page views", "page_views", "int", True),
        Column("Requests", "requests", "int"), Column("Hosts (max/day)", "referrer_hosts", "int"),
    ], empty="No visitor came from a known search engine.")


def _panel_campaigns(c: _Context) -> str:
    return html_table(c.data["campaigns"], [
        Column("Source", "utm_source"), Column("Medium", "utm_medium"), Column("Campaign", "utm_campaign"),
        Column("Requests", "requests", "int", True), Column("Page views", "page_views", "int"),
        Column("Bots", "bot_requests", "int"), Column("", "is_approximate", "flag"),
    ], empty="No request carried utm_source, utm_medium or utm_campaign.")


def _panel_clients(c: _Context) -> str:
    parts = []
    for dimension, title in (("browser", "Browser"), ("os", "Operating system"), ("device", "Device")):
        rows = c.rows("clients", dimension=dimension)
        total = sum(r["page_views"] for r in rows)
        rows = [{**r, "share": ratio(r["page_views"], total)} for r in rows[:12]]
        parts.append(f"<div><h3>{title}</h3>" + html_table(rows, [
            Column(title, "value"), Column("Page views", "page_views", "int", True),
            Column("Share", "share", "pct"), Column("Requests", "requests", "int"),
        ]) + "</div>")
    note = '<p class="note">People only (crawlers: see Crawlers). Families by ua-parser.</p>'
    return note + '<div class="cols">' + "".join(parts) + "</div>"


def _panel_status_codes(c: _Context) -> str:
    daily = c.data["daily"]
    chart = svg_chart(_day_labels(c), [(cls, [r[f"count_{cls}"] for r in daily], _STATUS_COLORS[cls])
                                    for cls in ("2xx", "3xx", "4xx", "5xx")], kind="bars",
                   label="Requests per day by status class", height=220, width=390, xticks=_day_ticks(c))
    errors = svg_chart(_day_labels(c), [(cls, [r[f"count_{cls}"] for r in daily], _STATUS_COLORS[cls])
                                     for cls in ("4xx", "5xx")], kind="line",
                    label="Client and server errors per day", height=220, width=390, xticks=_day_ticks(c))
    codes = html_table(c.data["status_codes"], [
        Column("Status", "status", "text"), Column("Class", "status_class"),
        Column("Requests", "requests", "int", True),
        Column("Bots", "bot_requests", "int"), Column("Data sent", "bytes", "bytes"),
    ])
    share = ratio(c.total("not_modified"), c.total("requests"))
    return (
        f'<div class="cols"><div><h3>Requests by status class</h3>{chart}</div>'
        f"<div><h3>Errors</h3>{errors}</div><div><h3>Status codes</h3>{codes}</div></div>"
        f'<p class="note">304 Not Modified (served from the browser cache): {number_span(share, "pct")} '
        "of requests.</p>"
    )


def _panel_broken_links(c: _Context) -> str:
    rows = [{**r, "source": (r["referrer_host"] or "") + (r["referrer_path"] or "")} for r in c.data["broken_links"]]
    links = html_table(rows, [
        Column("Kind", "referrer_kind"), Column("Linked from", "source"), Column("Missing page", "path"),
        Column("404s", "requests", "int", True), Column("Bots", "bot_requests", "int"),
        Column("", "is_approximate", "flag"),
    ], empty="No 404 came from a link (internal or on another site).")
    missing = html_table(c.rows("status_paths", kind="404"), [
        Column("Missing path", "path"), Column("404s", "requests", "int", True), Column("Bots", "bot_requests", "int"),
    ], empty="No 404.")
    return (
        '<p class="note"><b>internal</b>: a page of this site links to a missing page (fix the link); '
        "<b>inbound</b>: another site does (add a redirect). Other sites' paths are never stored.</p>"
        f"<h3>Links to fix</h3>{links}<h3>Most requested missing paths</h3>{missing}"
    )


def _panel_status_paths(c: _Context) -> str:
    def block(kind: str, title: str, empty: str) -> str:
        return f"<div><h3>{title}</h3>" + html_table(c.rows("status_paths", kind=kind), [
            Column("Path", "path"), Column("Status", "statuses"), Column("Requests", "requests", "int", True),
            Column("Bots", "bot_requests", "int"), Column("Slowest", "max_response_ms", "ms"),
        ], empty=empty) + "</div>"

    return '<div class="cols two">' + block("5xx", "Server errors (5xx)", "No server error.") + block(
        "4xx", "Client errors other than 404", "No such error.") + block(
        "3xx", "Redirects (3xx, 304 left out)", "No redirect.") + "</div>"


def _panel_bandwidth(c: _Context) -> str:
    types = c.data["content_types"]
    total = sum(r["bytes"] for r in types)
    if len(types) > 12:  # the long tail in one row
        tail = types[11:]
        types = types[:11] + [{
            "content_type": f"{len(tail)} other types", "requests": sum(r["requests"] for r in tail),
            "bytes": sum(r["bytes"] for r in tail), "max_bytes": max(r["max_bytes"] for r in tail),
        }]
    types = [{**r, "share": ratio(r["bytes"], total)} for r in types]
    left = html_table(types, [
        Column("Type", "content_type"), Column("Data sent", "bytes", "bytes", True), Column("Share", "share", "pct"),
        Column("Requests", "requests", "int"), Column("Largest", "max_bytes", "bytes"),
    ], caption="Type: file extension, or page.")
    right = html_table(c.data["resources"], [
        Column("Path", "path"), Column("Type", "content_type"), Column("Data sent", "bytes", "bytes", True),
        Column("Requests", "requests", "int"), Column("Largest", "max_bytes", "bytes"),
    ])
    return (f'<div class="cols"><div><h3>By content type</h3>{left}</div>'
            f"<div><h3>Largest resources</h3>{right}</div></div>")


def _panel_methods(c: _Context) -> str:
    return html_table(c.data["methods"], [
        Column("Method", "method"), Column("Protocol", "protocol"), Column("Requests", "requests", "int", True),
        Column("Errors", "errors", "int"), Column("Bots", "bot_requests", "int"), Column("Data sent", "bytes", "bytes"),
    ])


def _panel_crawlers(c: _Context) -> str:
    daily = c.data["daily"]
    share = ratio(c.total("bot_requests"), c.total("requests"))
    shares = [ratio(r["bot_requests"], r["requests"]) for r in daily]
    chart = svg_chart(_day_labels(c), [("Bot share", shares, _COLORS[1])],
                   kind="line", label="Share of bot requests per day", fmt="pct", height=160, width=560,
                   xticks=_day_ticks(c))
    crawlers = c.data["crawlers"]
    table = html_table(crawlers, [
        Column("Crawler or script", "crawler"), Column("Requests", "requests", "int", True),
        Column("Page views", "page_views", "int"), Column("Data sent", "bytes", "bytes"),
    ], caption=f"{crawlers[0]['total_rows']:,} families." if crawlers else "", empty="No crawler.")
    return (
        f'<p class="note">Crawlers, scanners and scripted clients (ua-parser): {number_span(share, "pct")} '
        "of requests.</p>"
        f'<div class="cols"><div><h3>Bot share per day</h3>{chart}</div><div><h3>Top crawlers</h3>{table}</div></div>'
    )


def _panel_response_times(c: _Context) -> str:
    daily = c.data["daily"]
    if all(r["p50_ms"] is None for r in daily):
        return '<p class="empty">No response time: the log format records none (Apache %D, nginx $request_time).</p>'
    multi = any(r["sites"] > 1 for r in daily)
    chart = svg_chart(_day_labels(c), [(p.upper(), [r[f"{p}_ms"] for r in daily], color)
                                    for p, color in (("p50", _COLORS[2]), ("p95", _COLORS[1]), ("p99", _COLORS[3]))],
                   kind="line", label="Response-time percentiles per day", fmt="ms", height=180, width=560,
                   xticks=_day_ticks(c))
    slow = html_table(c.data["slow_paths"], [
        Column("Path", "path"), Column("Timed", "timed", "int"), Column("p50", "p50_ms", "ms"),
        Column("p95", "p95_ms", "ms", True), Column("p99", "p99_ms", "ms"), Column("Max", "max_ms", "ms"),
    ], caption="Paths with 5 or more timed requests; percentiles of their worst day.")
    note = (
        "Percentiles per UTC day (interpolated); percentiles do not add up over days, "
        "so none is given for the period."
    )
    if multi:
        note += " With several sites, each day shows its slowest site."
    return (f'<p class="note">{note}</p><div class="cols"><div><h3>Percentiles per day</h3>{chart}</div>'
            f"<div><h3>Slowest paths</h3>{slow}</div></div>")


_RENDERERS: dict[str, Callable[[_Context], str]] = {
    "headline": _panel_headline, "traffic": _panel_traffic, "weekday-hours": _panel_weekday_hours,
    "pages": _panel_pages, "entry-exit": _panel_entry_exit, "visits": _panel_visits,
    "referrers": _panel_referrers, "search-engines": _panel_search_engines, "campaigns": _panel_campaigns,
    "clients": _panel_clients, "status-codes": _panel_status_codes, "broken-links": _panel_broken_links,
    "status-paths": _panel_status_paths, "bandwidth": _panel_bandwidth, "methods": _panel_methods,
    "crawlers": _panel_crawlers, "response-times": _panel_response_times,
}


# ---------------------------------------------------------------- page


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@cache
def _css() -> str:
    return (ASSETS / "report.css").read_text(encoding="utf-8")


def _render(c: _Context) -> str:
    daily = c.data["daily"]
    site = c.site or "all sites"
    if daily:
        period = f"{daily[0]['date']} to {daily[-1]['date']} ({len(daily)} UTC day{'s' if len(daily) != 1 else ''})"
    else:
        period = "No data"
    known = [r["site"] for r in c.data["sites"]]
    sections = []
    for panel_id, title in PANELS.items():
        body = _RENDERERS[panel_id](c) if daily else '<p class="empty">No data for this selection.</p>'
        wide = " wide" if panel_id in _WIDE else ""
        sections.append(
            f'<section class="panel{wide}" id="{panel_id}" aria-labelledby="{panel_id}-title">'
            f'<h2 id="{panel_id}-title">{esc(title)}</h2>{body}</section>'
        )
    notice = ""
    if not daily:
        if known:
            what = f"site {c.site!r}" if c.site and c.site not in known else "this selection"
            notice = (f'<p class="notice" id="empty-notice">No data for {esc(what)}. Sites in the lake: '
                      f"{esc(', '.join(known))}; days {esc(min(r['first_day'] for r in c.data['sites']))} to "
                      f"{esc(max(r['last_day'] for r in c.data['sites']))}.</p>")
        else:
            notice = ('<p class="notice" id="empty-notice">The lake has no statistics yet: ingest logs and build '
                      "the marts (<code>accesslake nightly</code>), then write the report again.</p>")
    toc = "".join(f'<a href="#{pid}">{esc(title.split(":")[0])}</a>' for pid, title in PANELS.items())
    sites_line = f"Sites: {esc(', '.join(known))}. " if c.site is None and len(known) > 1 else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="accesslake {esc(__version__)}">
<title>Traffic report: {esc(site)}, {esc(period)}</title>
<style>
{_css()}</style>
</head>
<body>
<header class="report">
<h1>Traffic report: {esc(site)}</h1>
<p>{esc(period)}. {sites_line}Written {esc(_stamp(c.now))} by accesslake {esc(__version__)} from the statistics marts.
Days are UTC days; the weekday x hour grid uses the site time zone {esc(c.settings.site_tz)}.</p>
</header>
{notice}
<nav class="toc" aria-label="Panels">{toc}</nav>
<main class="grid">
{chr(10).join(sections)}
</main>
<footer>No personal data: the marts hold aggregates only. This file loads nothing from anywhere
(Content-Security-Policy: {esc(CSP)}).</footer>
</body>
</html>
"""
