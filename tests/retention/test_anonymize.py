"""The backlog rewrite at an explicit ``now``: rules P1-P4, A1-A4, H2-H4 on real and generated logs."""

from __future__ import annotations

import gzip
import os
import stat
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from retention_kit import (
    ORIGIN,
    PERSONAL,
    SID_FORMAT,
    Hit,
    held_rows,
    ingest_hits,
    ip_like,
    leftovers,
    main_rows,
    open_hold,
    personal_past_deadline,
    reject_rows,
    row_count,
    tree,
    write_log,
)

from accesslake import holds, ingest
from accesslake import retention as anonymizer
from accesslake import storage as lakefs
from accesslake.audit import run_audit
from accesslake.cli import main as cli_main
from accesslake.config import Settings
from accesslake.errors import LockError
from accesslake.pipeline import NightlyOptions, run_nightly
from accesslake.policy import Policy
from accesslake.schema import REQUEST_SCHEMA
from accesslake.storage import Layout
from accesslake.storage.auditlog import read_events

# The retention suite runs on a local folder and on S3 (rules P1, P4, H1-H4 on both).
pytestmark = pytest.mark.both_storages

COLUMNS = list(REQUEST_SCHEMA.names())
STATISTICS = [c for c in COLUMNS if c not in (*PERSONAL, "query", "referrer", "user_agent", "anonymized_at")]

# The elastic log: +0000, 2015-05-17 10:05 .. 2015-05-20 21:05 UTC, 10000 lines that all parse.
ELASTIC_AT = datetime(2015, 5, 20, 22, tzinfo=UTC)
ALL_DUE = datetime(2015, 5, 26, tzinfo=UTC)  # 120 h after the last line
SUSPECT = "46.105.14.53"
WINDOW = (datetime(2015, 5, 18, tzinfo=UTC), datetime(2015, 5, 20, tzinfo=UTC))


def assert_anonymised(rows: pl.DataFrame) -> None:
    """Rules A1-A3 on every row of ``rows``."""
    for column in (*PERSONAL, "query", "user_agent"):
        assert rows[column].null_count() == rows.height, column
    assert rows["anonymized_at"].null_count() == 0
    assert all(ORIGIN.match(r) for r in rows["referrer"].drop_nulls()), "referrer keeps more than its origin"


def by_id(frame: pl.DataFrame, columns: list[str] = COLUMNS) -> pl.DataFrame:
    return frame.select(columns).sort("row_id")


@pytest.fixture
def elastic(settings: Settings, real_logs: Path) -> pl.DataFrame:
    """The elastic log ingested shortly after it was written; returns the rows as first stored."""
    with lakefs.writer_lock(settings.lake):
        result = ingest.ingest_file(real_logs / "elastic_apache_combined.log", settings, ELASTIC_AT)
    assert (result.rows, result.held, result.rejects, result.anonymized_on_write) == (10000, 0, 0, 0)
    return main_rows(settings.lake).drop("_file")


# ---------------------------------------------------------------- real log: the limit


def test_before_the_limit_every_ip_is_kept(settings: Settings, elastic: pl.DataFrame) -> None:
    assert elastic.height == 10000 and elastic["client_ip"].null_count() == 0
    first_due = elastic.select(pl.min_horizontal("ts", "received_at").min()).item() + timedelta(hours=120)
    result = anonymizer.run_retention(settings, first_due - timedelta(seconds=1))
    assert (result.files_rewritten, result.rows_anonymized) == (0, 0)
    assert by_id(main_rows(settings.lake)).equals(by_id(elastic))


def test_after_anonymize_nothing_past_anonymize_after_is_personal(settings: Settings, elastic: pl.DataFrame) -> None:
    now = datetime(2015, 5, 24, tzinfo=UTC)
    cutoff = now - timedelta(hours=120)
    result = anonymizer.run_retention(settings, now)

    after = main_rows(settings.lake)
    due = pl.col("ts") <= cutoff
    assert result.rows_anonymized == elastic.filter(due).height > 0
    assert by_id(after).select(STATISTICS).equals(by_id(elastic).select(STATISTICS))  # P4, statistics kept
    assert_anonymised(after.filter(due))
    assert after.filter(due)["anonymized_at"].unique().to_list() == [now]
    young = after.filter(~due)
    assert young.height and by_id(young).equals(by_id(elastic.filter(~due)))  # untouched before the limit
    assert run_audit(settings, now + timedelta(hours=47), record=False).ok
    assert not run_audit(settings, datetime(2015, 5, 28, tzinfo=UTC), record=False).ok  # the rest is due later


