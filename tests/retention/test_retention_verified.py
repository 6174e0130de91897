"""Retention decides from the manifest of verified files: no footer or row of an unchanged verified file is
read to find what is due; a new or changed file is read; the result says how many were read and skipped.

Reads are counted (storage's Parquet reads, footers and rows), not timed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from retention_kit import ingest_day, main_rows, reject_rows

from accesslake import retention
from accesslake import storage as lakefs
from accesslake.audit import run_audit
from accesslake.config import Settings
from accesslake.storage import Layout
from accesslake.storage.local import LocalStorage

T0 = datetime(2026, 11, 20, tzinfo=UTC)
DAYS = 3
NIGHT = T0 + timedelta(days=DAYS, hours=1)  # after the last day; nothing due yet



@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every Parquet file storage reads (rows or footer), in order."""
    seen: list[str] = []
    read_parquet, metadata = LocalStorage.read_parquet, LocalStorage.parquet_metadata

    def counted_read(self: LocalStorage, path: Path, columns: list[str] | None = None) -> pl.DataFrame:
        seen.append(str(path))
        return read_parquet(self, path, columns)

    def counted_metadata(self: LocalStorage, path: Path) -> Any:
        seen.append(str(path))
        return metadata(self, path)

    monkeypatch.setattr(LocalStorage, "read_parquet", counted_read)
    monkeypatch.setattr(LocalStorage, "parquet_metadata", counted_metadata)
    yield seen


@pytest.fixture
def verified(settings: Settings, tmp_path: Path) -> Settings:
    """Three days ingested, retention run, and an audit that verified every file."""
    for day in range(DAYS):
        ingest_day(settings, tmp_path, T0, day)
    with lakefs.writer_lock(settings.lake):
        retention.run_retention(settings, NIGHT)
    assert run_audit(settings, NIGHT).ok
    return settings


def files_of(lake: Path, store: str) -> set[str]:
    return {str(p) for p in lakefs.list_files(Layout(lake).store(store))}


def test_nothing_due_reads_no_verified_file(verified: Settings, opened: list[str]) -> None:
    assert retention.partitions_due(verified, NIGHT) == []
    with lakefs.writer_lock(verified.lake):
        result = retention.run_retention(verified, NIGHT)
    assert opened == []
    assert (result.files_checked, result.files_skipped) == (0, 2 * DAYS)
    assert f"0 dataset files read to decide, {2 * DAYS} skipped as verified and unchanged" in result.lines()


def test_only_the_new_files_are_read(verified: Settings, tmp_path: Path, opened: list[str]) -> None:
    before = files_of(verified.lake, "requests") | files_of(verified.lake, "rejects")
    ingest_day(verified, tmp_path, T0, DAYS)
    new = files_of(verified.lake, "requests") | files_of(verified.lake, "rejects")
    opened.clear()
    with lakefs.writer_lock(verified.lake):
        result = retention.run_retention(verified, NIGHT + timedelta(days=1))
    assert set(opened) == new - before
    assert (result.files_checked, result.files_skipped) == (2, 2 * DAYS)


def test_a_verified_file_falls_due_from_its_record(verified: Settings, opened: list[str]) -> None:
    """The first day's rows pass anonymize_after: its partition is due without a footer read, then rewritten."""
    due_at = T0 + timedelta(hours=120 + 3)  # the first day's first four hours are due
    (first,) = [p for p in lakefs.list_files(Layout(verified.lake).requests) if "date=2026-11-20" in str(p)]
    parts = retention.partitions_due(verified, due_at)
    assert [(p.site, p.day) for p in parts] == [("default", T0.date())]
    assert opened == []
    with lakefs.writer_lock(verified.lake):
        result = retention.run_retention(verified, due_at)
    assert result.rows_anonymized == 4 and str(first) in opened
    assert main_rows(verified.lake).filter(pl.col("anonymized_at").is_not_null()).height == 4
    assert str(min(lakefs.list_files(Layout(verified.lake).rejects))) not in opened  # received a day later


def test_rejects_are_read_only_when_their_record_says_a_line_is_due(verified: Settings, opened: list[str]) -> None:
    received = T0 + timedelta(days=1, hours=1)  # the first day's junk line
    first = min(files_of(verified.lake, "rejects"))
    with lakefs.writer_lock(verified.lake):
        assert retention.run_retention(verified, received + timedelta(hours=120) - timedelta(seconds=1)
                                       ).rejects_scrubbed == 0
        assert first not in opened
        assert retention.run_retention(verified, received + timedelta(hours=120)).rejects_scrubbed == 1
    assert first in opened
    assert reject_rows(verified.lake).filter(pl.col("scrubbed_at").is_not_null()).height == 1


def test_a_changed_file_is_decided_from_its_footer(verified: Settings, opened: list[str]) -> None:
    path = min(lakefs.list_files(Layout(verified.lake).requests))
    pl.read_parquet(path).write_parquet(path)  # same rows, written again behind the manifest's back
    assert retention.partitions_due(verified, NIGHT) == []
    assert opened == [str(path)]


def test_without_a_manifest_every_footer_is_read(verified: Settings, opened: list[str]) -> None:
    Layout(verified.lake).verified.unlink()
    assert retention.partitions_due(verified, NIGHT) == []
    assert set(opened) == files_of(verified.lake, "requests")
