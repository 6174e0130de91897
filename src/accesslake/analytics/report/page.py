"""The report page: panels in order, one self-contained HTML document (inline CSS, inline SVG, no script).

A Content-Security-Policy meta tag (``default-src 'none'``) makes the browser
refuse any load the page might still attempt, so opening the report makes no
network request. Each panel is a ``<section class="panel" id="...">`` with an
id from :data:`PANELS`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from accesslake import __version__
from accesslake.analytics.report import content, traffic
from accesslake.analytics.report.context import Context, stamp
from accesslake.analytics.report.html import esc

__all__ = ["CSP", "PANELS", "render"]

ASSETS = Path(__file__).resolve().parent / "assets"

#: The page's Content-Security-Policy: nothing may be loaded; inline styles only.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

#: Panel ids in page order, with their titles.
PANELS: dict[str, str] = {
    "headline": "Headline",
    "traffic": "Traffic per day",
    "hosts": "Sites and virtual hosts",
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
    "crawlers": "Automated traffic: crawlers, feed readers, monitors, scanners, scripts",
    "response-times": "Response times",
}
_WIDE = {
    "headline", "hosts", "traffic", "weekday-hours", "entry-exit", "clients", "status-codes", "broken-links",
    "status-paths", "bandwidth", "crawlers", "response-times",
}

_RENDERERS: dict[str, Callable[[Context], str]] = {
    "headline": traffic.panel_headline, "traffic": traffic.panel_traffic, "hosts": content.panel_hosts,
    "weekday-hours": traffic.panel_weekday_hours, "pages": content.panel_pages,
    "entry-exit": content.panel_entry_exit, "visits": traffic.panel_visits, "referrers": content.panel_referrers,
    "search-engines": content.panel_search_engines, "campaigns": content.panel_campaigns,
    "clients": content.panel_clients, "status-codes": content.panel_status_codes,
    "broken-links": content.panel_broken_links, "status-paths": content.panel_status_paths,
    "bandwidth": content.panel_bandwidth, "methods": content.panel_methods, "crawlers": traffic.panel_crawlers,
    "response-times": traffic.panel_response_times,
}


@cache
def _css() -> str:
    return (ASSETS / "report.css").read_text(encoding="utf-8")


def render(c: Context) -> str:
    daily = c.data["daily"]
    site = c.site or "all sites"
    if daily:
        period = f"{daily[0]['date']} to {daily[-1]['date']} ({len(daily)} day{'s' if len(daily) != 1 else ''})"
    else:
        period = "No data"
    known = [r["site"] for r in c.data["sites"]]
    sections = []
    for panel_id, title in PANELS.items():
        body = _RENDERERS[panel_id](c) if daily else '<p class="empty">No data for this selection.</p>'
        body = f'<p class="days">{esc(c.days_note())}</p>{body}'
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
<p>{esc(period)}. {sites_line}Written {esc(stamp(c.now))} by accesslake {esc(__version__)} from the statistics marts.
{esc(c.days_note())} A day is a date in the site's time zone (policy <code>[site] timezone</code>, or UTC with
<code>days = "utc"</code>).</p>
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
