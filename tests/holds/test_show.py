"""``accesslake incident show``: a readable block by default, the record with --json (issue 12)."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from accesslake import holds
from accesslake.cli import main

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


@pytest.fixture
def hold(lake: Path) -> holds.Hold:
    scope = holds.Scope(start=NOW - timedelta(days=2), end=NOW, ips=("203.0.113.9",), paths=("/login*",))
    opened = holds.open_hold(lake, case_reference="CASE-17", scope=scope, purpose="credential stuffing",
                             legal_basis=("6-1-f", "bdsg-24"), authorized_by="J. Doe (CISO)", now=NOW,
                             review_days=14, confirm_broad="the login page of every client, per the DPO")
    return holds.renew_hold(lake, opened.id, by="DPO", now=NOW + timedelta(days=1), days=20)


def show(lake: Path, hold_id: str, *options: str, now: datetime = NOW + timedelta(days=2)) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--lake", str(lake), "--now", now.isoformat(), *options, "incident", "show", hold_id])
    assert code == 0
    return out.getvalue()


def test_show_prints_a_readable_block(lake: Path, hold: holds.Hold) -> None:
    text = show(lake, hold.id)
    assert not text.lstrip().startswith("{")
    lines = text.splitlines()
    assert lines[0] == f"hold {hold.id}  active"
    for expected in ("  case           CASE-17", "  purpose        credential stuffing",
                     "  legal basis    Art. 6(1)(f) GDPR; §24 BDSG", "  authorised by  J. Doe (CISO)",
                     "  opened         2026-11-29 03:00Z", "  review         2026-12-20 03:00Z",
                     "  scope          2026-11-27 03:00Z .. 2026-11-29 03:00Z", "    IPs          203.0.113.9",
                     "    paths        /login*",
                     "  broad scope    confirmed: the login page of every client, per the DPO",
                     "  renewed        2026-11-30 03:00Z by DPO, review 2026-12-20 03:00Z",
                     "  release        not released"):
        assert expected in lines


def test_show_json_is_the_record(lake: Path, hold: holds.Hold) -> None:
    assert json.loads(show(lake, hold.id, "--json")) == hold.to_dict()


def test_show_says_when_a_hold_no_longer_counts(lake: Path, hold: holds.Hold) -> None:
    assert show(lake, hold.id, now=hold.review_at).splitlines()[0] == (
        f"hold {hold.id}  past its review date (no longer active)")
    released = holds.release_hold(lake, hold.id, by="DPO", now=NOW + timedelta(days=3))
    lines = show(lake, released.id, now=NOW + timedelta(days=3)).splitlines()
    assert lines[0] == f"hold {hold.id}  released"
    assert "  release        2026-12-02 03:00Z by DPO" in lines
