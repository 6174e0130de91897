"""How broad a hold's scope is, judged by what it matches in the lake, not by its text.

A glob such as ``*[!x]*`` or ``*e*`` or a user-agent substring ``a`` passes every
syntactic check of :class:`~accesslake.holds.scope.Scope` and still covers nearly
every visitor. Before a hold is recorded, :func:`measure_breadth` counts the
personal rows of the scope's window (rows of ``requests/`` and ``held/`` that still
carry their IP: ``client_ip`` set, ``anonymized_at`` null), their distinct clients,
and how many of each the scope matches.

A scope is **broad** when it matches more than :data:`MIN_CLIENTS` clients and
either more than :data:`CLIENT_SHARE` of the clients or more than
:data:`ROW_SHARE` of the rows. So a hold on a handful of clients is never broad,
however busy they are (one flooding address may be most of the traffic), and on
a tiny lake nothing is. A broad scope is refused unless the operator confirms it
with a written reason (``--confirm-broad``); the hold record keeps the reason
(``broad_reason``) and the audit log the reason and the counts.

A window with :data:`MIN_CLIENTS` clients or fewer cannot show breadth (a hold
opened ahead of the traffic it targets, a quiet hour): the scope's criteria,
without its window, are then judged against the lake's recent traffic, the
personal rows of the :data:`REFERENCE_DAYS` days before ``now``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from accesslake import storage
from accesslake.errors import HoldError
from accesslake.holds.scope import Scope, criteria_expr, window_expr
from accesslake.storage import LakePath, Layout

__all__ = ["CLIENT_SHARE", "MIN_CLIENTS", "REFERENCE_DAYS", "ROW_SHARE", "Breadth", "check_breadth",
           "measure_breadth"]

CLIENT_SHARE = 0.20  # a scope matching more than a fifth of the clients holds mostly bystanders
ROW_SHARE = 0.50  # ... or more than half of the rows
MIN_CLIENTS = 10  # a scope matching at most this many clients is never broad
REFERENCE_DAYS = 7  # recent traffic, when the window itself has too few clients

_COLUMNS = ["ts", "client_ip", "session_id", "path", "user_agent", "anonymized_at"]
_READ_ERRORS = (OSError, ValueError, pl.exceptions.PolarsError)


@dataclass(frozen=True)
class Breadth:
    """What a scope matches among the personal rows of its reference (window or recent traffic)."""

    reference: str  # "window" or "recent"
    rows: int
    clients: int
    matched_rows: int
    matched_clients: int
    unreadable_files: int = 0

    @property
    def broad(self) -> bool:
        return self.matched_clients > MIN_CLIENTS and (
            self.matched_clients > CLIENT_SHARE * self.clients or self.matched_rows > ROW_SHARE * self.rows
        )

    def describe(self) -> str:
        where = ("in its window" if self.reference == "window" else
                 f"in the last {REFERENCE_DAYS} days (its window has too few clients to judge)")
        clients = f"{self.matched_clients} of {self.clients} clients ({_share(self.matched_clients, self.clients)})"
        rows = f"{self.matched_rows} of {self.rows} rows ({_share(self.matched_rows, self.rows)})"
        return f"matches {clients} and {rows} {where}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "broad": self.broad}


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "-"


def _personal_rows(lake: LakePath, first: date, last: date) -> tuple[pl.DataFrame, int]:
    """Rows of requests/ and held/ (every hold) dated ``first..last`` that still carry their IP."""
    frames: list[pl.DataFrame] = []
    unreadable = 0
    for root in (Layout(lake).requests, Layout(lake).held):
        for part in storage.list_partitions(root):
            if not first <= part.day <= last:
                continue
            for path in part.files():
                try:
                    frame = storage.read_parquet(path, columns=_COLUMNS)
                except _READ_ERRORS:
                    unreadable += 1  # a broken file must not stop an incident response; counted, on record
                    continue
                personal = pl.col("client_ip").is_not_null() & pl.col("anonymized_at").is_null()
                frames.append(frame.filter(personal).drop("anonymized_at"))
    if not frames:
        schema = pl.Schema({"ts": pl.Datetime("us", "UTC"), "client_ip": pl.String(), "session_id": pl.String(),
                            "path": pl.String(), "user_agent": pl.String()})
        return pl.DataFrame(schema=schema), unreadable
    return pl.concat(frames, how="vertical_relaxed"), unreadable


def _count(reference: str, rows: pl.DataFrame, matches: pl.Expr, unreadable: int) -> Breadth:
    matched = rows.filter(matches)
    return Breadth(reference, rows.height, rows["client_ip"].n_unique(), matched.height,
                   matched["client_ip"].n_unique(), unreadable)


def measure_breadth(lake: LakePath, scope: Scope, now: datetime) -> Breadth:
    """Count what ``scope`` matches in its window (or, if that has too few clients, in recent traffic)."""
    rows, unreadable = _personal_rows(lake, scope.start.date(), scope.end.date())
    rows = rows.filter(window_expr(scope))
    if rows["client_ip"].n_unique() > MIN_CLIENTS:
        return _count("window", rows, criteria_expr(scope), unreadable)
    since = now - timedelta(days=REFERENCE_DAYS)
    recent, unreadable = _personal_rows(lake, since.date(), now.date())
    recent = recent.filter((pl.col("ts") >= pl.lit(since)) & (pl.col("ts") < pl.lit(now)))
    return _count("recent", recent, criteria_expr(scope), unreadable)


def _named(scope: Scope) -> str:
    """The scope's criteria as the options that gave them (the first three values)."""
    named = [f"{flag} {value!r}" for flag, values in (
        ("--ip", scope.ips), ("--cidr", scope.cidrs), ("--session", scope.session_ids), ("--path", scope.paths),
        ("--user-agent", scope.user_agents)) for value in values]
    return ", ".join(named[:3]) + (f" and {len(named) - 3} more" if len(named) > 3 else "")


def check_breadth(lake: LakePath, scope: Scope, now: datetime, confirm_broad: str | None) -> tuple[Breadth, str | None]:
    """Measure ``scope``; refuse it when broad and not confirmed. Returns the breadth and the reason given."""
    reason = None
    if confirm_broad is not None:
        reason = confirm_broad.strip() if isinstance(confirm_broad, str) else ""
        if not reason:
            raise HoldError("--confirm-broad: give the written reason why the hold must cover this much "
                            "(an empty confirmation is no confirmation)")
    breadth = measure_breadth(lake, scope, now)
    if breadth.broad and reason is None:
        raise HoldError(
            f"{_named(scope)}: the scope {breadth.describe()}; a hold must be narrow (at most "
            f"{CLIENT_SHARE:.0%} of the clients and {ROW_SHARE:.0%} of the rows, or {MIN_CLIENTS} clients): "
            "name the clients or a narrower path or user agent, or, if the case needs it all, "
            "add --confirm-broad \"written reason\""
        )
    return breadth, reason
