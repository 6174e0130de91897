"""The Prefect flows (flows/): task wrappers with ``task.fn()``, flows end to end under the harness.

The fast tests call the task functions directly (no Prefect API) and check
``prefect.yaml`` against the flow it deploys. The ``integration`` tests run
the flows against one temporary Prefect API per session
(``prefect_test_harness``) on a lake in ``tmp_path`` with real log files in
``landing/``, at an explicit ``now``.
"""

from __future__ import annotations

# Telemetry is switched off in tests/conftest.py, before Prefect is imported.
import inspect
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import polars as pl
import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from accesslake import storage as lakefs
from accesslake.audit import AuditReport
from accesslake.config import Settings
from accesslake.errors import AuditError
from accesslake.pipeline import NightlyResult
from accesslake.schema import REQUEST_SCHEMA
from accesslake.storage import Layout, auditlog
from flows.ingest import ingest_landing
from flows.nightly import ARTIFACT_KEY, audit_failure, counts_markdown, nightly
from flows.runners import TaskRuns

REPO = Path(__file__).resolve().parents[2]  # flows/ is importable through pytest's pythonpath = ["."]

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
OLD_IPS = [f"203.0.113.{i}" for i in range(4)]  # 9 days before NOW: past anonymize_after and max_age
NEW_IPS = [f"198.51.100.{i}" for i in range(5)]  # 6 hours before NOW


def combined(ip: str, ts: datetime, path: str) -> str:
    """One Apache ``combined`` line with every personal field set."""
    return (f'{ip} - - [{ts:%d/%b/%Y:%H:%M:%S +0000}] "GET {path}?q=secret HTTP/1.1" 200 512 '
            f'"https://ref.example.org/page?utm=1" "{AGENT}"')


def write_landing(lake: Path, now: datetime) -> tuple[Path, Path]:
    """``old.log`` (a late archive) and ``recent.log`` (last night, plus one line that does not parse)."""
    landing = lake / "landing"
    landing.mkdir(parents=True, exist_ok=True)
    old = [combined(ip, now - timedelta(days=9, minutes=i), f"/old/{i}.html") for i, ip in enumerate(OLD_IPS)]
    new = [combined(ip, now - timedelta(hours=6, minutes=i), f"/new/{i}.html") for i, ip in enumerate(NEW_IPS)]
    (landing / "old.log").write_text("\n".join(old) + "\n", encoding="utf-8")
    (landing / "recent.log").write_text("\n".join([*new, "this is not a log line"]) + "\n", encoding="utf-8")
    return landing / "old.log", landing / "recent.log"


def requests(lake: Path) -> pl.DataFrame:
    return lakefs.read_dataset(Layout(lake).requests, REQUEST_SCHEMA).collect()


def ips(lake: Path, prefix: str) -> list[str | None]:
    """client_ip of the rows whose path starts with ``prefix``, in path order."""
    return requests(lake).filter(pl.col("path").str.starts_with(prefix)).sort("path")["client_ip"].to_list()


def artifacts_of(flow_run_id: UUID | None) -> list[str]:
    """The markdown of this flow run's counts artifacts."""
    assert flow_run_id is not None
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(
            any_=[flow_run_id])))
    return [str(a.data) for a in found if a.key == ARTIFACT_KEY]


@pytest.fixture
def outside_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory: the flows must not write into it."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


# ---------------------------------------------------------------- task.fn(): no Prefect API


def test_the_flows_run_the_librarys_steps(lake: Path, settings: Settings) -> None:
    """The flow adds no step of its own: its executor runs each library call the pipeline makes."""
    source = inspect.getsource(nightly.fn)
    assert "run_nightly(" in source and "TaskRuns()" in source
    assert "run_nightly(" in inspect.getsource(ingest_landing.fn)
    assert set(inspect.signature(TaskRuns.map).parameters) >= {"name", "fn", "items", "label"}


def test_counts_markdown_has_a_row_per_file_and_the_verdict() -> None:
    result = NightlyResult(now=NOW.isoformat())
    assert "landing folder empty" in counts_markdown(result)

    from accesslake.ingest import IngestResult
    from accesslake.pipeline import Failure
    from accesslake.retention import AnonymizeResult

    result.ingested = [IngestResult("/x/landing/a|b.log", "default", "k", "combined", True, "ingested",
                                    lines_read=3, rows=2, rejects=1, anonymized_on_write=2)]
    result.anonymized = AnonymizeResult(rows_anonymized=7, files_rewritten=2)
    result.audit = AuditReport(now=NOW.isoformat(), violations=["P1 database: /x/db.duckdb"])
    text = counts_markdown(result)
    assert "| a\\|b.log | combined | ingested | 3 | 2 | 0 | 1 | 2 |" in text
    assert "- 7 rows were anonymised in 2 files" in text
    assert "**audit FAILED: 1 violation(s)" in text
    assert "- P1 database: /x/db.duckdb" in text
    assert "Failures" not in text
    result.failures = [Failure("ingest", "junk.bin", "cannot detect the log format")]
    assert "- FAILED ingest junk.bin: cannot detect the log format" in counts_markdown(result)


