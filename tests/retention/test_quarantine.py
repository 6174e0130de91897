"""Bad and stray files in the datasets never stop retention: they are quarantined, named, and deleted in time.

A file of requests/, held/, rejects/ or the candidates that cannot be read, or that the pipeline did
not write there, is moved to ``quarantine/`` by the retention run (the other files and partitions go
on), named in ``problems``, recorded in the audit log with the rows it took out of its dataset (so
accounting, rule P4, still holds), and deleted once its partition's day is past ``anonymize_after``
(rule P1), unless it came from the rows of an active hold.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from retention_kit import Hit, held_rows, ingest_hits, main_rows, open_hold, reject_rows

from accesslake import holds
from accesslake import retention as anonymizer
from accesslake import storage as lakefs
from accesslake.audit import run_audit
from accesslake.config import Settings
from accesslake.storage import Layout
from accesslake.storage.auditlog import read_events
from accesslake.storage.quarantine import ENTRY, list_quarantined

pytestmark = pytest.mark.both_storages

T0 = datetime(2026, 11, 20, tzinfo=UTC)
INGEST_AT = T0 + timedelta(days=3)  # three days of rows, none due yet
ALL_DUE = T0 + timedelta(days=9)  # every row and every quarantined file past the hard limit
BAD_IP = "203.0.113.7"

DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "empty": lambda data: b"",
    "truncated": lambda data: data[: len(data) // 2],
    "not parquet": lambda data: b"client 198.51.100.1 was here\n",
    "broken footer": lambda data: data[:-40] + b"\xff" * 32 + data[-8:],
}


def three_days(settings: Settings, tmp_path: Path) -> list[Path]:
    """Nine requests over three UTC days (one file per day), ingested at INGEST_AT, plus one rejected line."""
    hits = [Hit(T0 + timedelta(hours=8 * i), ip=BAD_IP if i == 4 else f"198.51.100.{i + 1}", session=f"sid-{i}")
            for i in range(9)]
    ingest_hits(settings, tmp_path / "access.log", hits, INGEST_AT, junk=["192.0.2.1 junk"])
    files = lakefs.list_files(Layout(settings.lake).requests)
    assert len(files) == 3
    return files


def day_start(path: Path) -> datetime:
    return datetime.combine(lakefs.partition_of(path)[1], datetime.min.time(), tzinfo=UTC)


# ---------------------------------------------------------------- a broken file in requests/


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_broken_file_is_quarantined_and_the_other_files_go_on(settings: Settings, tmp_path: Path,
                                                                damage: str) -> None:
    lake = settings.lake
    files = three_days(settings, tmp_path)
    # "part-0..." sorts before the real file of its partition: the real one must still be anonymised
    bad = files[1].parent / "part-0broken.parquet"
    lakefs.write_bytes_atomic(bad, DAMAGE[damage](lakefs.read_bytes_or_empty(files[1])))

    result = anonymizer.run_retention(settings, INGEST_AT)  # nothing due yet: the bad file goes all the same
    assert not bad.exists()
    (entry,) = list_quarantined(lake)
    assert result.quarantined == [f"{entry.folder}/part-0broken.parquet"]
    assert entry.source == lakefs.relative(bad, lake) and entry.dataset == "requests" and entry.site == "default"
    assert entry.received == day_start(bad)  # the earliest its rows can be from
    assert [p for p in result.problems if lakefs.relative(bad, lake) in p and entry.folder in p]
    assert (lake / entry.folder / "part-0broken.parquet").exists() and (lake / entry.folder / ENTRY).exists()
    assert entry.rows == {}  # a copy: the dataset lost nothing

    result = anonymizer.run_retention(settings, ALL_DUE)
    assert result.problems == [] and result.rows_anonymized == 9
    assert main_rows(lake)["client_ip"].null_count() == 9
    assert result.quarantine_deleted == [f"{entry.folder}/part-0broken.parquet"]
    assert list_quarantined(lake) == [] and lakefs.list_files(Layout(lake).quarantine, "", hidden=True) == []
    assert run_audit(settings, ALL_DUE).ok


def test_a_bad_file_in_a_due_partition_does_not_stop_the_rest_of_it(settings: Settings, tmp_path: Path) -> None:
    files = three_days(settings, tmp_path)
    bad = files[1].parent / "part-0broken.parquet"
    lakefs.write_bytes_atomic(bad, b"")
    result = anonymizer.run_retention(settings, ALL_DUE)
    assert result.rows_anonymized == 9 and main_rows(settings.lake)["client_ip"].null_count() == 9
    # quarantined and, its day being past anonymize_after, deleted in the same run
    assert len(result.quarantined) == 1 and result.quarantine_deleted == result.quarantined
    assert any("part-0broken.parquet" in p for p in result.problems)
    report = run_audit(settings, ALL_DUE)
    assert report.ok, report.lines()


def test_a_broken_original_counts_its_rows_as_quarantined(settings: Settings, tmp_path: Path) -> None:
    """P4: the rows of a broken ingested file are recorded (from the ledger: its footer is gone) and the
    audit adds them to what is stored, before and after the quarantined file is deleted."""
    lake = settings.lake
    files = three_days(settings, tmp_path)
    key = lakefs.read_parquet(files[1], ["row_id"])["row_id"][0].split(":")[0]
    data = lakefs.read_bytes_or_empty(files[1])
    lakefs.write_bytes_atomic(files[1], data[: len(data) // 2])
    audit = run_audit(settings, INGEST_AT, record=False)
    assert [v for v in audit.violations if v.startswith("P1 unreadable") and str(files[1]) in v]

    anonymizer.run_retention(settings, INGEST_AT)
    (entry,) = list_quarantined(lake)
    assert entry.rows == {key: 3}
    (event,) = read_events(lake, "quarantine")
    assert (event["rows"], event["dataset"], event["source"]) == ({key: 3}, "requests", entry.source)
    assert "reason" not in event  # the reason goes with the file, not into the append-only log
    report = run_audit(settings, INGEST_AT)
    assert report.ok, report.lines()

    anonymizer.run_retention(settings, ALL_DUE)
    assert list_quarantined(lake) == []
    report = run_audit(settings, ALL_DUE)
    assert report.ok, report.lines()
    lakefs.remove_file(lakefs.list_files(Layout(lake).requests)[0])  # a real loss is still found
    assert [v for v in run_audit(settings, ALL_DUE, record=False).violations if v.startswith("P4 rows")]


def test_two_broken_files_of_one_input_count_each_row_once(settings: Settings, tmp_path: Path) -> None:
    lake = settings.lake
    files = three_days(settings, tmp_path)
    for path in files[:2]:
        lakefs.write_bytes_atomic(path, b"PAR1")
    result = anonymizer.run_retention(settings, INGEST_AT)
    assert len(result.quarantined) == 2
    assert sum(n for e in list_quarantined(lake) for n in e.rows.values()) == 6
    report = run_audit(settings, INGEST_AT)
    assert report.ok, report.lines()


# ---------------------------------------------------------------- files the pipeline did not write


STRAYS = ["requests/site=default/date=2026-11-21/.x.parquet", "requests/site=default/date=2026-11-21/part.PARQUET",
          "requests/site=default/date=2026-11-21/part.parquet.bak", "requests/site=default/date=2026-11-21/.p.swp",
          "requests/site=default/part-9.parquet", "requests/README.md", "rejects/site=default/date=2026-11-23/x.csv"]


def test_stray_files_in_the_datasets_are_quarantined(settings: Settings, tmp_path: Path) -> None:
    lake = settings.lake
    files = three_days(settings, tmp_path)
    data = lakefs.read_bytes_or_empty(files[1])
    for relative in STRAYS:
        lakefs.write_bytes_atomic(lake / relative, data)
    audit = run_audit(settings, INGEST_AT, record=False)
    for relative in STRAYS:
        assert [v for v in audit.violations if v.startswith("P1 unknown file") and str(lake / relative) in v]

    result = anonymizer.run_retention(settings, INGEST_AT)
    assert sorted(e.source for e in list_quarantined(lake)) == sorted(STRAYS)
    assert len(result.quarantined) == len(STRAYS)
    for relative in STRAYS:
        assert not (lake / relative).exists()
        assert [p for p in result.problems if p.startswith(f"{relative}: not a file the pipeline writes here")]
    by_source = {e.source: e for e in list_quarantined(lake)}
    assert by_source[STRAYS[0]].received == datetime(2026, 11, 21, tzinfo=UTC)
    assert all(e.rows == {} for e in by_source.values())  # copies: nothing lost
    report = run_audit(settings, INGEST_AT)
    assert report.ok, report.lines()
    anonymizer.run_retention(settings, ALL_DUE)
    assert list_quarantined(lake) == []


def test_a_requests_file_inside_rejects_does_not_stop_the_scrub(settings: Settings, tmp_path: Path) -> None:
    lake = settings.lake
    files = three_days(settings, tmp_path)
    stray = Layout(lake).rejects / "site=default" / "date=2026-11-21" / "part-stray.parquet"
    lakefs.write_bytes_atomic(stray, lakefs.read_bytes_or_empty(files[0]))
    result = anonymizer.run_retention(settings, ALL_DUE)
    assert result.rejects_scrubbed == 1 and reject_rows(lake)["scrubbed_at"].null_count() == 0
    (problem,) = [p for p in result.problems if "part-stray.parquet" in p]
    assert "not a file of this dataset (no column line, scrubbed_at)" in problem
    assert not stray.exists()
    report = run_audit(settings, ALL_DUE)
    assert report.ok, report.lines()


# ---------------------------------------------------------------- held/ and the candidates


def test_a_stray_in_held_is_kept_while_its_hold_is_active(settings: Settings, tmp_path: Path) -> None:
    lake = settings.lake
    three_days(settings, tmp_path)
    hold = open_hold(lake, INGEST_AT, ips=(BAD_IP,), start=T0, end=T0 + timedelta(days=3))
    anonymizer.run_retention(settings, T0 + timedelta(days=7))
    (held_file,) = lakefs.list_files(Layout(lake).held)
    stray = held_file.with_name(".copy.parquet")
    lakefs.write_bytes_atomic(stray, lakefs.read_bytes_or_empty(held_file))
    result = anonymizer.run_retention(settings, T0 + timedelta(days=8))
    (entry,) = list_quarantined(lake)
    assert (entry.hold, entry.dataset, result.quarantine_deleted) == (hold.id, "held", [])
    assert run_audit(settings, ALL_DUE, record=False).ok  # an active hold's evidence is not past the limit

    holds.release_hold(lake, hold.id, by="dpo@example.org", now=ALL_DUE)
    result = anonymizer.run_retention(settings, ALL_DUE)
    assert result.quarantine_deleted == [f"{entry.folder}/.copy.parquet"] and held_rows(lake).height == 0
    assert run_audit(settings, ALL_DUE).ok


def test_a_broken_held_file_of_an_active_hold_is_quarantined_as_its_evidence(settings: Settings,
                                                                             tmp_path: Path) -> None:
    lake = settings.lake
    three_days(settings, tmp_path)
    hold = open_hold(lake, INGEST_AT, ips=(BAD_IP,), start=T0, end=T0 + timedelta(days=3))
    anonymizer.run_retention(settings, T0 + timedelta(days=7))
    (held_file,) = lakefs.list_files(Layout(lake).held)
    key = lakefs.read_parquet(held_file, ["row_id"])["row_id"][0].split(":")[0]
    lakefs.write_bytes_atomic(held_file, b"PAR1 cut short", private=True)
    result = anonymizer.run_retention(settings, T0 + timedelta(days=8))
    (entry,) = list_quarantined(lake)
    assert (entry.hold, entry.source, result.quarantine_deleted) == (hold.id, lakefs.relative(held_file, lake), [])
    assert [p for p in result.problems if p.startswith(f"{entry.source}: not a readable Parquet file")]
    assert entry.rows == {key: 1}  # the held row is gone from the dataset, into the quarantine
    report = run_audit(settings, ALL_DUE)
    assert report.ok, report.lines()  # kept while the hold is active; accounting holds


def test_a_broken_candidates_file_is_quarantined_and_the_others_expire(settings: Settings, tmp_path: Path) -> None:
    lake = settings.lake
    root = Layout(lake).candidates
    good = lakefs.partition_dir(root, "default", T0.date()) / "part-0.parquet"
    lakefs.write_parquet_atomic(pl.DataFrame({"client_ip": [BAD_IP], "oldest_at": [T0]}), good, private=True)
    bad = lakefs.partition_dir(root, "default", T0.date() + timedelta(days=1)) / "part-0.parquet"
    lakefs.write_bytes_atomic(bad, b"not parquet", private=True)
    result = anonymizer.run_retention(settings, ALL_DUE)
    assert result.candidates_deleted == 1 and not good.exists() and not bad.exists()
    assert len(result.quarantined) == 1 and result.quarantine_deleted == result.quarantined


# ---------------------------------------------------------------- the quarantine's own retention


def test_a_quarantine_folder_without_its_record_is_deleted_and_reported(settings: Settings) -> None:
    lake = settings.lake
    loose = Layout(lake).quarantine / "20261120T000000-abcdef" / "access.log"
    lakefs.make_private(Layout(lake).quarantine, loose.parent)
    lakefs.write_bytes_atomic(loose, b"198.51.100.1 - - [20/Nov/2026:00:00:00 +0000] \"GET / HTTP/1.1\" 200 1\n",
                              private=True)
    violations = run_audit(settings, INGEST_AT, record=False).violations
    assert violations == ["P1 quarantine: quarantine/20261120T000000-abcdef/access.log (no quarantine record) "
                          "is past the 168 h limit; run `accesslake anonymize`"]
    result = anonymizer.run_retention(settings, INGEST_AT)
    assert result.quarantine_deleted == ["quarantine/20261120T000000-abcdef/access.log"] and not loose.exists()


def test_the_audit_reports_an_entry_past_the_limit(settings: Settings, tmp_path: Path) -> None:
    files = three_days(settings, tmp_path)
    lakefs.write_bytes_atomic(files[0].with_name(".x.parquet"), b"")
    anonymizer.run_retention(settings, INGEST_AT)
    (entry,) = list_quarantined(settings.lake)
    limit = entry.received + timedelta(hours=168)
    assert run_audit(settings, limit, record=False).ok
    violations = run_audit(settings, limit + timedelta(seconds=1), record=False).violations
    (violation,) = [v for v in violations if v.startswith("P1 quarantine")]
    assert violation.startswith(f"P1 quarantine: {entry.folder}/.x.parquet from {entry.source} (not a file")


def test_a_dry_run_names_what_it_would_quarantine_and_moves_nothing(settings: Settings, tmp_path: Path) -> None:
    files = three_days(settings, tmp_path)
    bad = files[1].with_name("part-0broken.parquet")
    lakefs.write_bytes_atomic(bad, b"")
    result = anonymizer.run_retention(settings, ALL_DUE, dry_run=True)
    assert bad.exists() and list_quarantined(settings.lake) == []
    assert result.quarantined == [lakefs.relative(bad, settings.lake)]
    assert [p for p in result.problems if p.endswith("would be moved to quarantine/") and bad.name in p]
    assert "1 unreadable or stray files would be moved to quarantine/" in result.lines()


def test_the_anonymize_event_counts_the_quarantine(settings: Settings, tmp_path: Path) -> None:
    files = three_days(settings, tmp_path)
    lakefs.write_bytes_atomic(files[0].with_name(".x.parquet"), b"")
    anonymizer.run_retention(settings, ALL_DUE)
    (event,) = read_events(settings.lake, "anonymize")
    assert (event["quarantined"], event["quarantine_deleted"]) == (1, 1)
    (record,) = read_events(settings.lake, "quarantine")
    assert json.dumps(record).count("198.51.100") == 0  # no address goes into the append-only log


def test_a_file_that_cannot_be_moved_is_named_and_the_others_go(settings: Settings, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from accesslake.retention import quarantine as retention_quarantine

    files = three_days(settings, tmp_path)
    stuck, moved = files[0].with_name(".a.parquet"), files[1].with_name(".b.parquet")
    for path in (stuck, moved):
        lakefs.write_bytes_atomic(path, b"")
    real = retention_quarantine.quarantine

    def flaky(lake: Path, path: Path, *args: object, **kwargs: object) -> object:
        if path.name == stuck.name:
            raise PermissionError(13, "Permission denied")
        return real(lake, path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(retention_quarantine, "quarantine", flaky)
    result = anonymizer.run_retention(settings, INGEST_AT)
    assert stuck.exists() and not moved.exists() and len(result.quarantined) == 1
    assert [p for p in result.problems if p.startswith(lakefs.relative(stuck, settings.lake))
            and "could not be moved to quarantine/ ([Errno 13] Permission denied)" in p]
