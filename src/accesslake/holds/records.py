"""Incident holds: the record (rule H1) and the predicates over active holds.

A hold exempts the rows inside its :class:`~accesslake.holds.scope.Scope` from
anonymisation while it is active (rule H2): ``anonymize`` selects them with
:func:`holds_expr` and labels them with :func:`matching_hold_id_expr`. A hold
stops being active when it is released or passes its review date without
renewal (rule H4). The scope, its rules and its predicate live in
:mod:`accesslake.holds.scope`; storage and lifecycle in
:mod:`accesslake.holds.lifecycle`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from accesslake.errors import HoldError
from accesslake.holds.scope import Scope, aware_utc, scope_expr, strings

__all__ = ["HARD_MAX_REVIEW_DAYS", "HOLD_ID", "LEGAL_BASES", "Hold", "Renewal", "holds_expr",
           "matching_hold_id_expr", "required_text"]

HARD_MAX_REVIEW_DAYS = 30  # rule H1; the policy may lower it
LEGAL_BASES = ("Art. 6(1)(c) GDPR", "Art. 6(1)(f) GDPR", "§24 BDSG")
_LEGAL_ALIASES = {"6-1-c": LEGAL_BASES[0], "6-1-f": LEGAL_BASES[1], "bdsg-24": LEGAL_BASES[2]}
_LEGAL_ALIASES.update({basis.lower(): basis for basis in LEGAL_BASES})
HOLD_ID = re.compile(r"^INC-\d{8}-[0-9a-f]{4}$")
_STATUSES = ("active", "released")


# ---------------------------------------------------------------- scope predicates


def holds_expr(holds: list[Hold]) -> pl.Expr:
    """True where any of ``holds`` covers the row (False for no holds).

    Pass the holds that count, normally :func:`active_holds`.
    """
    if not holds:
        return pl.lit(False)
    return pl.any_horizontal([scope_expr(h.scope) for h in holds]).fill_null(False)


def matching_hold_id_expr(holds: list[Hold]) -> pl.Expr:
    """Id (String) of the first hold, by id, whose scope covers the row; else null.

    A row is stored once, in the folder of this hold; it stays held while any
    active hold covers it, and the export of every covering hold reads it there.
    """
    expr = pl.lit(None, dtype=pl.String)
    for hold in sorted(holds, key=lambda h: h.id, reverse=True):
        expr = pl.when(scope_expr(hold.scope)).then(pl.lit(hold.id, dtype=pl.String)).otherwise(expr)
    return expr


# ---------------------------------------------------------------- the record


def _legal_bases(values: Iterable[str] | str) -> tuple[str, ...]:
    found: set[str] = set()
    for value in strings(values, "--legal-basis"):
        basis = _LEGAL_ALIASES.get(" ".join(value.split()).lower())
        if basis is None:
            raise HoldError(
                f"--legal-basis: {value!r} is not one of {', '.join(LEGAL_BASES)} "
                f"(short: {', '.join(list(_LEGAL_ALIASES)[:3])})"
            )
        found.add(basis)
    if not found:
        raise HoldError(f"--legal-basis: name at least one of {', '.join(LEGAL_BASES)}")
    return tuple(b for b in LEGAL_BASES if b in found)


def required_text(value: object, option: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise HoldError(f"{option}: must not be empty")
    return value.strip()


@dataclass(frozen=True)
class Renewal:
    """One extension of a hold's review date."""

    at: datetime
    by: str
    review_at: datetime


