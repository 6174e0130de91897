"""An ended hold's record keeps no addresses: its scope is cut to networks once its rows are back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from accesslake import holds
from accesslake.audit import run_audit
from accesslake.config import Settings
from accesslake.errors import HoldError
from accesslake.ingest import ingest_file
from accesslake.retention import run_retention as anonymize

# The retention suite runs on a local folder and on S3 (rules P1, P4, H1-H4 on both).
pytestmark = pytest.mark.both_storages

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LINE = '{ip} - - [20/Nov/2026:10:{m:02d}:00 +0000] "GET /login HTTP/1.1" 401 12 "-" "curl/8.4" \n'


def _lake(lake: Path, tmp_path: Path) -> tuple[Settings, holds.Hold]:
    settings = Settings(lake=lake)
    log = tmp_path / "access.log"
    log.write_text("".join(LINE.format(ip=ip, m=m) for m in range(10) for ip in ("203.0.113.9", "2001:db8:5::7")))
    ingest_file(log, settings, NOW)
    scope = holds.Scope(start=NOW - timedelta(hours=3), end=NOW, ips=("203.0.113.9", "2001:db8:5::7"),
                        session_ids=("s3cr3t-session",))
    hold = holds.open_hold(settings.lake, case_reference="CASE-1", scope=scope, purpose="credential stuffing",
                           legal_basis=("6-1-f",), authorized_by="CISO", now=NOW)
    return settings, hold


def test_released_hold_is_redacted_after_its_rows_return(lake: Path, tmp_path: Path) -> None:
    settings, hold = _lake(lake, tmp_path)
    later = NOW + timedelta(days=6)
    anonymize(settings, later)  # rows move to held/
    assert holds.get_hold(settings.lake, hold.id).redacted_at is None
    holds.release_hold(settings.lake, hold.id, by="CISO", now=later + timedelta(hours=1))
    result = anonymize(settings, later + timedelta(hours=2))
    assert result.holds_redacted == [hold.id]
    text = (settings.lake / "incidents" / f"{hold.id}.json").read_text()
    assert "203.0.113.9" not in text and "2001:db8:5::7" not in text and "s3cr3t-session" not in text
    record = holds.get_hold(settings.lake, hold.id)
    assert record.scope.cidrs == ("203.0.0.0/16", "2001:db8::/32")
    assert record.scope.ips == () and record.scope.session_ids == ()
    assert record.case_reference == "CASE-1" and record.status == "released"
    assert run_audit(settings, later + timedelta(days=10), record=False).ok
    assert anonymize(settings, later + timedelta(hours=3)).holds_redacted == []  # once


def test_audit_flags_an_ended_hold_that_still_names_addresses(lake: Path, tmp_path: Path) -> None:
    settings, hold = _lake(lake, tmp_path)
    holds.release_hold(settings.lake, hold.id, by="CISO", now=NOW + timedelta(hours=1))
    report = run_audit(settings, NOW + timedelta(days=8), record=False)
    assert any(f"{hold.id}.json" in v and "P1 incidents" in v for v in report.violations)


def test_an_active_hold_is_not_redacted(lake: Path, tmp_path: Path) -> None:
    settings, hold = _lake(lake, tmp_path)
    with pytest.raises(HoldError, match="still active"):
        holds.redact_hold(settings.lake, hold.id, now=NOW + timedelta(hours=1))
