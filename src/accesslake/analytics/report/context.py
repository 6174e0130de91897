"""The report's data: the queries of ``sql/report/`` run over the analyst views, and the context panels read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from accesslake.analytics import views
from accesslake.config import Settings
from accesslake.errors import QueryError
from accesslake.sqlfiles import read_sql
from accesslake.storage import LakePath

__all__ = ["COLORS", "QUERIES", "STATUS_COLORS", "Context", "day_labels", "day_ticks", "gather", "in_progress",
           "stamp"]

#: The report's queries, one file each in sql/report/ (selection.sql defines ``selected(mart)``).
QUERIES = (
    "sites", "daily", "hourly", "hours", "weekday_hours", "hosts", "pages", "entry_pages", "exit_pages", "visits",
    "referrers", "search_engines", "social_networks", "campaigns", "clients", "agent_groups", "crawlers",
    "status_codes", "broken_links", "status_paths", "content_types", "resources", "slow_paths", "methods",
)
COLORS = ("#0b5cad", "#e08a00", "#2a9d5c", "#c23b22", "#7b4fa0")
STATUS_COLORS = {"2xx": "#2a9d5c", "3xx": "#4a90d9", "4xx": "#e08a00", "5xx": "#c23b22", "other": "#8a8f98"}


def gather(
    lake: LakePath, site: str | None, start: date | None, end: date | None, top: int
) -> dict[str, list[dict[str, Any]]]:
    """Every report query's rows for the selection (site, days ``start``..``end``), as dicts."""
    con = views.connect(lake)
    try:
        for name, value in (("report_site", site), ("report_start", start), ("report_end", end)):
            con.execute(f"set variable {name} = $value", {"value": value}).fetchall()
        for statement in con.extract_statements(read_sql("report/selection")):
            con.execute(statement).fetchall()
        data = {}
        for name in QUERIES:
            text = read_sql(f"report/{name}")
            statement = con.extract_statements(text)[0]
            try:
                cursor = con.execute(text, {"top": top} if "top" in statement.named_parameters else {})
                columns = [d[0] for d in cursor.description]
                data[name] = [dict(zip(columns, row)) for row in cursor.fetchall()]
            except duckdb.Error as exc:
                raise QueryError(f"sql/report/{name}.sql: {exc}") from exc
        return data
    finally:
        con.close()


@dataclass
class Context:
    """What the panels read: the settings, the clock, the selection and the query results."""

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

    @property
    def zones(self) -> dict[str, str]:
        """The zone of each selected site's days (from its marts: ``daily_traffic.time_zone``)."""
        return {r["site"]: r["time_zone"] or "UTC" for r in self.data["sites"] if self.site in (None, r["site"])}

    @property
    def zone(self) -> str:
        """The one zone of the selection's days, else UTC (for clock times shown)."""
        zones = set(self.zones.values())
        return zones.pop() if len(zones) == 1 else "UTC"

    def days_note(self) -> str:
        """Which days and hours the figures use, said in every panel."""
        zones = sorted(set(self.zones.values()))
        if not zones:
            return "Days and hours: none yet."
        if len(zones) == 1:
            return ("Days and hours: UTC." if zones[0] == "UTC"
                    else f"Days and hours: local time in {zones[0]}.")
        each = "; ".join(f"{site}: {zone}" for site, zone in sorted(self.zones.items()))
        return f"Days and hours: each site's own ({each}); clock times shown in UTC."


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def in_progress(c: Context) -> str:
    """The last day of the report when it has not ended at ``now`` (in the days' zone), else ''."""
    daily = c.data["daily"]
    if daily and daily[-1]["date"] >= c.now.astimezone(ZoneInfo(c.zone)).date():
        return str(daily[-1]["date"])
    return ""


def day_labels(c: Context) -> list[str]:
    return [r["date"].strftime("%a %d %b") for r in c.data["daily"]]


def day_ticks(c: Context) -> list[tuple[int, str]]:
    return [(i, r["date"].strftime("%d %b")) for i, r in enumerate(c.data["daily"])]

