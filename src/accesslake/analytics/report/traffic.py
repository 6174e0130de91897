"""Report panels about traffic over time: headline, traffic, weekday x hour, visits, crawlers, response times."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from accesslake.analytics.report.charts import WEEKDAYS, svg_chart, svg_heatmap
from accesslake.analytics.report.context import COLORS, Context, day_labels, day_ticks, in_progress, stamp
from accesslake.analytics.report.html import (
    VISITORS,
    Column,
    details,
    esc,
    format_value,
    html_table,
    number_span,
    ratio,
    tile,
)

#: Readable names of the agent groups (the lake's ``agent_group`` values).
AGENT_GROUPS = {
    "person": "People", "crawler": "Crawlers", "feed_reader": "Feed readers", "monitor": "Monitors",
    "scanner": "Security scanners", "script": "Scripts and libraries", "other_bot": "Other automated clients",
}

__all__ = [
    "AGENT_GROUPS",
    "panel_headline", "panel_traffic", "panel_weekday_hours", "panel_visits", "panel_crawlers",
    "panel_response_times",
]


def panel_headline(c: Context) -> str:
    daily = c.data["daily"]
    requests = c.total("requests")
    errors = c.total("count_4xx") + c.total("count_5xx")
    humans = c.rows("visits", is_bot=False)
    visits = sum(r["visits"] for r in humans)
    days = len(daily)
    # Days whose every row had lost its IP before they were first built (an archive ingested past
    # anonymize_after: rule P3 never stores those IPs): their visitor figures are not known, not zero.
    unknown = [str(r["date"]) for r in daily if r["is_approximate"] and not r["unique_visitors"] and r["requests"]]
    known = days > len(unknown)

    def visitors(column: str) -> int | None:
        return c.total(column) if known else None

    per_day = f"≈ {format_value(requests / days, 'int')} per day" if days else ""
    tiles = [
        tile("requests", "Requests", requests, "int", esc(per_day)),
        tile("page_views", "Page views", c.total("page_views"), "int", "pages answered 2xx/304 to people"),
        tile("visits", "Visits", visitors("visits"), "int", "of people: 30-minute sessions"),
        tile("unique_visitors", "Unique visitors", visitors("unique_visitors"), "int", "GoAccess definition, see note"),
        tile("human_visitors", "Visitors (people)", visitors("human_visitors"), "int", "the same, people only"),
        tile("bytes", "Data sent", c.total("bytes"), "bytes", esc(f"{c.total('bytes'):,} bytes")),
        tile("error_rate", "Error rate", ratio(errors, requests), "pct",
              esc(f"{c.total('count_4xx'):,} 4xx + {c.total('count_5xx'):,} 5xx")),
        tile("bot_share", "Bot share", ratio(c.total("bot_requests"), requests), "pct",
              esc(f"{c.total('bot_requests'):,} requests of automated clients")),
        tile("bounce_rate", "Bounce rate (people)", ratio(sum(r["bounces"] for r in humans), visits), "pct",
              "one-page visits, crawlers left out"),
        tile("pages_per_visit", "Pages per visit", ratio(sum(r["page_views"] for r in humans), visits), "ratio",
              "people"),
        tile("avg_visit_s", "Visit duration", ratio(sum(r["duration_s"] or 0 for r in humans), visits), "s",
              "average, first to last page"),
    ]
    approximate = [str(r["date"]) for r in daily if r["is_approximate"] and str(r["date"]) not in unknown]
    notes = [
        "<b>Page views</b> follow the log-analytics tools (Matomo's log import): a page, not a static file, "
        "answered 2xx or 304 to a GET or POST of a person; errors, redirects, HEAD requests and automated "
        "clients (crawlers, feed readers, monitors, scanners, scripts) are not page views. Requests count "
        "everything.",
        "<b>Unique visitors</b> follow GoAccess's definition so the figures compare: distinct client IP, "
        "day and user agent among requests not answered 4xx, automated clients included, counted per day; "
        "over several days the daily figures are summed (someone who comes back on three days counts three "
        "times). <b>Visitors (people)</b>: the same without automated clients.",
    ]
    if unknown:
        notes.append(
            f'<span class=flag data-key="unknown_visitor_days" data-value="{len(unknown)}">Not known:</span> '
            f"visitor figures of {esc(', '.join(unknown))}: their lines arrived after anonymize_after, so their "
            "IP addresses were never stored (privacy rule P3) and visitors cannot be counted; those days count "
            "as zero in the sums."
        )
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
    if in_progress(c):
        notes.append(f"{esc(in_progress(c))} is still in progress at {esc(stamp(c.now))}: its figures are partial.")
    return f'<div class="tiles">{"".join(tiles)}</div>' + "".join(f'<p class="note">{n}</p>' for n in notes)


def panel_traffic(c: Context) -> str:
    daily, labels = c.data["daily"], day_labels(c)
    left = svg_chart(labels, [("Requests", [r["requests"] for r in daily], COLORS[0]),
                           ("Page views", [r["page_views"] for r in daily], COLORS[1])],
                  kind="line", label="Requests and page views per day", width=580, xticks=day_ticks(c))
    right = svg_chart(labels, [("Visits", [r["visits"] for r in daily], COLORS[2]),
                            ("Unique visitors", [r["unique_visitors"] for r in daily], COLORS[4])],
                   kind="line", label="Visits and unique visitors per day", width=580, xticks=day_ticks(c))
    hourly, zone = c.data["hourly"], ZoneInfo(c.zone)
    local = [r["hour_at"].astimezone(zone) for r in hourly]
    hour_labels = [t.strftime(f"%a %d %b %H:00 {c.zone}") for t in local]
    xticks = [(i, t.strftime("%d %b")) for i, t in enumerate(local) if t.hour == 0]
    load = svg_chart(hour_labels, [("People", [r["requests"] - r["bot_requests"] for r in hourly], COLORS[0]),
                                ("Automated clients", [r["bot_requests"] for r in hourly], COLORS[1])],
                  kind="bars", label="Requests per hour", height=170, width=1190, xticks=xticks)
    rows = [{**r, "error_rate": ratio(r["count_4xx"] + r["count_5xx"], r["requests"]),
             "bot_share": ratio(r["bot_requests"], r["requests"])} for r in daily]
    table = html_table(rows, [
        Column("Day", "date"), Column("Requests", "requests", "int", True),
        Column("Page views", "page_views", "int"),
        Column("Visits", "visits", "int"), Column("Unique visitors", "unique_visitors", "int"),
        Column("Visitors (people)", "human_visitors", "int"),
        Column("Data sent", "bytes", "bytes"), Column("Error rate", "error_rate", "pct"),
        Column("Bot share", "bot_share", "pct"), Column("Visitors approx.", "is_approximate", "flag"),
    ])
    partial = in_progress(c)
    note = f'<p class="note">{esc(partial)} is still in progress: its figures are partial.</p>' if partial else ""
    return (
        f'<div class="cols"><div><h3>Requests and page views</h3>{left}</div>'
        f"<div><h3>Visits and unique visitors</h3>{right}</div></div>{note}"
        f"<h3>Requests per hour ({esc(c.zone)})</h3>{load}{table}"
    )


def panel_weekday_hours(c: Context) -> str:
    grid = [[0] * 24 for _ in range(7)]
    for r in c.data["weekday_hours"]:
        grid[r["local_weekday"] - 1][r["local_hour"]] = int(r["page_views"])
    occurrences = [0] * 7
    for r in c.data["daily"]:
        occurrences[r["date"].isoweekday() - 1] += 1
    peak = max(((v, d, h) for d, row in enumerate(grid) for h, v in enumerate(row)), default=(0, 0, 0))
    note = "Page views of people (automated clients left out), by weekday and local hour, summed over the period."
    if peak[0]:
        note += f" Busiest: {WEEKDAYS[peak[1]]} {peak[2]:02d}:00–{peak[2] + 1:02d}:00 ({peak[0]:,} page views)."
    if len(set(occurrences)) > 1:
        note += " Weekdays that occur more often weigh more; days in the period: " + ", ".join(
            f"{WEEKDAYS[i]} ×{n}" for i, n in enumerate(occurrences) if n) + "."
    rows = [{"weekday": WEEKDAYS[d], **{f"h{h:02d}": grid[d][h] for h in range(24)}} for d in range(7)]
    table = html_table(rows, [Column("", "weekday")] + [Column(f"{h:02d}", f"h{h:02d}", "int") for h in range(24)])
    heatmap = svg_heatmap(grid, label="Page views by weekday and hour", what="page views")
    hours = html_table(c.data["hours"], [
        Column("Hour", "local_hour", "text"), Column("Requests", "requests", "int", True),
        Column("Page views", "page_views", "int"), Column("Visitors", "visitors", "int"),
        Column("Automated", "bot_requests", "int"), Column("Data sent", "bytes", "bytes"),
    ], caption="Hours of the day, summed over the days (visitors: per day and hour, summed, as GoAccess).")
    return f'<p class="note">{note}</p>{heatmap}' + details("Data table", table) + details("By hour", hours)


def panel_visits(c: Context) -> str:
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


def panel_crawlers(c: Context) -> str:
    daily = c.data["daily"]
    share = ratio(c.total("bot_requests"), c.total("requests"))
    shares = [ratio(r["bot_requests"], r["requests"]) for r in daily]
    chart = svg_chart(day_labels(c), [("Automated share", shares, COLORS[1])],
                   kind="line", label="Share of automated requests per day", fmt="pct", height=160, width=560,
                   xticks=day_ticks(c))
    groups = [{**r, "group": AGENT_GROUPS.get(r["agent_group"], r["agent_group"])} for r in c.data["agent_groups"]]
    by_group = html_table(groups, [
        Column("Who", "group"), Column("Requests", "requests", "int", True),
        Column("Page requests", "page_requests", "int"), VISITORS, Column("Data sent", "bytes", "bytes"),
    ], caption="Page requests: what would be page views (pages answered 2xx/304 to GET or POST).")
    crawlers = [{**r, "group": AGENT_GROUPS.get(r["agent_group"], r["agent_group"])} for r in c.data["crawlers"]]
    table = html_table(crawlers, [
        Column("Client", "crawler"), Column("Group", "group"), Column("Requests", "requests", "int", True),
        Column("Page requests", "page_requests", "int"), Column("Data sent", "bytes", "bytes"),
    ], caption=f"{crawlers[0]['total_rows']:,} families." if crawlers else "", empty="No automated client.")
    return (
        f'<p class="note">Automated clients, named by maintained lists (crawler-user-agents, Matomo Device '
        f"Detector): {number_span(share, 'pct')} of requests. Feed readers, monitors and scripts are groups of "
        "their own; none of them counts as a person.</p>"
        f'<div class="cols"><div><h3>People and automated clients</h3>{by_group}</div>'
        f"<div><h3>Automated share per day</h3>{chart}</div></div><h3>Top automated clients</h3>{table}"
    )


def panel_response_times(c: Context) -> str:
    daily = c.data["daily"]
    if all(r["p50_ms"] is None for r in daily):
        return '<p class="empty">No response time: the log format records none (Apache %D, nginx $request_time).</p>'
    multi = any(r["sites"] > 1 for r in daily)
    chart = svg_chart(day_labels(c), [(p.upper(), [r[f"{p}_ms"] for r in daily], color)
                                    for p, color in (("p50", COLORS[2]), ("p95", COLORS[1]), ("p99", COLORS[3]))],
                   kind="line", label="Response-time percentiles per day", fmt="ms", height=180, width=560,
                   xticks=day_ticks(c))
    slow = html_table(c.data["slow_paths"], [
        Column("Path", "path"), Column("Timed", "timed", "int"), Column("p50", "p50_ms", "ms"),
        Column("p95", "p95_ms", "ms", True), Column("p99", "p99_ms", "ms"), Column("Max", "max_ms", "ms"),
    ], caption="Paths with 5 or more timed requests; percentiles of their worst day.")
    note = (
        "Percentiles per day (interpolated); percentiles do not add up over days, "
        "so none is given for the period."
    )
    if multi:
        note += " With several sites, each day shows its slowest site."
    return (f'<p class="note">{note}</p><div class="cols"><div><h3>Percentiles per day</h3>{chart}</div>'
            f"<div><h3>Slowest paths</h3>{slow}</div></div>")