def test_an_active_hold_keeps_its_rows_intact_apart_and_a_release_returns_them(
    settings: Settings, elastic: pl.DataFrame
) -> None:
    lake = settings.lake
    hold = open_hold(lake, ELASTIC_AT, ips=(SUSPECT,), paths=("/robots.txt",), start=WINDOW[0], end=WINDOW[1])
    in_window = (pl.col("ts") >= WINDOW[0]) & (pl.col("ts") < WINDOW[1])
    scope = elastic.filter(in_window & ((pl.col("client_ip") == SUSPECT) | (pl.col("path") == "/robots.txt")))
    assert 100 < scope.height < 1000
    assert elastic.filter(~in_window & (pl.col("client_ip") == SUSPECT)).height  # outside the window: not exempt

    result = anonymizer.run_retention(settings, ALL_DUE)
    assert result.rows_held == scope.height and result.holds_active == [hold.id]
    held = held_rows(lake)
    assert held["incident"].unique().to_list() == [hold.id]
    assert by_id(held).equals(by_id(scope))  # H2: every field intact
    main = main_rows(lake)
    assert not set(main["row_id"]) & set(scope["row_id"])  # ... and nowhere else
    assert_anonymised(main)
    assert row_count(lake) == 10000
    assert by_id(pl.concat([main.select(COLUMNS), held.select(COLUMNS)])).select(STATISTICS).equals(
        by_id(elastic).select(STATISTICS)
    )
    assert run_audit(settings, ALL_DUE + timedelta(days=20), record=False).ok  # held rows are exempt

    released_at = ALL_DUE + timedelta(days=1)
    holds.release_hold(lake, hold.id, by="dpo@example.org", now=released_at)
    result = anonymizer.run_retention(settings, released_at)
    assert (result.rows_returned, result.holds_returned) == (scope.height, [hold.id])
    assert held_rows(lake).height == 0
    main = main_rows(lake)
    assert main.height == row_count(lake) == 10000
    assert_anonymised(main)  # H4: returned anonymised
    returned = main.filter(pl.col("row_id").is_in(scope["row_id"].implode()))
    assert returned["anonymized_at"].unique().to_list() == [released_at]
    assert by_id(returned, STATISTICS).equals(by_id(scope, STATISTICS))
    assert run_audit(settings, released_at + timedelta(days=30), record=False).ok


def test_backlog_skipped_nights_one_run_restores_p1(settings: Settings, elastic: pl.DataFrame) -> None:
    late = datetime(2015, 6, 10, tzinfo=UTC)  # three weeks of missed nightly runs
    before = run_audit(settings, late, record=False)
    assert not before.ok and all(v.startswith("P1 requests") for v in before.violations)
    assert len(before.violations) == 4  # one per day partition

    with lakefs.writer_lock(settings.lake, 0):
        result = anonymizer.run_retention(settings, late)
    assert (result.rows_anonymized, result.files_rewritten) == (10000, 4)
    assert run_audit(settings, late).ok
    assert_anonymised(main_rows(settings.lake))
    assert personal_past_deadline(settings.lake, late, 120, set()).height == 0


# ---------------------------------------------------------------- generated data

T0 = datetime(2026, 11, 20, tzinfo=UTC)
BAD_IP = "203.0.113.7"


def day_of_hits(day: datetime, n: int = 24, suspect_every: int = 6) -> list[Hit]:
    return [
        Hit(day + timedelta(hours=i, minutes=7), ip=BAD_IP if i % suspect_every == 0 else f"198.51.100.{i + 1}",
            session=f"sid-{day:%d}-{i}", path="/login" if i % suspect_every == 0 else f"/page/{i}")
        for i in range(n)
    ]


