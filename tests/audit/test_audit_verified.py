"""The incremental audit: a file verified and unchanged since is not read again; `--full` reads every file;
a changed file, a deadline passing, a missing or corrupt manifest or other check rules mean reading it again.

What the audit reads is counted, not timed: every file list the audit hands DuckDB (``$files`` of the
checks in sql/checks/) and every Parquet file it opens through storage.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from retention_kit import ingest_day

from accesslake import storage as lakefs
from accesslake.audit import parquet as audit_parquet
from accesslake.audit import run_audit
from accesslake.cli import main as cli_main
from accesslake.config import Settings
from accesslake.policy import Policy
from accesslake.storage import Layout
from accesslake.storage.local import LocalStorage
from accesslake.storage.manifest import load_manifest

T0 = datetime(2026, 11, 20, tzinfo=UTC)
DAYS = 3
AUDIT_AT = T0 + timedelta(days=DAYS, hours=2)  # the rows are young: nothing is due yet



class Reads:
    """The dataset files the audit reads: the ``$files`` of every check, and Parquet files opened."""

    def __init__(self) -> None:
        self.files: set[str] = set()

    def clear(self) -> None:
        self.files.clear()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Reads]:
    seen = Reads()
    query = audit_parquet.query

    def counted_query(name: str, params: dict[str, Any], con: Any = None) -> pl.DataFrame:
        seen.files.update(str(f) for f in params.get("files", []))
        return query(name, params, con)

    read_parquet, metadata = LocalStorage.read_parquet, LocalStorage.parquet_metadata

    def counted_read(self: LocalStorage, path: Path, columns: list[str] | None = None) -> pl.DataFrame:
        seen.files.add(str(path))
        return read_parquet(self, path, columns)

    def counted_metadata(self: LocalStorage, path: Path) -> Any:
        seen.files.add(str(path))
        return metadata(self, path)

    monkeypatch.setattr(audit_parquet, "query", counted_query)
    monkeypatch.setattr(LocalStorage, "read_parquet", counted_read)
    monkeypatch.setattr(LocalStorage, "parquet_metadata", counted_metadata)
    yield seen


def dataset_files(lake: Path) -> set[str]:
    layout = Layout(lake)
    return {str(p) for root in (layout.requests, layout.held, layout.rejects, layout.marts)
            for p in lakefs.list_files(root)}


@pytest.fixture
def audited(settings: Settings, tmp_path: Path) -> Settings:
    """Three days ingested, a mart, and one audit that verified all of it."""
    for day in range(DAYS):
        ingest_day(settings, tmp_path, T0, day)
    mart = lakefs.partition_dir(Layout(settings.lake).marts / "daily_visits", "default", T0.date()) / "part-0.parquet"
    lakefs.write_parquet_atomic(pl.DataFrame({"count_requests": [20], "page": ["/index.html"]}), mart)
    report = run_audit(settings, AUDIT_AT)
    assert report.ok, report.lines()
    assert report.files_read == 2 * DAYS + 1 and report.files_skipped == 0
    return settings


def test_the_next_audit_reads_only_the_new_files(audited: Settings, tmp_path: Path, reads: Reads) -> None:
    before = dataset_files(audited.lake)
    ingest_day(audited, tmp_path, T0, DAYS)
    new = dataset_files(audited.lake) - before
    assert len(new) == 2  # the new day's requests and rejects
    report = run_audit(audited, AUDIT_AT + timedelta(days=1))
    assert report.ok, report.lines()
    assert reads.files == new
    assert (report.files_read, report.files_skipped) == (2, len(before))
    assert f"2 files read, {len(before)} skipped as verified and unchanged" in report.lines()[0]


def test_an_audit_of_an_unchanged_lake_reads_no_dataset_file(audited: Settings, reads: Reads) -> None:
    report = run_audit(audited, AUDIT_AT + timedelta(hours=1))
    assert report.ok and reads.files == set() and report.files_read == 0


def test_audit_full_reads_every_file(audited: Settings, reads: Reads) -> None:
    report = run_audit(audited, AUDIT_AT, full=True)
    assert report.ok and reads.files == dataset_files(audited.lake)
    assert (report.files_read, report.files_skipped) == (len(dataset_files(audited.lake)), 0)
    assert "full: 7 files read" in report.lines()[0]


def test_cli_audit_full(audited: Settings, reads: Reads, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--lake", str(audited.lake), "--now", AUDIT_AT.isoformat(), "audit"]
    assert cli_main(args) == 0
    assert reads.files == set() and "0 files read, 7 skipped" in capsys.readouterr().out
    assert cli_main([*args, "--full"]) == 0
    assert reads.files == dataset_files(audited.lake) and "full: 7 files read" in capsys.readouterr().out


def test_a_file_changed_behind_the_manifests_back_is_read_again(audited: Settings, reads: Reads) -> None:
    path = sorted(lakefs.list_files(Layout(audited.lake).requests))[0]
    frame = pl.read_parquet(path)
    # a row marked anonymised that keeps its query string (rules A2-A3), written in place
    frame.with_columns(pl.lit(AUDIT_AT).alias("anonymized_at"), pl.lit(None, pl.String).alias("client_ip"),
                       pl.lit(None, pl.String).alias("session_id"), pl.lit(None, pl.String).alias("remote_user"),
                       pl.lit(None, pl.String).alias("user_agent"), pl.lit(None, pl.String).alias("referrer"),
                       ).write_parquet(path)
    report = run_audit(audited, AUDIT_AT)
    assert reads.files == {str(path)}
    assert report.violations == [f"P1 requests: {path}: anonymised rows keep query (4) "
                                 "(rules A2-A3: NULL, referrer an origin at most)"]


def test_a_change_of_time_alone_is_noticed(audited: Settings, reads: Reads) -> None:
    """Size and content kept, only the modification time differs: read again."""
    path = sorted(lakefs.list_files(Layout(audited.lake).rejects))[0]
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert run_audit(audited, AUDIT_AT).ok
    assert reads.files == {str(path)}


def test_a_verified_file_is_read_again_once_its_rows_pass_the_hard_limit(audited: Settings, reads: Reads) -> None:
    """Nothing was anonymised (no retention ran): the skip must not hide rows past the limit."""
    first = min(lakefs.list_files(Layout(audited.lake).requests))
    limit = T0 + timedelta(hours=168)  # the first day's first row: its deadline
    assert run_audit(audited, limit, record=False).ok
    assert reads.files == set()
    report = run_audit(audited, limit + timedelta(seconds=1), record=False)
    assert str(first) in reads.files
    assert report.violations == [f"P1 requests: {first}: 1 rows keep IP/session past the 168 h limit "
                                 f"(oldest {T0.strftime('%Y-%m-%d %H:%M:%S+00:00')})"]
    junk = min(lakefs.list_files(Layout(audited.lake).rejects))  # received the night after the first day
    reads.clear()
    report = run_audit(audited, T0 + timedelta(days=1, hours=1 + 168, seconds=1), record=False)
    assert str(junk) in reads.files
    assert f"P1 rejects: {junk}: 1 unscrubbed lines past the limit" in report.violations


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated", "other version"])
def test_a_missing_or_corrupt_manifest_means_reading_everything(audited: Settings, reads: Reads,
                                                                  damage: str) -> None:
    manifest = Layout(audited.lake).verified
    data = manifest.read_bytes()
    if damage == "missing":
        manifest.unlink()
    elif damage == "garbage":
        manifest.write_bytes(b"not a manifest")
    elif damage == "truncated":
        manifest.write_bytes(data[: len(data) // 2])
    else:
        manifest.write_bytes(gzip.compress(gzip.decompress(data).replace(b'"version":1', b'"version":999')))
    report = run_audit(audited, AUDIT_AT)
    assert report.ok and reads.files == dataset_files(audited.lake) and report.files_skipped == 0
    assert len(load_manifest(audited.lake).files) == len(dataset_files(audited.lake))  # written anew


def test_other_check_rules_mean_reading_everything(audited: Settings, reads: Reads) -> None:
    truncate = Settings(lake=audited.lake, policy=Policy(client_ip_treatment="truncate"))
    report = run_audit(truncate, AUDIT_AT)
    assert report.ok and reads.files == dataset_files(audited.lake)


def test_only_files_that_passed_are_recorded(audited: Settings) -> None:
    stray = lakefs.partition_dir(Layout(audited.lake).marts / "top_clients", "default", T0.date()) / "part-0.parquet"
    lakefs.write_parquet_atomic(pl.DataFrame({"client_ip": ["198.51.100.1"], "n": [3]}), stray)
    assert not run_audit(audited, AUDIT_AT).ok
    recorded = load_manifest(audited.lake).files
    assert lakefs.relative(stray, audited.lake) not in recorded and len(recorded) == 2 * DAYS + 1
    assert not run_audit(audited, AUDIT_AT).ok  # and it is read again, and named again


def test_an_audit_that_does_not_record_writes_no_manifest(settings: Settings, tmp_path: Path) -> None:
    ingest_day(settings, tmp_path, T0, 0)
    assert run_audit(settings, AUDIT_AT, record=False).ok
    assert not Layout(settings.lake).verified.exists()


def test_a_copy_of_a_verified_file_is_a_duplicate(audited: Settings, reads: Reads) -> None:
    """The copy is new, the original verified: the duplicate check reads the files that share its lines."""
    original = sorted(lakefs.list_files(Layout(audited.lake).requests))[1]
    copy = original.with_name("part-copy.parquet")
    copy.write_bytes(original.read_bytes())
    report = run_audit(audited, AUDIT_AT)
    assert reads.files == {str(copy), str(original)}
    assert [v for v in report.violations if v.startswith("P4 duplicate")][0].endswith(f"(in {original}, {copy})")
