"""The manifest of verified files (storage.manifest): kept and read back, never trusted when it cannot be;
one listing of a dataset grouped by partition gives what a listing per partition gives."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from accesslake import storage as lakefs
from accesslake.storage import Layout
from accesslake.storage.manifest import (
    Manifest,
    Verified,
    from_micros,
    load_manifest,
    micros,
    partitions_listed,
    save_manifest,
)


def test_a_manifest_is_read_back_as_written(lake: Path) -> None:
    record = Verified((10, 123, ""), {"rows": 3, "personal": micros(datetime(2026, 11, 20, tzinfo=UTC)),
                                      "keys": {"abc": [3, 1, 3]}})
    save_manifest(lake, Manifest("rules-1", {"requests/site=a/date=2026-11-20/part-1.parquet": record}))
    found = load_manifest(lake, "rules-1")
    (back,) = found.files.values()
    assert back.stat == (10, 123, "") and back.keys() == {"abc": (3, 1, 3)}
    assert back.time("personal") == datetime(2026, 11, 20, tzinfo=UTC) and back.time("pending") is None
    assert Layout.kind_of(lakefs.relative(Layout(lake).verified, lake)) == "manifest"


def test_a_record_counts_only_for_the_file_as_it_was(lake: Path) -> None:
    rel = "rejects/site=a/date=2026-11-20/part-1.parquet"
    manifest = Manifest("r", {rel: Verified((10, 123, ""), {})})  # a folder: size and modification time
    assert manifest.current(rel, (10, 123, "")) is not None
    for changed in [(11, 123, ""), (10, 124, ""), (10, 123, "etag-1"), None]:
        assert manifest.current(rel, changed) is None
    assert manifest.current("other.parquet", (10, 123, "")) is None


def test_on_object_storage_the_etag_is_the_content(lake: Path) -> None:
    """A copy of an object keeps its ETag but not its upload time; other content has another ETag."""
    rel = "requests/site=a/date=2026-11-20/part-1.parquet"
    manifest = Manifest("r", {rel: Verified((10, 1_000, "etag-1"), {})})
    assert manifest.current(rel, (10, 9_000, "etag-1")) is not None
    for changed in [(10, 1_000, "etag-2"), (11, 1_000, "etag-1"), (10, 1_000, "")]:
        assert manifest.current(rel, changed) is None


def test_a_manifest_of_other_rules_counts_as_empty(lake: Path) -> None:
    save_manifest(lake, Manifest("rules-1", {"x.parquet": Verified((1, 1, ""), {})}))
    assert load_manifest(lake, "rules-2").files == {}
    assert len(load_manifest(lake).files) == 1  # retention's facts do not depend on the check rules


@pytest.mark.parametrize("content", [b"", b"\x1f\x8b\x08\x00garbage", b'{"version": 1}', b"[1, 2]"])
def test_an_unreadable_manifest_counts_as_empty(lake: Path, content: bytes) -> None:
    path = Layout(lake).verified
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert load_manifest(lake).files == {}


def test_times_round_trip_to_the_microsecond() -> None:
    moment = datetime(2026, 3, 29, 1, 59, 59, 999_999, tzinfo=UTC)
    assert from_micros(micros(moment)) == moment and micros(None) is None


def test_one_listing_grouped_is_every_partition_with_its_files(lake: Path) -> None:
    root = Layout(lake).held
    for rel in ["incident=INC-1/site=a/date=2026-11-20/part-1.parquet",
                "incident=INC-1/site=a/date=2026-11-20/x.parquet",
                "incident=INC-2/site=b/date=2026-11-21/part-2.parquet",
                "incident=INC-2/site=b/date=2026-11-21/.hidden.parquet", "incident=INC-2/site=b/notes.parquet",
                "incident=INC-2/site=b/date=2026-11-21/deeper/part-3.parquet",
                "incident=INC-2/site=b/date=not-a-day/part-4.parquet"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        pl.DataFrame({"a": [1]}).write_parquet(root / rel)
    grouped = partitions_listed(root, lake)
    expected = {part: part.files() for part in lakefs.list_partitions(root) if part.files()}
    assert {part: [path for _, path, _ in listed] for part, listed in grouped.items()} == expected
    assert len(grouped) == 2
    for listed in grouped.values():
        for relative, path, stat in listed:
            assert relative == lakefs.relative(path, lake) and stat[:2] == (path.stat().st_size,
                                                                            os.stat(path).st_mtime_ns)