def test_audit_failure_names_the_count_and_the_first_violations(tmp_path: Path) -> None:
    report = AuditReport(now=NOW.isoformat(), violations=[f"P1 requests: file{i}.parquet" for i in range(7)])
    error = audit_failure(report, tmp_path)
    assert isinstance(error, AuditError)
    assert error.violations == report.violations
    assert str(error).startswith(f"audit found 7 violation(s) in {tmp_path}")
    assert "file4.parquet; ..." in str(error) and "file5" not in str(error)


def test_prefect_yaml_deploys_the_nightly_flow_daily_in_berlin() -> None:
    config = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    (deployment,) = [d for d in config["deployments"] if d["name"] == "accesslake-nightly"]
    path, _, name = deployment["entrypoint"].partition(":")
    assert (REPO / path).is_file() and name == nightly.fn.__name__
    assert deployment["work_pool"]["name"] == "accesslake-process"
    assert deployment["schedules"] == [{"cron": "30 2 * * *", "timezone": "Europe/Berlin", "active": True}]
    assert set(deployment["parameters"]) <= set(inspect.signature(nightly.fn).parameters)
    assert not Path(deployment["parameters"]["lake"]).is_absolute()
    (step,) = config["pull"]
    assert step == {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $PWD }}"}}


# ---------------------------------------------------------------- flows under the harness


@pytest.mark.integration
@pytest.mark.usefixtures("prefect_api")
def test_ingest_landing_flow_ingests_each_file_once(lake: Path, outside_cwd: Path) -> None:
    write_landing(lake, NOW)

    results = ingest_landing(lake=str(lake), now=NOW.isoformat())

    assert [(Path(r["source_file"]).name, r["status"], r["rows"], r["rejects"], r["anonymized_on_write"])
            for r in results] == [("old.log", "ingested", 4, 0, 4), ("recent.log", "ingested", 5, 1, 0)]
    assert ips(lake, "/old/") == [None] * 4  # late rows never reach the disk with their IP
    assert ips(lake, "/new/") == NEW_IPS
    again = ingest_landing(lake=str(lake), now=(NOW + timedelta(hours=1)).isoformat())
    assert [r["status"] for r in again] == ["unchanged", "unchanged"]
    assert requests(lake).height == 9
    assert list(outside_cwd.iterdir()) == []


@pytest.mark.integration
@pytest.mark.usefixtures("prefect_api")
def test_nightly_flow_ingests_anonymises_audits_and_publishes(lake: Path, outside_cwd: Path) -> None:
    old, recent = write_landing(lake, NOW)

    state = nightly(lake=str(lake), now=NOW.isoformat(), return_state=True)

    assert state.is_completed(), state.message
    result = state.result()
    assert result["now"] == NOW.isoformat()
    assert [(Path(r["source_file"]).name, r["rows"], r["rejects"]) for r in result["ingested"]] == [
        ("old.log", 4, 0), ("recent.log", 5, 1)]
    assert result["anonymized"]["landing_deleted"] == [str(old)]  # past anonymize_after: raw file gone
    assert result["audit"]["violations"] == []
    assert not old.exists() and recent.exists()
    assert ips(lake, "/old/") == [None] * 4 and ips(lake, "/new/") == NEW_IPS
    assert auditlog.read_events(lake, "audit")[-1]["ok"] is True
    (markdown,) = artifacts_of(state.state_details.flow_run_id)
    assert "| old.log | combined | ingested | 4 | 4 | 0 | 0 | 4 |" in markdown
    assert "**audit passed" in markdown

    # Six days on, nothing new in landing/: the backlog rewrite anonymises last night's rows.
    later = nightly(lake=str(lake), now=(NOW + timedelta(days=6)).isoformat())

    assert [r["status"] for r in later["ingested"]] == ["unchanged"]
    assert later["anonymized"]["rows_anonymized"] == 5
    assert later["anonymized"]["rejects_scrubbed"] == 1
    assert later["anonymized"]["landing_deleted"] == [str(recent)]
    assert later["audit"]["violations"] == []
    assert requests(lake)["client_ip"].null_count() == 9
    assert list(outside_cwd.iterdir()) == []


@pytest.mark.integration
@pytest.mark.usefixtures("prefect_api")
def test_nightly_flow_run_fails_on_an_audit_violation(lake: Path) -> None:
    write_landing(lake, NOW)
    (lake / "scratch.duckdb").write_bytes(b"")  # database files are not allowed in the lake

    state = nightly(lake=str(lake), now=NOW.isoformat(), return_state=True)

    assert state.is_failed()
    with pytest.raises(AuditError, match=r"audit found 1 violation\(s\).*P1 database: .*scratch\.duckdb"):
        state.result()
    assert auditlog.read_events(lake, "audit")[-1]["ok"] is False
    (markdown,) = artifacts_of(state.state_details.flow_run_id)  # published before the run fails
    assert "**audit FAILED: 1 violation(s)" in markdown
    assert requests(lake).height == 9  # the steps before the audit ran