def test_one_nightly_run_after_missed_nights_restores_p1(settings: Settings) -> None:
    """Daily files were ingested but no nightly run anonymised them for twelve days."""
    lake = settings.lake
    for day in range(4):
        ingest_hits(settings, Layout(lake).landing / f"access.log.{day}", day_of_hits(T0 + timedelta(days=day)),
                    T0 + timedelta(days=day + 1))
    late = T0 + timedelta(days=12)
    assert not run_audit(settings, late, record=False).ok
    result = run_nightly(settings, late, NightlyOptions(fmt=SID_FORMAT), wait_seconds=0)
    assert [r.status for r in result.ingested] == ["unchanged"] * 4
    assert result.anonymized is not None
    assert (result.anonymized.rows_anonymized, result.anonymized.files_rewritten) == (96, 4)
    assert len(result.anonymized.landing_deleted) == 4
    assert result.audit is not None and result.audit.ok, result.audit.lines()
    assert_anonymised(main_rows(lake))
    assert personal_past_deadline(lake, late, 120, set()).height == 0


def test_more_rows_of_one_file_held_later_do_not_replace_earlier_held_rows(settings: Settings, tmp_path: Path) -> None:
    """Regression: the second move into the same hold used to overwrite the first held file."""
    lake = settings.lake
    hits = day_of_hits(T0)
    ingest_hits(settings, tmp_path / "a.log", hits, T0 + timedelta(days=1))
    hold = open_hold(lake, T0 + timedelta(days=1), ips=(BAD_IP,), start=T0, end=T0 + timedelta(days=1))
    expected = {h.session for h in hits if h.ip == BAD_IP}
    for hour in (1, 7, 13, 19, 25):  # one nightly run every six hours: each moves one more suspect row
        anonymizer.run_retention(settings, T0 + timedelta(hours=120 + hour))
        assert row_count(lake) == len(hits)
    held = held_rows(lake)
    assert set(held["session_id"]) == expected and held["incident"].unique().to_list() == [hold.id]
    assert held["row_id"].n_unique() == held.height == len(expected)
    assert run_audit(settings, T0 + timedelta(hours=145), record=False).ok


