"""Report panels about content and clients: pages, referrers, search engines, campaigns, clients, status, bandwidth."""

from __future__ import annotations

from accesslake.analytics.report.charts import svg_chart
from accesslake.analytics.report.context import STATUS_COLORS, Context, day_labels, day_ticks
from accesslake.analytics.report.html import VISITORS, Column, html_table, number_span, ratio

__all__ = [
    "panel_hosts", "panel_pages", "panel_entry_exit", "panel_referrers", "panel_search_engines", "panel_campaigns",
    "panel_clients", "panel_status_codes", "panel_broken_links", "panel_status_paths", "panel_bandwidth",
    "panel_methods",
]

def panel_hosts(c: Context) -> str:
    rows = [{**r, "host": r["vhost"] or "(not logged)"} for r in c.data["hosts"]]
    note = ('<p class="note">Each site, and each virtual host the log names (<code>%v</code>, <code>$host</code>). '
            "Ingest can make every host a site of its own; pick one with <code>--site</code>.</p>")
    return note + html_table(rows, [
        Column("Site", "site"), Column("Virtual host", "host"), Column("Requests", "requests", "int", True),
        Column("Page views", "page_views", "int"), VISITORS, Column("Errors", "errors", "int"),
        Column("Data sent", "bytes", "bytes"),
    ])


def panel_pages(c: Context) -> str:
    rows = c.data["pages"]
    caption = f"Top {len(rows)} of {rows[0]['total_rows']:,} pages by page views of people." if rows else ""
    note = ('<p class="note">A page view: a page (not a static file) answered 2xx or 304 to a GET or POST of a '
            "person; errors, redirects and HEAD requests are not page views. Paths are shown decoded.</p>")
    return note + html_table(rows, [
        Column("Page", "path"), Column("Page views", "page_views", "int", True), VISITORS,
        Column("Automated", "bot_page_views", "int"), Column("Data sent", "bytes", "bytes"),
    ], caption=caption)


def panel_entry_exit(c: Context) -> str:
    entries = html_table(c.data["entry_pages"], [
        Column("Entry page", "path"), Column("Visits", "entries", "int", True), VISITORS,
        Column("Bounce rate", "bounce_rate", "pct"), Column("", "is_approximate", "flag"),
    ])
    exits = html_table(c.data["exit_pages"], [
        Column("Exit page", "path"), Column("Visits", "exits", "int", True), VISITORS,
        Column("", "is_approximate", "flag"),
    ])
    return (
        '<p class="note">First and last page of visits of people. Bounce rate: visits of one page '
        f'that entered here.</p><div class="cols"><div><h3>Entry pages</h3>{entries}</div>'
        f"<div><h3>Exit pages</h3>{exits}</div></div>"
    )


def panel_referrers(c: Context) -> str:
    rows = [{**r, "source": r["referrer_name"] or r["referrer_kind"]} for r in c.data["referrers"]]
    caption = f"Top {len(rows)} of {rows[0]['total_rows']:,} hosts." if rows else ""
    note = ('<p class="note">Other sites whose pages sent visitors; the site\'s own hosts (policy '
            "<code>own_hosts</code>, logged virtual hosts) are left out. Search engines, social networks and "
            "AI assistants from Matomo's list.</p>")
    return note + html_table(
        rows, [Column("Referring host", "referrer_host"), Column("Source", "source"),
               Column("Page views", "page_views", "int", True), VISITORS,
               Column("Requests", "requests", "int"), Column("Bots", "bot_requests", "int")],
        caption=caption, empty="No referrer from another site.")


def panel_search_engines(c: Context) -> str:
    engines = html_table(c.data["search_engines"], [
        Column("Search engine", "search_engine"), Column("Page views", "page_views", "int", True), VISITORS,
        Column("Requests", "requests", "int"), Column("Hosts (max/day)", "referrer_hosts", "int"),
    ], empty="No visitor came from a known search engine.")
    social = html_table(c.data["social_networks"], [
        Column("Network or assistant", "referrer_name"), Column("Kind", "referrer_kind"),
        Column("Page views", "page_views", "int", True), VISITORS, Column("Requests", "requests", "int"),
    ], empty="No visitor came from a known social network or AI assistant.")
    return (f'<div class="cols two"><div><h3>Search engines</h3>{engines}</div>'
            f"<div><h3>Social networks and AI assistants</h3>{social}</div></div>")


def panel_campaigns(c: Context) -> str:
    return html_table(c.data["campaigns"], [
        Column("Source", "utm_source"), Column("Medium", "utm_medium"), Column("Campaign", "utm_campaign"),
        Column("Requests", "requests", "int", True), Column("Page views", "page_views", "int"),
        Column("Bots", "bot_requests", "int"), Column("", "is_approximate", "flag"),
    ], empty="No request carried utm_source, utm_medium or utm_campaign.")


