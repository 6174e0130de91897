"""Incident holds: records, storage, lifecycle and the holds predicates (rules H1-H4, D2).

The scope itself (validation and ``scope_expr``) is tested in ``test_scope.py``.
"""

from __future__ import annotations

import hashlib
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from accesslake import holds
from accesslake import storage as lakefs
from accesslake.errors import HoldError, NotFoundError
from accesslake.holds import (
    Hold,
    Scope,
    active_holds,
    get_hold,
    holds_expr,
    list_holds,
    matching_hold_id_expr,
    open_hold,
    release_hold,
    renew_hold,
    scope,
)
from accesslake.storage.auditlog import read_events, verify_chain

# The retention suite runs on a local folder and on S3 (rules P1, P4, H1-H4 on both).
pytestmark = pytest.mark.both_storages

T0 = datetime(2025, 3, 1, tzinfo=UTC)
T1 = datetime(2025, 3, 2, tzinfo=UTC)
NOW = datetime(2025, 3, 3, 12, tzinfo=UTC)
INSIDE = datetime(2025, 3, 1, 12, tzinfo=UTC)


def make_scope(**kwargs: object) -> Scope:
    args: dict[str, object] = {"start": T0, "end": T1, "ips": ("203.0.113.7",)}
    args.update(kwargs)
    return Scope(**args)  # type: ignore[arg-type]


def make_hold(lake: Path, **kwargs: object) -> Hold:
    args: dict[str, object] = {
        "case_reference": "CASE-2025-001",
        "scope": make_scope(),
        "purpose": "credential stuffing against /login",
        "legal_basis": ("6-1-f",),
        "authorized_by": "dpo@example.org",
        "now": NOW,
    }
    args.update(kwargs)
    return open_hold(lake, **args)  # type: ignore[arg-type]


