"""The weekly full audit (flows/audit.py): deployed by prefect.yaml on Sundays, every file read, Failed on a
violation. The fast tests call the library side; the ``integration`` ones run the flow under the harness."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from retention_kit import Hit, ingest_hits

from accesslake.audit import AuditReport, run_audit
from accesslake.config import Settings
from accesslake.errors import AuditError
from accesslake.storage import auditlog
from flows.audit import audit_full, full_audit, report_markdown

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 20, tzinfo=UTC)
NOW = T0 + timedelta(days=2)


@pytest.fixture
def verified(settings: Settings, tmp_path: Path) -> Settings:
    hits = [Hit(T0 + timedelta(hours=h), ip=f"198.51.100.{h}") for h in range(3)]
    ingest_hits(settings, tmp_path / "access.log", hits, T0 + timedelta(days=1), junk=["junk"])
    assert run_audit(settings, NOW).files_read == 2
    assert run_audit(settings, NOW).files_read == 0  # the nightly's audit skips what is verified
    return settings


def test_prefect_yaml_deploys_the_full_audit_on_sundays_in_berlin() -> None:
    config = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    (deployment,) = [d for d in config["deployments"] if d["name"] == "accesslake-audit-full"]
    path, _, name = deployment["entrypoint"].partition(":")
    assert (REPO / path).is_file() and name == audit_full.fn.__name__
    assert deployment["schedules"] == [{"cron": "0 4 * * 0", "timezone": "Europe/Berlin", "active": True}]
    assert deployment["work_pool"]["name"] == "accesslake-process"
    assert set(deployment["parameters"]) <= set(inspect.signature(audit_full.fn).parameters)
    assert not Path(deployment["parameters"]["lake"]).is_absolute()


def test_the_flow_runs_the_librarys_full_audit(verified: Settings) -> None:
    assert "full_audit" in inspect.getsource(audit_full.fn)
    report = full_audit(verified, NOW)
    assert report.ok and report.full and (report.files_read, report.files_skipped) == (2, 0)
    assert auditlog.read_events(verified.lake, "audit")[-1]["full"] is True


def test_report_markdown_has_the_verdict_and_each_violation() -> None:
    report = AuditReport(now=NOW.isoformat(), full=True, violations=["P1 database: /x/db.duckdb"])
    text = report_markdown(report)
    assert "**audit FAILED: 1 violation(s)" in text and "full: 0 files read" in text
    assert "- P1 database: /x/db.duckdb" in text


@pytest.mark.integration
@pytest.mark.usefixtures("prefect_api")
def test_full_audit_flow_passes_and_fails_on_a_violation(verified: Settings) -> None:
    result = audit_full(lake=str(verified.lake), now=NOW.isoformat())
    assert result["violations"] == [] and result["full"] and result["files_read"] == 2
    (verified.lake / "scratch.duckdb").write_bytes(b"")
    state = audit_full(lake=str(verified.lake), now=NOW.isoformat(), return_state=True)
    assert state.is_failed()
    with pytest.raises(AuditError, match=r"audit found 1 violation\(s\).*P1 database"):
        state.result()
