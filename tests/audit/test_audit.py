"""The audit: a clean lake passes; a planted violation in each store fails, naming the file (P1, P4, H3, D2)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from retention_kit import SID_FORMAT, Hit, held_rows, ingest_hits, open_hold

from accesslake import holds, ingest
from accesslake import retention as anonymizer
from accesslake import storage as lakefs
from accesslake.audit import run_audit
from accesslake.cli import main as cli_main
from accesslake.config import Settings
from accesslake.policy import Policy
from accesslake.storage import Layout
from accesslake.storage.auditlog import audit_log_path, read_events, verify_chain

T0 = datetime(2026, 11, 20, tzinfo=UTC)
RUN_AT = T0 + timedelta(days=7)  # every row past anonymize_after
AUDIT_AT = RUN_AT + timedelta(days=2)  # every row past the hard limit
BAD_IP = "203.0.113.7"


@pytest.fixture
def clean(settings: Settings, tmp_path: Path) -> Settings:
    """A lake after a nightly run: anonymised rows, rows held for an active hold, scrubbed rejects, a mart."""
    hits = [
        Hit(T0 + timedelta(hours=i), ip=BAD_IP if i % 6 == 0 else f"198.51.100.{i + 1}", session=f"sid-{i}")
        for i in range(24)
    ]
    ingest_hits(settings, tmp_path / "access.log", hits, T0 + timedelta(days=1), junk=["192.0.2.1 junk line"])
    open_hold(settings.lake, T0 + timedelta(days=1), ips=(BAD_IP,), start=T0, end=T0 + timedelta(days=1))
    anonymizer.run_retention(settings, RUN_AT)
    mart = lakefs.partition_dir(Layout(settings.lake).marts / "daily_visits", "default", T0.date()) / "part-0.parquet"
    lakefs.write_parquet_atomic(pl.DataFrame({"count_requests": [20], "count_pages": [12]}), mart)
    assert held_rows(settings.lake).height == 4
    report = run_audit(settings, AUDIT_AT)
    assert report.ok, report.lines()
    return settings


def main_file(lake: Path) -> Path:
    (path,) = lakefs.list_files(Layout(lake).requests)
    return path


def held_file(lake: Path) -> Path:
    (path,) = lakefs.list_files(Layout(lake).held)
    return path


def reject_file(lake: Path) -> Path:
    (path,) = lakefs.list_files(Layout(lake).rejects)
    return path


def rewrite(path: Path, change: Callable[[pl.DataFrame], pl.DataFrame]) -> None:
    frame = pl.read_parquet(path)
    mode = path.stat().st_mode
    change(frame).write_parquet(path)
    os.chmod(path, mode)


def violations(settings: Settings) -> list[str]:
    report = run_audit(settings, AUDIT_AT)
    assert not report.ok
    return report.violations


# ---------------------------------------------------------------- clean lakes pass


def test_an_empty_lake_passes(settings: Settings) -> None:
    report = run_audit(settings, T0)
    assert report.ok and report.lines()[0].startswith("audit passed at 2026-11-20T00:00:00+00:00")


def test_a_clean_lake_passes_and_the_audit_is_recorded(clean: Settings) -> None:
    report = run_audit(clean, AUDIT_AT)
    assert report.ok and report.checked == {"requests_files": 1, "held_files": 1, "reject_files": 1}
    audits = read_events(clean.lake, "audit")
    assert [(r["ok"], r["violations"], r["at"]) for r in audits] == [(True, 0, AUDIT_AT.isoformat())] * 2
    assert verify_chain(clean.lake) == []
    run_audit(clean, AUDIT_AT, record=False)
    assert len(read_events(clean.lake, "audit")) == 2


def test_the_deadline_is_checked_to_the_second_across_the_clock_change(settings: Settings, tmp_path: Path) -> None:
    """T1 + T2 end to end: logged 14:00 CEST on 24 Oct = 12:00 UTC; the limit ends 168 h later, 13:00 CET."""
    log = tmp_path / "berlin.log"
    log.write_text(
        '203.0.113.9 - - [24/Oct/2026:14:00:00 +0200] "GET / HTTP/1.1" 200 5 "-" "curl/8.0" "sid-1"\n', encoding="utf-8"
    )
    with lakefs.writer_lock(settings.lake):
        ingest.ingest_file(log, settings, datetime(2026, 10, 24, 13, tzinfo=UTC), fmt=SID_FORMAT)
    assert run_audit(settings, datetime(2026, 10, 31, 12, tzinfo=UTC), record=False).ok
    report = run_audit(settings, datetime(2026, 10, 31, 12, 0, 1, tzinfo=UTC), record=False)
    assert len(report.violations) == 1
    assert "1 rows keep IP/session past the 168 h limit (oldest 2026-10-24 12:00:00+00:00)" in report.violations[0]


# ---------------------------------------------------------------- one planted violation per store


def test_requests_row_with_an_ip_past_its_deadline(clean: Settings) -> None:
    path = main_file(clean.lake)
    rewrite(path, lambda f: f.with_columns(
        pl.when(pl.col("source_line") == 2).then(pl.lit("198.51.100.3")).otherwise(pl.col("client_ip"))
        .alias("client_ip")))
    assert violations(clean) == [
        f"P1 requests: {path}: 1 rows keep IP/session past the 168 h limit (oldest 2026-11-20 01:00:00+00:00)"
    ]


def test_requests_row_with_only_a_session_id_left(clean: Settings) -> None:
    path = main_file(clean.lake)
    rewrite(path, lambda f: f.with_columns(pl.lit("sid-9").alias("session_id")))
    assert violations(clean) == [
        f"P1 requests: {path}: 20 rows keep IP/session past the 168 h limit (oldest 2026-11-20 01:00:00+00:00)"
    ]


def test_held_rows_of_a_released_hold_past_their_deadline(clean: Settings) -> None:
    (hold,) = holds.list_holds(clean.lake)
    holds.release_hold(clean.lake, hold.id, by="dpo@example.org", now=RUN_AT + timedelta(days=1))
    path = held_file(clean.lake)
    assert violations(clean) == [
        f"P1 held: {path}: 4 rows keep IP/session past the 168 h limit (oldest 2026-11-20 00:00:00+00:00)"
    ]


def test_rejected_line_left_unscrubbed(clean: Settings) -> None:
    path = reject_file(clean.lake)
    rewrite(path, lambda f: f.with_columns(pl.lit("192.0.2.1 junk line").alias("line"),
                                           pl.lit(None, pl.Datetime("us", "UTC")).alias("scrubbed_at")))
    assert violations(clean) == [f"P1 rejects: {path}: 1 unscrubbed lines past the limit"]


def test_old_raw_file_in_landing(clean: Settings) -> None:
    raw = Layout(clean.lake).landing / "access.log.7"
    raw.parent.mkdir()
    raw.write_text(Hit(T0).line() + "\n", encoding="utf-8")
    os.utime(raw, (T0.timestamp(), T0.timestamp()))
    assert violations(clean) == [f"P1 landing: {raw} holds lines older than the 168 h limit"]


def test_a_young_raw_file_in_landing_passes(clean: Settings) -> None:
    raw = Layout(clean.lake).landing / "access.log"
    raw.parent.mkdir()
    raw.write_text(Hit(AUDIT_AT - timedelta(hours=1)).line() + "\n", encoding="utf-8")
    os.utime(raw, (AUDIT_AT.timestamp() - 3600,) * 2)
    assert run_audit(clean, AUDIT_AT).ok


def test_mart_with_a_personal_column(clean: Settings) -> None:
    mart = Layout(clean.lake).marts / "top_clients" / "site=default" / "date=2026-11-20" / "part-0.parquet"
    lakefs.write_parquet_atomic(pl.DataFrame({"client_ip": ["198.51.100.1"], "user_agent": ["x"], "n": [3]}), mart)
    assert violations(clean) == [f"P1 marts: {mart} has personal columns client_ip, user_agent"]


@pytest.mark.parametrize("where", ["_tmp/ingest-1234/requests/part-1.parquet", "_tmp/x"])
def test_staged_file_left_in_tmp(clean: Settings, where: str) -> None:
    stray = clean.lake / where
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"PAR1")
    assert violations(clean) == [f"P1 temporary: {stray} was left in staging by an interrupted run"]


def test_temp_file_beside_a_partition(clean: Settings) -> None:
    stray = main_file(clean.lake).parent / ".part-0.parquet.4242.tmp"
    stray.write_bytes(b"PAR1")
    assert violations(clean) == [f"P1 temporary: {stray} was left by an interrupted write"]


@pytest.mark.parametrize("name", ["journal/hold-part-1.parquet-default-2026-11-20.json", "journal/x.tmp",
                                  "pending/0123456789abcdef-default.json"])
def test_journal_left_over(clean: Settings, name: str) -> None:
    left = clean.lake / "ledger" / name
    left.parent.mkdir(parents=True, exist_ok=True)
    left.write_text("{}", encoding="utf-8")
    assert violations(clean) == [
        f"P4 journal: {left} records an unfinished operation; run `accesslake anonymize`"
    ]


@pytest.mark.parametrize("name", ["scratch.duckdb", "marts/cache.sqlite", "requests/site=default/x.db"])
def test_database_file_in_the_lake(clean: Settings, name: str) -> None:
    db = clean.lake / name
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"\0" * 16)
    assert violations(clean) == [f"P1 database: {db}: database files are not allowed in the lake"]


def test_duplicate_rows_from_a_copied_file(clean: Settings) -> None:
    path = main_file(clean.lake)
    copy = path.with_name("part-copy.parquet")
    shutil.copy(path, copy)
    found = violations(clean)
    duplicates = [v for v in found if v.startswith("P4 duplicate")]
    assert len(duplicates) == 20 and f"(in {path}, {copy})" in duplicates[0]
    key = pl.read_parquet(path)["row_id"][0].split(":")[0]
    (record,) = ingest.ledger_records(clean.lake)
    assert found[20:] == [
        f"P4 rows: site default file {key} ({record['source_file']}): 44 stored, ledger says 24"
    ]


def test_ledger_mismatch_from_a_deleted_file(clean: Settings) -> None:
    path = main_file(clean.lake)
    key = pl.read_parquet(path)["row_id"][0].split(":")[0]
    path.unlink()
    (record,) = ingest.ledger_records(clean.lake)
    assert violations(clean) == [
        f"P4 rows: site default file {key} ({record['source_file']}): 4 stored, ledger says 24"
    ]


def test_ledger_mismatch_from_a_deleted_rejects_file(clean: Settings) -> None:
    path = reject_file(clean.lake)
    key = pl.read_parquet(path)["row_id"][0].split(":")[0]
    path.unlink()
    (record,) = ingest.ledger_records(clean.lake)
    assert violations(clean) == [
        f"P4 rejects: site default file {key} ({record['source_file']}): 0 stored, ledger says 1"
    ]


@pytest.mark.parametrize("target", ["file", "folder"])
def test_held_data_readable_by_others(clean: Settings, target: str) -> None:
    path = held_file(clean.lake) if target == "file" else held_file(clean.lake).parent
    os.chmod(path, 0o644 if target == "file" else 0o755)
    mode = "0o644" if target == "file" else "0o755"
    assert violations(clean) == [f"H3 held: {path} has mode {mode}; must not be readable by group or others "
                                 "(chmod go-rwx)"]


def test_tampered_audit_log_line(clean: Settings) -> None:
    log = audit_log_path(clean.lake)
    lines = log.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[1])
    record["rows"] = int(record.get("rows", 0)) + 1
    lines[1] = json.dumps(record, sort_keys=True)
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert violations(clean) == [f"{log}:2: hash mismatch (line was edited)"]


# ---------------------------------------------------------------- truncate mode (rule A1)


@pytest.fixture
def truncated(lake: Path, tmp_path: Path) -> Settings:
    settings = Settings(lake=lake, policy=Policy(client_ip_treatment="truncate", ipv4_prefix=16, ipv6_prefix=32))
    ips = ["198.51.100.7", "2001:db8:abcd::1", "::ffff:192.0.2.9", "crawler.example.org"]
    ingest_hits(settings, tmp_path / "a.log", [Hit(T0 + timedelta(hours=i), ip=ip) for i, ip in enumerate(ips)],
                T0 + timedelta(days=1))
    anonymizer.run_retention(settings, RUN_AT)
    return settings


def test_truncate_mode_keeps_networks_and_passes(truncated: Settings) -> None:
    stored = pl.read_parquet(main_file(truncated.lake)).sort("source_line")["client_ip"].to_list()
    assert stored == ["198.51.0.0", "2001:db8::", "192.0.0.0", None]
    report = run_audit(truncated, AUDIT_AT)
    assert report.ok, report.lines()


@pytest.mark.parametrize("planted", ["198.51.100.7", "198.51.100.0", "::ffff:198.51.0.0", "2001:db8:abcd::",
                                     "crawler.example.org"])
def test_truncate_mode_flags_anything_but_a_network_of_the_kept_prefix(truncated: Settings, planted: str) -> None:
    path = main_file(truncated.lake)
    rewrite(path, lambda f: f.with_columns(
        pl.when(pl.col("source_line") == 1).then(pl.lit(planted)).otherwise(pl.col("client_ip")).alias("client_ip")))
    assert run_audit(truncated, AUDIT_AT, record=False).violations == [
        f"P1 requests: {path}: 1 rows keep IP/session past the 168 h limit (oldest 2026-11-20 00:00:00+00:00)"
    ]


# ---------------------------------------------------------------- the command line


def test_cli_audit_exits_1_and_prints_each_violation(clean: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--lake", str(clean.lake), "--now", AUDIT_AT.isoformat()]
    assert cli_main([*args, "audit"]) == 0
    assert capsys.readouterr().out.startswith("audit passed at 2026-11-29T00:00:00+00:00")

    db = clean.lake / "scratch.duckdb"
    db.write_bytes(b"x")
    path = held_file(clean.lake)
    os.chmod(path, 0o640)
    assert cli_main([*args, "audit"]) == 1
    captured = capsys.readouterr()
    head = read_events(clean.lake, "audit")[-1]
    assert captured.out.splitlines() == [
        "audit FAILED: 2 violation(s) at 2026-11-29T00:00:00+00:00 (requests_files 1, held_files 1, reject_files 1; "
        "0 files read, 4 skipped as verified and unchanged)",  # the files' content is what the last audit verified
        f"  - H3 held: {path} has mode 0o640; must not be readable by group or others (chmod go-rwx)",
        f"  - P1 database: {db}: database files are not allowed in the lake",
        f"audit log head: {head['seq']}:{head['hash']} (keep it; `accesslake audit --anchor` proves the log "
        "was not cut back since)",
    ]
    assert f"2 violation(s) in {clean.lake}" in captured.err

    assert cli_main([*args, "--json", "audit"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["now"] == AUDIT_AT.isoformat()
    assert payload["violations"] == [line[4:] for line in captured.out.splitlines()[1:-1]]
    assert [r["ok"] for r in read_events(clean.lake, "audit")] == [True, True, False, False]


def test_cli_audit_takes_the_clock_from_the_environment(
    clean: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (hold,) = holds.list_holds(clean.lake)
    holds.release_hold(clean.lake, hold.id, by="dpo", now=RUN_AT)
    monkeypatch.setenv("ACCESSLAKE_NOW", "2026-11-26T23:59:59Z")  # the first held row is due at 2026-11-27T00:00Z
    assert cli_main(["--lake", str(clean.lake), "audit"]) == 0
    monkeypatch.setenv("ACCESSLAKE_NOW", "2026-11-27T00:00:01Z")
    assert cli_main(["--lake", str(clean.lake), "audit"]) == 1
    assert "P1 held" in capsys.readouterr().out