def requests(rows: list[tuple[datetime | None, str | None, str | None, str | None, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "ts": pl.Datetime("us", "UTC"),
            "client_ip": pl.String,
            "session_id": pl.String,
            "path": pl.String,
            "user_agent": pl.String,
        },
        orient="row",
    )


# ---------------------------------------------------------------- holds predicates


def test_holds_re_exports_the_scope_api() -> None:
    assert holds.Scope is scope.Scope and holds.scope_expr is scope.scope_expr
    assert holds.MAX_WINDOW_DAYS == scope.MAX_WINDOW_DAYS
    assert {"MAX_WINDOW_DAYS", "Scope", "scope_expr"} <= set(holds.__all__)


def test_holds_expr_and_matching_hold_id(lake: Path) -> None:
    first = make_hold(lake, scope=make_scope(ips=("203.0.113.7",)))
    second = make_hold(lake, scope=make_scope(ips=("203.0.113.7", "192.0.2.9")))
    frame = requests(
        [
            (INSIDE, "203.0.113.7", None, None, None),
            (INSIDE, "192.0.2.9", None, None, None),
            (INSIDE, "192.0.2.10", None, None, None),
        ]
    )
    low = min(first.id, second.id)  # row 0 is in both scopes: the lower id wins
    out = frame.select(
        holds_expr([second, first]).alias("held"),
        matching_hold_id_expr([second, first]).alias("hold_id"),
        holds_expr([]).alias("none"),
        matching_hold_id_expr([]).alias("no_id"),
    )
    assert out["held"].to_list() == [True, True, False]
    assert out["hold_id"].to_list() == [low, second.id, None]
    assert out["hold_id"].dtype == pl.String
    assert out["none"].to_list() == [False] * 3
    assert out["no_id"].to_list() == [None] * 3


# ---------------------------------------------------------------- records and storage


def test_open_hold_round_trips_through_json(lake: Path) -> None:
    hold = make_hold(
        lake,
        legal_basis=("bdsg-24", "Art. 6(1)(c) GDPR", "6-1-c"),
        review_days=14,
        source_candidate="cand-42",
        scope=make_scope(session_ids=("s1",), paths=("/admin/*",), user_agents=("curl",)),
    )
    assert hold.id.startswith("INC-20250303-") and len(hold.id) == len("INC-20250303-1a2b")
    assert hold.legal_basis == ("Art. 6(1)(c) GDPR", "§24 BDSG")
    assert hold.review_at == NOW + timedelta(days=14)
    assert hold.status == "active" and hold.is_active(NOW)
    assert Hold.from_json(hold.to_json()) == hold
    assert get_hold(lake, hold.id) == hold
    assert json.loads((lake / "incidents" / f"{hold.id}.json").read_text())["case_reference"] == "CASE-2025-001"


def test_hold_files_are_private(lake: Path, storage: str) -> None:
    """0700/0600 locally; on object storage incidents/ is its own prefix, for the bucket policy."""
    hold = make_hold(lake)
    folder = lake / "incidents"
    renew_hold(lake, hold.id, by="dpo", now=NOW + timedelta(days=1))
    assert [p.name for p in lakefs.list_files(folder, ".json")] == [f"{hold.id}.json"]
    assert not [p for p in lakefs.list_files(lake, "", hidden=True) if p.name.endswith(".tmp")]
    if storage == "local":
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE((folder / f"{hold.id}.json").stat().st_mode) == 0o600


def test_ids_are_unique(lake: Path) -> None:
    ids = {make_hold(lake).id for _ in range(40)}
    assert len(ids) == 40
    assert [h.id for h in list_holds(lake)] == sorted(ids)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"review_days": 31}, "--review-days: 31 exceeds the maximum of 30 days"),
        ({"review_days": 20, "max_review_days": 14}, "--review-days: 20 exceeds the maximum of 14 days"),
        ({"review_days": 0}, "--review-days: 0 must be a whole number of days"),
        ({"max_review_days": 60}, "max_review_days must be between 1 and 30"),
        ({"case_reference": " "}, "--case: must not be empty"),
        ({"purpose": ""}, "--purpose: must not be empty"),
        ({"authorized_by": ""}, "--authorized-by: must not be empty"),
        ({"legal_basis": ()}, "--legal-basis: name at least one of"),
        ({"legal_basis": ("consent",)}, "--legal-basis: 'consent' is not one of Art. 6(1)(c) GDPR"),
        ({"now": datetime(2025, 3, 3)}, "--now: 2025-03-03T00:00:00 has no time zone"),
    ],
)
def test_malformed_hold_is_refused(lake: Path, kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(HoldError) as info:
        make_hold(lake, **kwargs)
    assert fragment in str(info.value)
    assert list_holds(lake) == []
    assert read_events(lake) == []


def test_a_hand_edited_review_date_beyond_30_days_is_refused_on_load(lake: Path) -> None:
    hold = make_hold(lake)
    path = lake / "incidents" / f"{hold.id}.json"
    data = json.loads(path.read_text())
    data["review_at"] = (NOW + timedelta(days=45)).isoformat()
    path.write_text(json.dumps(data))
    with pytest.raises(HoldError, match=r"at most 30 days later \(rule H1\)") as info:
        get_hold(lake, hold.id)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("hold_id", ["INC-20250303-ffff", "../../etc/passwd", "inc-x"])
def test_unknown_hold_is_named(lake: Path, hold_id: str) -> None:
    with pytest.raises(NotFoundError) as info:
        get_hold(lake, hold_id)
    assert repr(hold_id) in str(info.value)
    assert "accesslake incident list" in str(info.value)


# ---------------------------------------------------------------- lifecycle


def test_renew_then_release(lake: Path) -> None:
    hold = make_hold(lake, review_days=7)
    later = NOW + timedelta(days=6)
    renewed = renew_hold(lake, hold.id, by="dpo@example.org", now=later, days=10)
    assert renewed.review_at == later + timedelta(days=10)
    assert renewed.renewals[-1].by == "dpo@example.org" and renewed.renewals[-1].at == later
    assert renewed.is_active(NOW + timedelta(days=8))  # would have expired without the renewal
    assert get_hold(lake, hold.id) == renewed

    released = release_hold(lake, hold.id, by="lead@example.org", now=later + timedelta(days=1))
    assert (released.status, released.released_by) == ("released", "lead@example.org")
    assert not released.is_active(later + timedelta(days=1))
    assert active_holds(lake, later + timedelta(days=1)) == []
    assert Hold.from_json(released.to_json()) == released


def test_renewal_beyond_maximum_is_refused(lake: Path) -> None:
    hold = make_hold(lake)
    with pytest.raises(HoldError, match="--review-days: 31 exceeds the maximum of 30 days"):
        renew_hold(lake, hold.id, by="dpo", now=NOW, days=31)
    assert get_hold(lake, hold.id) == hold


def test_release_twice_is_refused(lake: Path) -> None:
    hold = make_hold(lake)
    release_hold(lake, hold.id, by="lead", now=NOW + timedelta(hours=1))
    with pytest.raises(HoldError, match=f"hold {hold.id} was already released by lead"):
        release_hold(lake, hold.id, by="lead", now=NOW + timedelta(hours=2))
    with pytest.raises(HoldError, match="cannot renew it"):
        renew_hold(lake, hold.id, by="lead", now=NOW + timedelta(hours=2))


def test_past_review_date_is_not_active(lake: Path) -> None:
    hold = make_hold(lake, review_days=3)
    review = NOW + timedelta(days=3)
    assert hold.is_active(review - timedelta(microseconds=1))
    assert not hold.is_active(review)
    assert not hold.is_active(NOW - timedelta(seconds=1))  # not yet opened
    assert [h.id for h in active_holds(lake, review - timedelta(seconds=1))] == [hold.id]
    assert active_holds(lake, review) == []
    with pytest.raises(HoldError, match="passed its review date"):
        renew_hold(lake, hold.id, by="dpo", now=review + timedelta(days=1))
    # an expired hold can still be closed on record
    assert release_hold(lake, hold.id, by="dpo", now=review + timedelta(days=1)).status == "released"


def test_every_change_is_audited(lake: Path) -> None:
    hold = make_hold(lake)
    renew_hold(lake, hold.id, by="dpo", now=NOW + timedelta(days=1))
    release_hold(lake, hold.id, by="dpo", now=NOW + timedelta(days=2))
    events = read_events(lake)
    assert [e["event"] for e in events] == ["hold.open", "hold.renew", "hold.release"]
    assert {e["hold_id"] for e in events} == {hold.id}
    assert {e["case_reference"] for e in events} == {"CASE-2025-001"}
    final = (lake / "incidents" / f"{hold.id}.json").read_bytes()
    assert events[-1]["hold_sha256"] == hashlib.sha256(final).hexdigest()
    assert events[0]["at"] == NOW.isoformat()
    assert "203.0.113.7" not in (lake / "audit" / "audit.jsonl").read_text()  # scope stays out
    assert verify_chain(lake) == []
