"""Incident holds: the record (rule H1), its storage and its lifecycle.

A hold exempts the rows inside its :class:`~accesslake.holds.scope.Scope` from
anonymisation while it is active (rule H2): ``anonymize`` selects them with
:func:`holds_expr` and labels them with :func:`matching_hold_id_expr`. A hold
stops being active when it is released or passes its review date without
renewal (rule H4). The scope, its rules and its predicate live in
:mod:`accesslake.holds.scope`.

One JSON file per hold, ``<lake>/incidents/<id>.json`` (folder 0700, files
0600), written atomically. Every change appends ``hold.open``, ``hold.renew``
or ``hold.release`` to the audit log with the id, the case reference and the
SHA-256 of the written JSON; the scope itself (IPs, session ids) stays out of
the audit log.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from accesslake.errors import HoldError, NotFoundError
from accesslake.holds.scope import Scope, aware_utc, scope_expr, strings
from accesslake.storage import LakePath, Layout, create_bytes, exclusive, list_files, make_private, write_bytes_atomic
from accesslake.storage.auditlog import append_event

__all__ = [
    "LEGAL_BASES",
    "Hold",
    "Renewal",
    "active_holds",
    "get_hold",
    "holds_expr",
    "list_holds",
    "matching_hold_id_expr",
    "open_hold",
    "redact_hold",
    "release_hold",
    "renew_hold",
]

HARD_MAX_REVIEW_DAYS = 30  # rule H1; the policy may lower it
LEGAL_BASES = ("Art. 6(1)(c) GDPR", "Art. 6(1)(f) GDPR", "§24 BDSG")
_LEGAL_ALIASES = {"6-1-c": LEGAL_BASES[0], "6-1-f": LEGAL_BASES[1], "bdsg-24": LEGAL_BASES[2]}
_LEGAL_ALIASES.update({basis.lower(): basis for basis in LEGAL_BASES})
_ID = re.compile(r"^INC-\d{8}-[0-9a-f]{4}$")
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
    """Id (String) of the first hold, by id, whose scope covers the row; else null."""
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


def _text(value: object, option: str) -> str:
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

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID.match(self.id):
            raise HoldError(f"hold id {self.id!r} is not of the form INC-YYYYMMDD-xxxx")
        if not isinstance(self.scope, Scope):
            raise HoldError(f"hold {self.id}: scope must be a Scope")
        set_ = object.__setattr__
        set_(self, "case_reference", _text(self.case_reference, "--case"))
        set_(self, "purpose", _text(self.purpose, "--purpose"))
        set_(self, "authorized_by", _text(self.authorized_by, "--authorized-by"))
        set_(self, "legal_basis", _legal_bases(self.legal_basis))
        set_(self, "opened_at", aware_utc(self.opened_at, "opened_at"))
        set_(self, "review_at", aware_utc(self.review_at, "--review-days"))
        renewals = tuple(
            Renewal(aware_utc(r.at, "renewed at"), _text(r.by, "--by"), aware_utc(r.review_at, "review_at"))
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
            set_(self, "released_by", _text(self.released_by, "--by"))
            set_(self, "released_at", aware_utc(self.released_at, "released_at"))
        elif self.released_by is not None or self.released_at is not None:
            raise HoldError(f"hold {self.id}: an active hold has no released_by / released_at")

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
        }

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
            )
        except HoldError as exc:
            raise HoldError(f"{source}: {exc}") from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise HoldError(f"{source}: not a valid hold record ({type(exc).__name__}: {exc})") from exc


# ---------------------------------------------------------------- storage


def _folder(lake: LakePath) -> LakePath:
    folder = Layout(lake).incidents
    make_private(folder, folder)
    return folder


def _path(lake: LakePath, hold_id: str) -> LakePath:
    if not _ID.match(hold_id):
        raise NotFoundError(
            f"unknown incident hold {hold_id!r} (ids look like INC-20250101-1a2b); see `accesslake incident list`"
        )
    return Layout(lake).incident(hold_id)


@contextmanager
def _locked(lake: LakePath) -> Iterator[LakePath]:
    """Serialise read-modify-write of hold records; yields the incidents folder."""
    folder = _folder(lake)
    with exclusive(folder / ".lock", wait_seconds=120, what="incident records lock"):
        yield folder


def _write(path: LakePath, body: bytes, *, create: bool) -> None:
    """Crash-safe write of a record, 0600; ``create`` fails with FileExistsError if the id is taken."""
    if create:
        create_bytes(path, body, private=True)
    else:
        write_bytes_atomic(path, body, private=True)


def _save(lake: LakePath, hold: Hold, event: str, now: datetime, *, create: bool = False) -> Hold:
    body = hold.to_json().encode()
    _write(Layout(lake).incident(hold.id), body, create=create)
    append_event(
        lake,
        event,
        now,
        hold_id=hold.id,
        case_reference=hold.case_reference,
        status=hold.status,
        review_at=hold.review_at.isoformat(),
        hold_sha256=hashlib.sha256(body).hexdigest(),
    )
    return hold


def _review_days(days: int | None, max_review_days: int) -> timedelta:
    if not 1 <= max_review_days <= HARD_MAX_REVIEW_DAYS:
        raise HoldError(f"policy [holds] max_review_days must be between 1 and {HARD_MAX_REVIEW_DAYS}")
    days = max_review_days if days is None else days
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise HoldError(f"--review-days: {days!r} must be a whole number of days, at least 1")
    if days > max_review_days:
        raise HoldError(
            f"--review-days: {days} exceeds the maximum of {max_review_days} days "
            "(policy [holds] max_review_days); renew the hold before its review date instead"
        )
    return timedelta(days=days)


def open_hold(
    lake: LakePath,
    *,
    case_reference: str,
    scope: Scope,
    purpose: str,
    legal_basis: Iterable[str] | str,
    authorized_by: str,
    now: datetime,
    review_days: int | None = None,
    max_review_days: int = HARD_MAX_REVIEW_DAYS,
    source_candidate: str | None = None,
) -> Hold:
    """Record a new active hold reviewed ``review_days`` (default the maximum) from ``now``."""
    now = aware_utc(now, "--now")
    review_at = now + _review_days(review_days, max_review_days)
    with _locked(lake) as folder:
        for _ in range(1000):
            hold_id = f"INC-{now:%Y%m%d}-{secrets.token_hex(2)}"
            if (folder / f"{hold_id}.json").exists():
                continue
            hold = Hold(
                id=hold_id,
                case_reference=case_reference,
                scope=scope,
                purpose=purpose,
                legal_basis=legal_basis,  # type: ignore[arg-type]  # normalised by Hold
                authorized_by=authorized_by,
                opened_at=now,
                review_at=review_at,
                source_candidate=source_candidate,
            )
            try:
                return _save(lake, hold, "hold.open", now, create=True)
            except FileExistsError:
                continue
    raise HoldError(f"{folder}: no free hold id left for {now:%Y-%m-%d}; try again")


def get_hold(lake: LakePath, hold_id: str) -> Hold:
    path = _path(lake, hold_id)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"unknown incident hold {hold_id!r}; see `accesslake incident list`") from None
    return Hold.from_json(text, str(path))


def list_holds(lake: LakePath) -> list[Hold]:
    """Every hold record, by id."""
    paths = [p for p in list_files(Layout(lake).incidents, ".json") if p.name.startswith("INC-") and _ID.match(p.stem)]
    return [Hold.from_json(p.read_text(encoding="utf-8"), str(p)) for p in paths]


def active_holds(lake: LakePath, now: datetime) -> list[Hold]:
    """The holds that exempt rows at ``now`` (rules H2, H4), by id."""
    return [h for h in list_holds(lake) if h.is_active(now)]


def _active_for_change(lake: LakePath, hold_id: str, now: datetime, verb: str) -> Hold:
    hold = get_hold(lake, hold_id)
    if hold.status == "released":
        raise HoldError(
            f"hold {hold_id} was already released by {hold.released_by} at "
            f"{hold.released_at.isoformat() if hold.released_at else '?'}; cannot {verb} it"
        )
    if now < hold.opened_at:
        raise HoldError(f"hold {hold_id} opens at {hold.opened_at.isoformat()}, after --now {now.isoformat()}")
    return hold


def renew_hold(
    lake: LakePath,
    hold_id: str,
    *,
    by: str,
    now: datetime,
    days: int | None = None,
    max_review_days: int = HARD_MAX_REVIEW_DAYS,
) -> Hold:
    """Set an active hold's review date to ``now + days`` (default the maximum)."""
    now = aware_utc(now, "--now")
    by = _text(by, "--by")
    review_at = now + _review_days(days, max_review_days)
    with _locked(lake):
        hold = _active_for_change(lake, hold_id, now, "renew")
        if not hold.is_active(now):
            raise HoldError(
                f"hold {hold_id} passed its review date {hold.review_at.isoformat()} and is no longer "
                "active (rule H4); its rows are being returned: open a new hold if the case needs one"
            )
        renewed = replace(hold, review_at=review_at, renewals=(*hold.renewals, Renewal(now, by, review_at)))
        return _save(lake, renewed, "hold.renew", now)


