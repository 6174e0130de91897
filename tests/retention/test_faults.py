"""Crash safety of the backlog rewrite (rule P4): a crash at any point plus a re-run equals a clean run.

The starting lake is built so that the run reaches every named failure point:
rows to move into an active hold (``after-held-write``, ``after-main-write``),
a released hold with held rows to return, some of them still covered by the
active hold (``after-return-write``, ``after-held-delete``), and rejected lines
old enough to scrub (``after-reject-write``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from retention_kit import (
    Hit,
    copy_lake,
    held_rows,
    ingest_hits,
    leftovers,
    main_rows,
    open_hold,
    reject_rows,
    snapshot,
)

from accesslake import holds
from accesslake import retention as anonymizer
from accesslake import storage as lakefs
from accesslake.audit import run_audit
from accesslake.config import Settings
from accesslake.faults import InjectedFault
from accesslake.storage import Layout
from accesslake.storage.auditlog import verify_chain

# Crash safety on a local folder (rename) and on S3 (no rename: journals and single PUTs).
pytestmark = pytest.mark.both_storages

T0 = datetime(2026, 10, 31, tzinfo=UTC)
NOW = T0 + timedelta(days=8)
SUSPECT = "203.0.113.7"
RELEASED = "198.51.100.66"
REPO = Path(__file__).resolve().parents[2]


def hits(day: datetime, tag: str) -> list[Hit]:
    out = []
    for i in range(24):
        ip, path = f"192.0.2.{i + 10}", f"/page/{i}"
        if i % 6 == 5:
            ip = SUSPECT
        elif 1 <= i <= 4 and day == T0:
            ip, path = RELEASED, ("/wp-login.php" if i in (2, 3) else path)
        out.append(Hit(day + timedelta(hours=i, minutes=3), ip=ip, path=path, session=f"{tag}-{i}"))
    return out


@pytest.fixture(scope="module")
def start(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lake just before the run at NOW (built once; each test works on a copy)."""
    lake = tmp_path_factory.mktemp("start") / "lake"
    lake.mkdir()
    settings = Settings(lake=lake)
    junk = ["192.0.2.200 this line is junk", "junk from 2001:db8::5"]
    ingest_hits(settings, Layout(lake).landing / "day1.log", hits(T0, "a"), T0 + timedelta(days=1), junk=junk)
    ingest_hits(settings, Layout(lake).landing / "day2.log", hits(T0 + timedelta(days=1), "b"),
                T0 + timedelta(days=2), junk=junk[:1])
    released = open_hold(lake, T0 + timedelta(days=1), ips=(RELEASED,), start=T0, end=T0 + timedelta(days=1))
    first = T0 + timedelta(hours=124, minutes=30)  # rows up to 04:03 on day 1 are due: RELEASED's rows held
    result = anonymizer.run_retention(settings, first)
    assert (result.rows_held, result.rows_anonymized, result.rejects_scrubbed) == (4, 1, 0)
    holds.release_hold(lake, released.id, by="dpo@example.org", now=first + timedelta(hours=1))
    open_hold(lake, first + timedelta(hours=1), ips=(SUSPECT,), paths=("/wp-login.php",), start=T0,
              end=T0 + timedelta(days=3))
    assert not leftovers(lake)
    return lake


@pytest.fixture(scope="module")
def clean_run(start: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Counter[tuple[object, ...]], list[str]]:
    """Content and landing folder after an uninterrupted run at NOW."""
    lake = copy_lake(start, "local", tmp_path_factory.mktemp("clean"))
    result = anonymizer.run_retention(Settings(lake=lake), NOW)
    # every failure point is on the way
    assert result.rows_held == 8 + 2 and result.rows_returned == 2 and result.rejects_scrubbed == 3
    assert [Path(p).name for p in result.landing_deleted] == ["day2.log"]
    held = held_rows(lake)
    assert held.height == 10 and held["incident"].n_unique() == 1
    assert main_rows(lake).height + held.height == 48 and reject_rows(lake).height == 3
    assert run_audit(Settings(lake=lake), NOW).ok
    return snapshot(lake), landing(lake)