def panel_clients(c: Context) -> str:
    parts = []
    for dimension, title in (("browser", "Browser"), ("os", "Operating system"), ("device", "Device")):
        rows = c.rows("clients", dimension=dimension)
        total = sum(r["page_views"] for r in rows)
        rows = [{**r, "share": ratio(r["page_views"], total)} for r in rows[:12]]
        parts.append(f"<div><h3>{title}</h3>" + html_table(rows, [
            Column(title, "value"), Column("Page views", "page_views", "int", True),
            Column("Share", "share", "pct"), VISITORS, Column("Requests", "requests", "int"),
        ]) + "</div>")
    note = '<p class="note">People only (automated clients: see Automated traffic). Families by ua-parser.</p>'
    return note + '<div class="cols">' + "".join(parts) + "</div>"


def panel_status_codes(c: Context) -> str:
    daily = c.data["daily"]
    chart = svg_chart(day_labels(c), [(cls, [r[f"count_{cls}"] for r in daily], STATUS_COLORS[cls])
                                    for cls in ("2xx", "3xx", "4xx", "5xx")], kind="bars",
                   label="Requests per day by status class", height=220, width=390, xticks=day_ticks(c))
    errors = svg_chart(day_labels(c), [(cls, [r[f"count_{cls}"] for r in daily], STATUS_COLORS[cls])
                                     for cls in ("4xx", "5xx")], kind="line",
                    label="Client and server errors per day", height=220, width=390, xticks=day_ticks(c))
    codes = html_table(c.data["status_codes"], [
        Column("Status", "status", "text"), Column("Class", "status_class"),
        Column("Requests", "requests", "int", True), VISITORS,
        Column("Bots", "bot_requests", "int"), Column("Data sent", "bytes", "bytes"),
    ], caption="Visitors: distinct clients answered so, 4xx included.")
    share = ratio(c.total("not_modified"), c.total("requests"))
    return (
        f'<div class="cols"><div><h3>Requests by status class</h3>{chart}</div>'
        f"<div><h3>Errors</h3>{errors}</div><div><h3>Status codes</h3>{codes}</div></div>"
        f'<p class="note">304 Not Modified (served from the browser cache): {number_span(share, "pct")} '
        "of requests.</p>"
    )


def panel_broken_links(c: Context) -> str:
    rows = [{**r, "source": (r["referrer_host"] or "") + (r["referrer_path"] or "")} for r in c.data["broken_links"]]
    links = html_table(rows, [
        Column("Kind", "referrer_kind"), Column("Linked from", "source"), Column("Missing page", "path"),
        Column("404s", "requests", "int", True), Column("Bots", "bot_requests", "int"),
        Column("", "is_approximate", "flag"),
    ], empty="No 404 came from a link (internal or on another site).")
    missing = html_table(c.rows("status_paths", kind="404"), [
        Column("Missing path", "path"), Column("404s", "requests", "int", True), VISITORS,
        Column("Bots", "bot_requests", "int"),
    ], empty="No 404.")
    return (
        '<p class="note"><b>internal</b>: a page of this site links to a missing page (fix the link); '
        "<b>inbound</b>: another site does (add a redirect). Other sites' paths are never stored.</p>"
        f"<h3>Links to fix</h3>{links}<h3>Most requested missing paths</h3>{missing}"
    )


def panel_status_paths(c: Context) -> str:
    def block(kind: str, title: str, empty: str) -> str:
        return f"<div><h3>{title}</h3>" + html_table(c.rows("status_paths", kind=kind), [
            Column("Path", "path"), Column("Status", "statuses"), Column("Requests", "requests", "int", True),
            VISITORS, Column("Bots", "bot_requests", "int"), Column("Slowest", "max_response_ms", "ms"),
        ], empty=empty) + "</div>"

    return '<div class="cols two">' + block("5xx", "Server errors (5xx)", "No server error.") + block(
        "4xx", "Client errors other than 404", "No such error.") + block(
        "3xx", "Redirects (3xx, 304 left out)", "No redirect.") + "</div>"


def panel_bandwidth(c: Context) -> str:
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


def panel_methods(c: Context) -> str:
    return html_table(c.data["methods"], [
        Column("Method", "method"), Column("Protocol", "protocol"), Column("Requests", "requests", "int", True),
        Column("Errors", "errors", "int"), Column("Bots", "bot_requests", "int"), Column("Data sent", "bytes", "bytes"),
    ])
