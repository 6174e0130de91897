"""Incident holds: storage and lifecycle (open, renew, release, redact; rules H1, H4, D2).

One JSON file per hold, ``<lake>/incidents/<id>.json`` (folder 0700, files
0600), written atomically. Every change appends ``hold.open``, ``hold.renew``,
``hold.release`` or ``hold.redact`` to the audit log with the id, the case
reference and the SHA-256 of the written JSON; the scope itself (IPs, session
ids) stays out of the audit log. ``hold.open`` also records what the scope
matched in the lake (:mod:`accesslake.holds.breadth`) and, for a broad scope,
the operator's written reason.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from accesslake.errors import HoldError, NotFoundError
from accesslake.holds.breadth import check_breadth
from accesslake.holds.records import HARD_MAX_REVIEW_DAYS, HOLD_ID, Hold, Renewal, required_text
from accesslake.holds.scope import Scope, aware_utc
from accesslake.storage import LakePath, Layout, create_bytes, exclusive, list_files, make_private, write_bytes_atomic
from accesslake.storage.auditlog import append_event

__all__ = ["active_holds", "get_hold", "list_holds", "open_hold", "redact_hold", "release_hold", "renew_hold"]


# ---------------------------------------------------------------- storage


def _folder(lake: LakePath) -> LakePath:
    folder = Layout(lake).incidents
    make_private(folder, folder)
    return folder


def _path(lake: LakePath, hold_id: str) -> LakePath:
    if not HOLD_ID.match(hold_id):
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


def _save(lake: LakePath, hold: Hold, event: str, now: datetime, *, create: bool = False, **details: Any) -> Hold:
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
        **details,
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
    confirm_broad: str | None = None,
) -> Hold:
    """Record a new active hold reviewed ``review_days`` (default the maximum) from ``now``.

    A scope that matches much of its window is refused unless ``confirm_broad``
    gives the written reason (:mod:`accesslake.holds.breadth`).
    """
    now = aware_utc(now, "--now")
    review_at = now + _review_days(review_days, max_review_days)
    breadth, reason = check_breadth(lake, scope, now, confirm_broad)
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
                broad_reason=reason,
            )
            try:
                return _save(lake, hold, "hold.open", now, create=True, breadth=breadth.to_dict(),
                             broad_reason=reason)
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
    paths = [p for p in list_files(Layout(lake).incidents, ".json") if HOLD_ID.match(p.stem)]
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
    by = required_text(by, "--by")
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
    by = required_text(by, "--by")
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