@pytest.fixture
def lake(start: Path, storage: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A copy of the starting lake, in a folder or on the test S3 server."""
    return copy_lake(start, storage, tmp_path, request.getfixturevalue("s3_lake") if storage == "s3" else None)


def landing(lake: Path) -> list[str]:
    return sorted(p.name for p in lakefs.list_files(Layout(lake).landing, ""))


def assert_same_as_clean(lake: Path, clean_run: tuple[Counter[tuple[object, ...]], list[str]]) -> None:
    content, landed = clean_run
    assert snapshot(lake) == content
    assert landing(lake) == landed
    assert not leftovers(lake)
    report = run_audit(Settings(lake=lake), NOW)
    assert report.ok, report.lines()
    assert verify_chain(lake) == []


@pytest.mark.parametrize("point", anonymizer.FAULT_POINTS)
def test_a_crash_at_each_point_then_a_rerun_equals_a_clean_run(
    point: str, clean_run: tuple[Counter[tuple[object, ...]], list[str]], lake: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(lake=lake)
    monkeypatch.setenv("ACCESSLAKE_FAULT", point)
    with pytest.raises(InjectedFault, match=point):
        anonymizer.run_retention(settings, NOW)
    monkeypatch.delenv("ACCESSLAKE_FAULT")
    result = anonymizer.run_retention(settings, NOW)
    if point in ("after-held-write", "after-return-write"):
        assert result.recovered >= 1  # the half-done move was rolled back
    assert_same_as_clean(lake, clean_run)


def test_a_crash_in_every_run_until_one_completes(
    clean_run: tuple[Counter[tuple[object, ...]], list[str]], lake: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(lake=lake)
    crashed = []
    for point in (*anonymizer.FAULT_POINTS, *reversed(anonymizer.FAULT_POINTS)):
        monkeypatch.setenv("ACCESSLAKE_FAULT", point)
        try:
            anonymizer.run_retention(settings, NOW)
        except InjectedFault:
            crashed.append(point)
    assert len(crashed) >= 3
    monkeypatch.delenv("ACCESSLAKE_FAULT")
    anonymizer.run_retention(settings, NOW)
    assert_same_as_clean(lake, clean_run)


def test_a_dry_run_after_a_crash_changes_nothing(
    lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCESSLAKE_FAULT", "after-held-write")
    with pytest.raises(InjectedFault):
        anonymizer.run_retention(Settings(lake=lake), NOW)
    monkeypatch.delenv("ACCESSLAKE_FAULT")
    before = snapshot(lake), sorted(str(p) for p in lakefs.list_files(lake, "", hidden=True))
    anonymizer.run_retention(Settings(lake=lake), NOW, dry_run=True)
    assert (snapshot(lake), sorted(str(p) for p in lakefs.list_files(lake, "", hidden=True))) == before


def cli(lake: Path, *args: str, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSLAKE_")}
    if fault:
        env["ACCESSLAKE_FAULT"] = fault
    return subprocess.run(
        [sys.executable, "-m", "accesslake.cli", "--lake", str(lake), "--now", NOW.isoformat(), "--wait", "0", *args],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )


def test_kill_9_in_the_middle_then_a_rerun_equals_a_clean_run(
    clean_run: tuple[Counter[tuple[object, ...]], list[str]], lake: Path
) -> None:
    killed = cli(lake, "anonymize", fault="after-held-write:kill")
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    # the half-done move is visible to the audit: rows in main and held/, an unfinished journal
    report = run_audit(Settings(lake=lake), NOW, record=False)
    assert any(v.startswith("P4 duplicate") for v in report.violations)
    assert any(v.startswith("P4 journal") for v in report.violations)

    rerun = cli(lake, "anonymize")
    assert rerun.returncode == 0, rerun.stderr
    assert_same_as_clean(lake, clean_run)


# ---------------------------------------------------------------- ingest (intent, publish, ledger)


@pytest.fixture(scope="module")
def late_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tonight's file for the ingest crash tests: rows of the active hold's suspect among them."""
    from retention_kit import write_log

    return write_log(tmp_path_factory.mktemp("landing") / "day3.log", hits(T0 + timedelta(days=2), "c"),
                     junk=["not a log line"])


def ingest_once(lake: Path, log: Path) -> None:
    from retention_kit import SID_FORMAT

    from accesslake import ingest

    with lakefs.writer_lock(lake):
        ingest.recover(lake)
        ingest.ingest_file(log, Settings(lake=lake), NOW, fmt=SID_FORMAT)


@pytest.fixture(scope="module")
def clean_ingest(start: Path, late_log: Path, tmp_path_factory: pytest.TempPathFactory) -> Counter[tuple[object, ...]]:
    lake = copy_lake(start, "local", tmp_path_factory.mktemp("clean-ingest"))
    ingest_once(lake, late_log)
    return snapshot(lake)


@pytest.mark.parametrize("point", ["ingest-after-intent", "ingest-after-first-publish", "ingest-after-ledger"])
def test_an_ingest_crash_then_a_rerun_equals_a_clean_ingest(
    point: str, lake: Path, late_log: Path, clean_ingest: Counter[tuple[object, ...]], storage: str,
) -> None:
    """Killed (SIGKILL) at each step of an ingest's commit; the next ingest run recovers."""
    from accesslake import ingest

    assert point in ingest.FAULT_POINTS
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSLAKE_")}
    from retention_kit import SID_FORMAT

    killed = subprocess.run(
        [sys.executable, "-m", "accesslake.cli", "--lake", str(lake), "--now", NOW.isoformat(), "--wait", "0",
         "ingest", "--format", SID_FORMAT, str(late_log)],
        env={**env, "ACCESSLAKE_FAULT": f"{point}:kill"}, cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert leftovers(lake)  # the intent (and, locally, the staging) is still there
    if storage == "s3" and point == "ingest-after-intent":  # staged on this machine, not yet uploaded
        report = run_audit(Settings(lake=lake), NOW, record=False)
        assert any(v.startswith("P1 temporary:") and "local staging" in v for v in report.violations)
    ingest_once(lake, late_log)
    assert snapshot(lake) == clean_ingest
    assert not leftovers(lake)
    records = [r for r in ingest.ledger_records(lake) if r["source_file"] == str(late_log)]
    assert len(records) == 1 and records[0]["rows"] + records[0]["held"] + records[0]["rejects"] == 25
    report = run_audit(Settings(lake=lake), NOW, record=False)  # the start lake is not anonymised yet: P4 only
    assert not [v for v in report.violations if v.startswith("P4")], report.violations
    if storage == "s3":  # nothing personal left in the local staging of the S3 lake either
        assert not [p for p in lakefs.staging_dir(lake, "x").parent.rglob("*") if p.is_file()]