def release_hold(lake: LakePath, hold_id: str, *, by: str, now: datetime) -> Hold:
    """Release a hold (also one past its review date, to close it on record)."""
    now = aware_utc(now, "--now")
    by = _text(by, "--by")
    with _locked(lake):
        hold = _active_for_change(lake, hold_id, now, "release")
        released = replace(hold, status="released", released_by=by, released_at=now)
        return _save(lake, released, "hold.release", now)


def redact_hold(lake: LakePath, hold_id: str, *, now: datetime, ipv4_prefix: int = 16, ipv6_prefix: int = 32) -> Hold:
    """Cut an ended hold's scope to networks and drop its session ids (the record stays).

    Once a hold is released or past its review date, its rows return anonymised
    (rule H4); its record must not keep the addresses either. Refused for a hold
    that is still active; a no-op for one already redacted.
    """
    now = aware_utc(now, "--now")
    with _locked(lake):
        hold = get_hold(lake, hold_id)
        if hold.is_active(now):
            raise HoldError(f"hold {hold_id} is still active; release it before its scope can be redacted")
        if hold.redacted_at is not None:
            return hold
        redacted = replace(
            hold,
            scope=Scope.redacted(hold.scope, ipv4_prefix=ipv4_prefix, ipv6_prefix=ipv6_prefix),
            redacted_at=now,
        )
        return _save(lake, redacted, "hold.redact", now)
