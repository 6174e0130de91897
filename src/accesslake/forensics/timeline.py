"""The incident timeline: per client in an active hold's scope, its requests in time order with gaps.

:func:`incident_timeline` runs the forensic macro ``incident_timeline(hold_id)`` of
``sql/forensics/views.sql``: the hold's rows in ``held/incident=<id>/`` plus the rows of
``requests/`` inside its scope that the nightly run has not moved yet (the rows an evidence
export takes), one row per request, per client in time order, with the seconds since the
client's previous request, status and bytes: the sequence of events for the report to the
authority. Opening the forensic views appends a ``forensic.query`` line to the audit log; the
timeline adds an ``incident.timeline`` line with the hold id and counts (never an address).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

from accesslake import holds
from accesslake.errors import HoldError, QueryError
from accesslake.forensics import views
from accesslake.policy import HARD_LIMIT_HOURS
from accesslake.storage import LakePath, auditlog

__all__ = ["Timeline", "format_gap", "incident_timeline"]

EVENT = "incident.timeline"


@dataclass
class Timeline:
    """An active hold's requests per client in time order (``rows``: one row per request)."""

    hold_id: str
    case_reference: str
    rows: pl.DataFrame

    @property
    def clients(self) -> list[str]:
        return list(dict.fromkeys(self.rows["client_ip"].to_list()))

    def to_dict(self) -> dict[str, object]:
        return {"hold_id": self.hold_id, "case_reference": self.case_reference, "clients": len(self.clients),
                "requests": self.rows.to_dicts()}

    def lines(self) -> list[str]:
        """The human table: a heading per client, then one line per request."""
        out = [f"incident timeline of hold {self.hold_id} ({self.case_reference}): "
               f"{self.rows.height} requests of {len(self.clients)} clients"]
        for (client,), rows in self.rows.partition_by("client_ip", as_dict=True, maintain_order=True).items():
            times: list[datetime] = rows["ts"].to_list()
            out += ["", f"client {client}: {rows.height} requests, {times[0]:%Y-%m-%d %H:%M:%S} .. "
                        f"{times[-1]:%Y-%m-%d %H:%M:%S} UTC",
                    f"  {'#':>5}  {'time (UTC)':<19}  {'gap':>8}  {'status':>6}  {'bytes':>9}  request"]
            for row in rows.iter_rows(named=True):
                request = " ".join(p for p in (row["method"], row["path"]) if p) or "-"
                if row["query"]:
                    request += f"?{row['query']}"
                status, size = (str(row[k]) if row[k] is not None else "-" for k in ("status", "bytes"))
                out.append(f"  {row['request_number']:>5}  {row['ts']:%Y-%m-%d %H:%M:%S}  "
                           f"{format_gap(row['gap_seconds']):>8}  {status:>6}  {size:>9}  {request[:120]}")
        return out


def format_gap(seconds: float | None) -> str:
    """``+7s``, ``+2m05s``, ``+1h02m``, ``+3d04h``; ``-`` for a client's first request."""
    if seconds is None:
        return "-"
    whole = int(round(seconds))
    if whole < 60:
        return f"+{seconds:.0f}s" if seconds == whole else f"+{seconds:.1f}s"
    if whole < 3600:
        return f"+{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"+{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"+{whole // 86400}d{whole % 86400 // 3600:02d}h"


def incident_timeline(
    lake: LakePath, hold_id: str, now: datetime, *, max_age_hours: float = HARD_LIMIT_HOURS
) -> Timeline:
    """The timeline of the active hold ``hold_id`` at ``now`` (a released or expired hold is refused)."""
    hold = holds.get_hold(lake, hold_id)
    if not hold.is_active(now):
        raise HoldError(
            f"hold {hold_id} is not active at {now.isoformat()} (status {hold.status}, review date "
            f"{hold.review_at.isoformat()}): its rows are anonymised or on their way; a timeline needs an active hold"
        )
    con = views.connect(lake, now, max_age_hours=max_age_hours)
    try:
        table = con.sql("select * from incident_timeline($hold_id)", params={"hold_id": hold.id}).to_arrow_table()
    except duckdb.Error as exc:
        raise QueryError(f"sql/forensics/views.sql: incident_timeline({hold.id}) failed: {exc}") from exc
    finally:
        con.close()
    rows = pl.DataFrame(pl.from_arrow(table))
    timeline = Timeline(hold_id=hold.id, case_reference=hold.case_reference, rows=rows)
    auditlog.append_event(lake, EVENT, now, hold_id=hold.id, case_reference=hold.case_reference,
                          clients=len(timeline.clients), rows=rows.height)
    return timeline