def test_late_data_in_a_hold_goes_straight_to_held_and_the_rest_is_anonymised_on_write(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """P3: a line already past anonymize_after never has its IP written outside held/."""
    lake = settings.lake
    now = T0 + timedelta(days=10)
    old, fresh = day_of_hits(T0), day_of_hits(now - timedelta(hours=30))
    hold = open_hold(lake, now, ips=(BAD_IP,), start=T0, end=T0 + timedelta(days=1))
    writes: list[tuple[Path, pl.DataFrame]] = []
    real_write = lakefs.write_parquet_atomic

    def spy(frame: pl.DataFrame, path: Path, *, private: bool = False) -> Path:
        writes.append((path, frame))
        return real_write(frame, path, private=private)

    monkeypatch.setattr(lakefs, "write_parquet_atomic", spy)
    result = ingest_hits(settings, tmp_path / "late.log", old + fresh, now)

    in_hold = [h for h in old if h.ip == BAD_IP]
    assert (result.held, result.anonymized_on_write) == (len(in_hold), len(old) - len(in_hold))
    assert result.rows == len(old) - len(in_hold) + len(fresh)
    assert any('held' in path.parts for path, _ in writes)
    for path, frame in writes:  # every write, staged ones included: old IPs only ever go to held/
        if 'held' not in path.parts and "client_ip" in frame.columns:
            leaked = frame.filter(pl.col("client_ip").is_not_null() & (pl.col("ts") < T0 + timedelta(days=1)))
            assert leaked.height == 0, path
    held = held_rows(lake)
    assert held["incident"].unique().to_list() == [hold.id]
    by_session = {h.session: h for h in in_hold}
    for row in held.iter_rows(named=True):  # intact: every personal field as logged
        hit = by_session[row["session_id"]]
        assert (row["client_ip"], row["remote_user"], row["query"], row["referrer"], row["user_agent"]) == (
            hit.ip, hit.user, hit.query, hit.referrer, hit.ua
        )
        assert row["anonymized_at"] is None
    main = main_rows(lake)
    assert_anonymised(main.filter(pl.col("ts") < T0 + timedelta(days=1)))
    young = main.filter(pl.col("ts") >= now - timedelta(days=2))
    assert young.height == len(fresh) and young["client_ip"].null_count() == 0  # not yet due: kept
    assert not leftovers(lake)
    assert run_audit(settings, now, record=False).ok


def test_held_data_is_private_to_the_owner(settings: Settings, tmp_path: Path, storage: str) -> None:
    """Locally held/ is 0700/0600; on object storage it is its own prefix, for the bucket policy (docs/lake.md)."""
    lake = settings.lake
    ingest_hits(settings, tmp_path / "a.log", day_of_hits(T0), T0 + timedelta(days=1))
    open_hold(lake, T0 + timedelta(days=1), ips=(BAD_IP,), start=T0, end=T0 + timedelta(days=2))
    anonymizer.run_retention(settings, T0 + timedelta(days=6))
    # late data held at ingest, too
    ingest_hits(settings, tmp_path / "b.log", day_of_hits(T0 + timedelta(days=1)), T0 + timedelta(days=8))
    held = Layout(lake).held
    if storage == "s3":
        inside = lakefs.list_files(held)
        assert len(inside) == 2 and all(str(p).startswith(f"{lake}/held/incident=") for p in inside)
        assert not [p for p in lakefs.list_files(Layout(lake).requests) if "incident=" in str(p)]
        return
    entries = [held, *held.rglob("*")]
    assert len([p for p in entries if p.is_file()]) == 2
    for path in entries:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_a_hold_past_its_review_date_returns_its_rows_without_a_release(settings: Settings, tmp_path: Path) -> None:
    lake = settings.lake
    hits = day_of_hits(T0)
    ingest_hits(settings, tmp_path / "a.log", hits, T0 + timedelta(days=1))
    opened = T0 + timedelta(days=5, hours=1)
    hold = open_hold(lake, opened, ips=(BAD_IP,), start=T0, end=T0 + timedelta(days=1), review_days=2)
    anonymizer.run_retention(settings, T0 + timedelta(days=6))
    assert held_rows(lake).height == 4
    assert run_audit(settings, hold.review_at - timedelta(seconds=1), record=False).ok
    # the review date passes without a renewal: the rows are no longer exempt ...
    report = run_audit(settings, hold.review_at, record=False)
    assert [v.split(":")[0] for v in report.violations] == ["P1 held"]
    # ... and the next run returns them, anonymised
    result = anonymizer.run_retention(settings, hold.review_at)
    assert result.holds_returned == [hold.id] and result.rows_returned == 4
    assert held_rows(lake).height == 0 and row_count(lake) == len(hits)
    assert_anonymised(main_rows(lake))
    assert run_audit(settings, hold.review_at, record=False).ok


def test_released_rows_still_in_another_active_hold_stay_held_intact(settings: Settings, tmp_path: Path) -> None:
    lake = settings.lake
    hits = day_of_hits(T0)
    ingest_hits(settings, tmp_path / "a.log", hits, T0 + timedelta(days=1))
    first = open_hold(lake, T0 + timedelta(days=1), ips=(BAD_IP,), start=T0, end=T0 + timedelta(days=1))
    anonymizer.run_retention(settings, T0 + timedelta(days=6))
    before = held_rows(lake)
    assert before["incident"].unique().to_list() == [first.id] and before.height == 4
    second = open_hold(lake, T0 + timedelta(days=6), paths=("/login",), start=T0, end=T0 + timedelta(hours=12))
    holds.release_hold(lake, first.id, by="dpo", now=T0 + timedelta(days=7))
    result = anonymizer.run_retention(settings, T0 + timedelta(days=7))
    # the rows the other hold covers move to it intact; the rest come back anonymised
    covered = before.filter(pl.col("ts") < T0 + timedelta(hours=12))
    after = held_rows(lake)
    assert covered.height == 2 and after["incident"].unique().to_list() == [second.id]
    assert by_id(after).equals(by_id(covered))
    assert result.rows_returned == 2 and result.holds_returned == [first.id]
    assert row_count(lake) == len(hits)
    assert_anonymised(main_rows(lake))
    assert run_audit(settings, T0 + timedelta(days=20), record=False).ok


def test_dry_run_writes_nothing_and_counts_what_a_run_would_do(settings: Settings, tmp_path: Path) -> None:
    lake = settings.lake
    ingest_hits(settings, tmp_path / "a.log", day_of_hits(T0), T0 + timedelta(days=1), junk=["10.9.8.7 junk"])
    hold = open_hold(lake, T0 + timedelta(days=1), ips=(BAD_IP,), start=T0, end=T0 + timedelta(days=1))
    anonymizer.run_retention(settings, T0 + timedelta(hours=131))  # 00:07..10:07 due, two suspects held
    holds.release_hold(lake, hold.id, by="dpo", now=T0 + timedelta(days=6))
    now = T0 + timedelta(days=7)
    before = tree(lake)
    dry = anonymizer.run_retention(settings, now, dry_run=True)
    assert tree(lake) == before
    assert dry.dry_run and "would be" in dry.lines()[0]
    real = anonymizer.run_retention(settings, now)
    assert (dry.rows_anonymized, dry.rows_held, dry.rows_returned, dry.rejects_scrubbed, dry.files_rewritten) == (
        real.rows_anonymized, real.rows_held, real.rows_returned, real.rejects_scrubbed, real.files_rewritten
    )
    assert real.rows_returned == 2 and real.rejects_scrubbed == 1 and real.rows_anonymized == 13


def test_rejected_lines_are_scrubbed_once_past_the_limit(settings: Settings, tmp_path: Path) -> None:
    lake = settings.lake
    junk = ["192.0.2.44 - - this is not a request", "garbage from 2001:db8::99 and 10.0.0.1"]
    ingest_hits(settings, tmp_path / "a.log", day_of_hits(T0, n=4), T0 + timedelta(days=1), junk=junk)
    received = T0 + timedelta(days=1)
    anonymizer.run_retention(settings, received + timedelta(hours=119, minutes=59))
    assert sorted(reject_rows(lake)["line"]) == sorted(junk)  # young: kept as read, for debugging

    result = anonymizer.run_retention(settings, received + timedelta(hours=120))
    rejects = reject_rows(lake)
    assert result.rejects_scrubbed == 2 == rejects.height
    assert not any(ip_like(line) for line in rejects["line"])
    assert rejects["scrubbed_at"].to_list() == [received + timedelta(hours=120)] * 2
    assert "this is not a request" in " ".join(rejects["line"])
    assert run_audit(settings, received + timedelta(days=30), record=False).ok


def test_an_address_logged_as_the_virtual_host_is_scrubbed(settings: Settings, tmp_path: Path) -> None:
    """A4: nginx's $host (or a format mix-up) may put an address in vhost; anonymisation scrubs it, both in
    the backlog rewrite and for a line anonymised on write, and the audit, which checks it, passes."""
    lines = [f'{host}:80 198.51.100.{n} - - [20/Nov/2026:0{n}:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8.0"'
             for n, host in enumerate(["203.0.113.80", "www.example.org"], start=1)]
    log = tmp_path / "vhosts.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with lakefs.writer_lock(settings.lake):
        ingest.ingest_file(log, settings, T0 + timedelta(days=1), fmt="vcombined")
    anonymizer.run_retention(settings, T0 + timedelta(days=6))
    assert sorted(main_rows(settings.lake)["vhost"]) == ["[ip]", "www.example.org"]
    late = tmp_path / "late.log"
    late.write_text(lines[0].replace("20/Nov", "10/Nov") + "\n", encoding="utf-8")
    with lakefs.writer_lock(settings.lake):
        ingest.ingest_file(late, settings, T0 + timedelta(days=6), fmt="vcombined")  # anonymised on write
    assert sorted(main_rows(settings.lake)["vhost"]) == ["[ip]", "[ip]", "www.example.org"]
    assert run_audit(settings, T0 + timedelta(days=30), record=False).ok


def test_a_late_rejected_line_is_scrubbed_before_it_is_written(settings: Settings, tmp_path: Path) -> None:
    line = '192.0.2.44 - - [20/Nov/2026:10:00:00 +0000] "GET /broken'
    ingest_hits(settings, tmp_path / "a.log", day_of_hits(T0, n=4), T0 + timedelta(days=9), junk=[line])
    (stored,) = reject_rows(settings.lake)["line"]
    assert not ip_like(stored)


def test_landing_files_fully_ingested_and_past_the_limit_are_deleted(settings: Settings) -> None:
    lake = settings.lake
    landing = Layout(lake).landing
    done = write_log(landing / "access.log.1", day_of_hits(T0))
    grown = write_log(landing / "access.log", [replace(h, session=f"live-{h.session}") for h in day_of_hits(T0)])
    waiting = write_log(landing / "access.log.2", day_of_hits(T0 + timedelta(hours=1)))
    with lakefs.writer_lock(lake):
        ingest.ingest_file(done, settings, T0 + timedelta(days=1), fmt=SID_FORMAT)
        ingest.ingest_file(grown, settings, T0 + timedelta(days=1), fmt=SID_FORMAT)
    with grown.open("a") as fh:  # the live log grew after the ingest: not fully ingested
        fh.write(Hit(T0 + timedelta(days=1, hours=1)).line() + "\n")
    oldest = T0 + timedelta(minutes=7)
    assert anonymizer.run_retention(settings, oldest + timedelta(hours=119)).landing_deleted == []
    result = anonymizer.run_retention(settings, oldest + timedelta(hours=120))
    assert result.landing_deleted == [str(done)]
    assert [p.name for p in ingest.landing_files(landing)] == ["access.log", "access.log.2"]
    # once the rest is ingested too, a later run deletes it: a raw file is as old as its oldest line
    later = T0 + timedelta(days=5, hours=1)
    with lakefs.writer_lock(lake):
        assert ingest.ingest_file(grown, settings, later, fmt=SID_FORMAT).status == "grown"
        ingest.ingest_file(waiting, settings, later, fmt=SID_FORMAT)
    assert anonymizer.run_retention(settings, later).landing_deleted == [str(grown)]
    result = anonymizer.run_retention(settings, T0 + timedelta(hours=121, minutes=7))
    assert result.landing_deleted == [str(waiting)]
    assert ingest.landing_files(landing) == [] and row_count(lake) == 73
    assert run_audit(settings, T0 + timedelta(hours=121, minutes=7), record=False).ok


def test_a_rotated_or_recompressed_copy_of_an_ingested_file_is_deleted_too(settings: Settings, storage: str) -> None:
    """A copy has no ledger record of its own (ingest recognises its content) but holds the same IPs."""
    lake = settings.lake
    landing = Layout(lake).landing
    original = write_log(landing / "access.log.1", day_of_hits(T0))
    copy = landing / "access.log.1.copy"
    copy.write_bytes(original.read_bytes())
    packed = landing / "access.log.1.gz"
    packed.write_bytes(gzip.compress(original.read_bytes()))
    with lakefs.writer_lock(lake):
        statuses = [ingest.ingest_file(p, settings, T0 + timedelta(days=1), fmt=SID_FORMAT).status
                    for p in (original, copy, packed)]
    assert statuses == ["ingested", "unchanged", "unchanged"]
    if storage == "local":  # object stores keep the upload time
        os.utime(copy, (0, 0))  # an old mtime must not matter either way: the content decides
        os.utime(packed, ((T0 + timedelta(days=9)).timestamp(),) * 2)
    # the audit knows the copies are as old as their lines, even with a fresh mtime
    report = run_audit(settings, T0 + timedelta(days=9), record=False)
    assert sorted(v for v in report.violations if v.startswith("P1 landing")) == sorted(
        f"P1 landing: {p} holds lines older than the 168 h limit" for p in (copy, original, packed)
    )
    result = anonymizer.run_retention(settings, T0 + timedelta(days=9))
    assert sorted(result.landing_deleted) == sorted(str(p) for p in (original, copy, packed))
    assert ingest.landing_files(landing) == []
    assert run_audit(settings, T0 + timedelta(days=9), record=False).ok


def test_a_truncated_gzip_in_landing_is_kept_and_flagged_by_age(settings: Settings, storage: str) -> None:
    lake = settings.lake
    broken = Layout(lake).landing / "access.log.2.gz"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_bytes(gzip.compress(b"".join(h.line().encode() + b"\n" for h in day_of_hits(T0)))[:-40])
    if storage == "local":
        os.utime(broken, (T0.timestamp(), T0.timestamp()))
        written = T0
    else:  # an object's time is its upload time
        written = datetime.fromtimestamp(broken.stat().st_mtime, UTC)
    assert anonymizer.run_retention(settings, written + timedelta(days=9)).landing_deleted == []
    report = run_audit(settings, written + timedelta(days=9), record=False)
    assert report.violations == [f"P1 landing: {broken} holds lines older than the 168 h limit"]


def test_each_run_appends_one_audit_log_record(settings: Settings, tmp_path: Path) -> None:
    ingest_hits(settings, tmp_path / "a.log", day_of_hits(T0), T0 + timedelta(days=1))
    anonymizer.run_retention(settings, T0 + timedelta(days=6))
    anonymizer.run_retention(settings, T0 + timedelta(days=6), dry_run=True)
    (record,) = read_events(settings.lake, "anonymize")
    assert record["at"] == (T0 + timedelta(days=6)).isoformat()
    assert (record["rows_anonymized"], record["rows_held"], record["files_rewritten"]) == (24, 0, 1)
    assert record["anonymize_after_hours"] == 120 and record["max_age_hours"] == 168


def test_a_lower_anonymize_after_is_honoured(lake: Path, tmp_path: Path) -> None:
    settings = Settings(lake=lake, policy=Policy(max_age_hours=48, anonymize_after_hours=24))
    ingest_hits(settings, tmp_path / "a.log", day_of_hits(T0), T0 + timedelta(days=1))
    result = anonymizer.run_retention(settings, T0 + timedelta(hours=36))
    assert result.rows_anonymized == 12  # 00:07 .. 11:07
    assert run_audit(settings, T0 + timedelta(hours=60), record=False).ok
    assert not run_audit(settings, T0 + timedelta(hours=61), record=False).ok


# ---------------------------------------------------------------- one writer at a time


def test_a_second_writer_is_refused_with_a_clear_message(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = settings.lake
    with lakefs.writer_lock(lake):
        with pytest.raises(LockError) as info, lakefs.writer_lock(lake, 0):
            pass  # pragma: no cover
        # on object storage the message goes on to name the holder (pid, host, since)
        assert str(info.value).split(" (held by pid ")[0] == (
            f"{lake}: another accesslake run holds the writer lock ({lake / '.lock'}); "
            "wait for it to finish, or pass --wait SECONDS"
        )
        with pytest.raises(LockError):
            run_nightly(settings, T0, wait_seconds=0)
        code = cli_main(["--lake", str(lake), "--now", "2026-11-29T03:00:00Z", "--wait", "0", "anonymize"])
        assert code == 2
        assert "another accesslake run holds the writer lock" in capsys.readouterr().err
    assert read_events(lake, "anonymize") == []  # the refused runs did nothing
    with lakefs.writer_lock(lake, 0):  # free again
        pass


def test_a_second_writer_waits_for_the_first(settings: Settings) -> None:
    lake = settings.lake
    taken = threading.Event()

    def first() -> None:
        with lakefs.writer_lock(lake):
            taken.set()
            time.sleep(0.5)

    thread = threading.Thread(target=first)
    thread.start()
    taken.wait(5)
    started = time.monotonic()
    with lakefs.writer_lock(lake, wait_seconds=10):
        waited = time.monotonic() - started
    thread.join()
    assert 0.2 < waited < 5