@dataclass(frozen=True)
class Hold:
    """An incident hold record (rule H1); build with :func:`open_hold`."""

    id: str
    case_reference: str
    scope: Scope
    purpose: str
    legal_basis: tuple[str, ...]
    authorized_by: str
    opened_at: datetime
    review_at: datetime
    status: str = "active"
    released_by: str | None = None
    released_at: datetime | None = None
    renewals: tuple[Renewal, ...] = ()
    source_candidate: str | None = None
    redacted_at: datetime | None = None  # scope cut to networks once the hold ended
    broad_reason: str | None = None  # why a scope matching much of its window was confirmed (--confirm-broad)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not HOLD_ID.match(self.id):
            raise HoldError(f"hold id {self.id!r} is not of the form INC-YYYYMMDD-xxxx")
        if not isinstance(self.scope, Scope):
            raise HoldError(f"hold {self.id}: scope must be a Scope")
        set_ = object.__setattr__
        set_(self, "case_reference", required_text(self.case_reference, "--case"))
        set_(self, "purpose", required_text(self.purpose, "--purpose"))
        set_(self, "authorized_by", required_text(self.authorized_by, "--authorized-by"))
        set_(self, "legal_basis", _legal_bases(self.legal_basis))
        set_(self, "opened_at", aware_utc(self.opened_at, "opened_at"))
        set_(self, "review_at", aware_utc(self.review_at, "--review-days"))
        renewals = tuple(
            Renewal(aware_utc(r.at, "renewed at"), required_text(r.by, "--by"), aware_utc(r.review_at, "review_at"))
            for r in self.renewals
        )
        set_(self, "renewals", renewals)
        last = renewals[-1].at if renewals else self.opened_at
        if not last < self.review_at <= last + timedelta(days=HARD_MAX_REVIEW_DAYS):
            raise HoldError(
                f"hold {self.id}: review date {self.review_at.isoformat()} must be after "
                f"{last.isoformat()} and at most {HARD_MAX_REVIEW_DAYS} days later (rule H1)"
            )
        if self.status not in _STATUSES:
            raise HoldError(f"hold {self.id}: status {self.status!r} is not one of {', '.join(_STATUSES)}")
        if self.status == "released":
            set_(self, "released_by", required_text(self.released_by, "--by"))
            set_(self, "released_at", aware_utc(self.released_at, "released_at"))
        elif self.released_by is not None or self.released_at is not None:
            raise HoldError(f"hold {self.id}: an active hold has no released_by / released_at")
        if self.broad_reason is not None:
            set_(self, "broad_reason", required_text(self.broad_reason, "--confirm-broad"))

    def is_active(self, now: datetime) -> bool:
        """Opened, not released, and before its review date (rule H4)."""
        now = aware_utc(now, "--now")
        return self.status == "active" and self.opened_at <= now < self.review_at

    def to_dict(self) -> dict[str, Any]:
        def stamp(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "case_reference": self.case_reference,
            "scope": self.scope.to_dict(),
            "purpose": self.purpose,
            "legal_basis": list(self.legal_basis),
            "authorized_by": self.authorized_by,
            "opened_at": stamp(self.opened_at),
            "review_at": stamp(self.review_at),
            "status": self.status,
            "released_by": self.released_by,
            "released_at": stamp(self.released_at),
            "renewals": [{"at": stamp(r.at), "by": r.by, "review_at": stamp(r.review_at)} for r in self.renewals],
            "source_candidate": self.source_candidate,
            "redacted_at": stamp(self.redacted_at),
            "broad_reason": self.broad_reason,
        }

    def lines(self, now: datetime) -> list[str]:
        """The record as a readable block (``accesslake incident show``), its status at ``now``."""

        def stamp(value: datetime | None) -> str:
            return f"{value:%Y-%m-%d %H:%M}Z" if value else "-"

        scope = self.scope
        criteria = [(label, ", ".join(values)) for label, values in (
            ("IPs", scope.ips), ("networks", scope.cidrs), ("sessions", scope.session_ids), ("paths", scope.paths),
            ("user agents", scope.user_agents)) if values]
        status = self.status
        if status == "active" and not self.is_active(now):
            status = "past its review date (no longer active)" if now >= self.review_at else "not yet open"
        if self.redacted_at:
            status += f" (scope redacted {stamp(self.redacted_at)})"
        out = [f"hold {self.id}  {status}",
               f"  case           {self.case_reference}",
               f"  purpose        {self.purpose}",
               f"  legal basis    {'; '.join(self.legal_basis)}",
               f"  authorised by  {self.authorized_by}",
               f"  opened         {stamp(self.opened_at)}",
               f"  review         {stamp(self.review_at)}",
               f"  scope          {stamp(scope.start)} .. {stamp(scope.end)}"]
        out += [f"    {label:<13}{values}" for label, values in criteria] or ["    (no criteria left)"]
        if self.broad_reason:
            out.append(f"  broad scope    confirmed: {self.broad_reason}")
        if self.source_candidate:
            out.append(f"  candidate      {self.source_candidate}")
        out += [f"  renewed        {stamp(r.at)} by {r.by}, review {stamp(r.review_at)}" for r in self.renewals] \
            or ["  renewals       none"]
        released = f"{stamp(self.released_at)} by {self.released_by}" if self.status == "released" else "not released"
        out.append(f"  release        {released}")
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "hold") -> Hold:
        """Parse and validate; errors name ``source`` (the file)."""

        def when(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        try:
            data = json.loads(text)
            return cls(
                id=data["id"],
                case_reference=data["case_reference"],
                scope=Scope.from_dict(data["scope"], redacted=bool(data.get("redacted_at"))),
                purpose=data["purpose"],
                legal_basis=tuple(data["legal_basis"]),
                authorized_by=data["authorized_by"],
                opened_at=datetime.fromisoformat(data["opened_at"]),
                review_at=datetime.fromisoformat(data["review_at"]),
                status=data["status"],
                released_by=data.get("released_by"),
                released_at=when(data.get("released_at")),
                renewals=tuple(
                    Renewal(datetime.fromisoformat(r["at"]), r["by"], datetime.fromisoformat(r["review_at"]))
                    for r in data.get("renewals", [])
                ),
                source_candidate=data.get("source_candidate"),
                redacted_at=when(data.get("redacted_at")),
                broad_reason=data.get("broad_reason"),
            )
        except HoldError as exc:
            raise HoldError(f"{source}: {exc}") from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise HoldError(f"{source}: not a valid hold record ({type(exc).__name__}: {exc})") from exc
