"""The audit reads content, not flags, and never stops at odd content: each case is one named violation."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from retention_kit import Hit, ingest_hits

from accesslake import retention as anonymizer
from accesslake import storage as lakefs
from accesslake.audit import run as audit_run
from accesslake.audit import run_audit
from accesslake.audit.parquet import personal_columns
from accesslake.config import Settings
from accesslake.storage import Layout

T0 = datetime(2026, 11, 20, tzinfo=UTC)
RUN_AT = T0 + timedelta(days=7)  # every row anonymised
AUDIT_AT = RUN_AT + timedelta(days=2)  # every row past the hard limit


@pytest.fixture
def lake(settings: Settings, tmp_path: Path) -> Settings:
    """Anonymised rows, a scrubbed rejected line and a mart of a day past the limit; the audit passes."""
    hits = [Hit(T0 + timedelta(hours=i), ip=f"198.51.100.{i + 1}") for i in range(6)]
    ingest_hits(settings, tmp_path / "access.log", hits, T0 + timedelta(days=1), junk=["192.0.2.1 junk line"])
    anonymizer.run_retention(settings, RUN_AT)
    lakefs.write_parquet_atomic(pl.DataFrame({"path": ["/"], "browser": ["Firefox"], "count_requests": [6]}),
                                mart_file(settings.lake))
    report = run_audit(settings, AUDIT_AT, record=False)
    assert report.ok, report.lines()
    return settings


def mart_file(lake: Path, day: datetime = T0 - timedelta(days=1)) -> Path:
    return lakefs.partition_dir(Layout(lake).marts / "pages", "default", day.date()) / "part-0.parquet"


def only_file(root: Path) -> Path:
    (path,) = lakefs.list_files(root)
    return path


def change(target: Path, **values: str) -> None:
    frame = pl.read_parquet(target)
    frame.with_columns(*(pl.lit(v, pl.String).alias(k) for k, v in values.items())).write_parquet(target)


def violations(settings: Settings, at: datetime = AUDIT_AT) -> list[str]:
    return run_audit(settings, at, record=False).violations


# ---------------------------------------------------------------- IP-like values


@pytest.mark.parametrize("column", ["vhost", "device", "os", "method"])
def test_an_ip_in_a_kept_column_of_an_anonymised_row(lake: Settings, column: str) -> None:
    path = only_file(Layout(lake.lake).requests)
    change(path, **{column: "at 2001:db8::7 or so"})
    assert violations(lake) == [f"P1 requests: {path}: IP-like values past the limit or after anonymisation in "
                                f"{column} (6)"]


def test_an_ip_in_the_path_is_kept_by_design(lake: Settings) -> None:
    """Paths describe the site, not the visitor: kept verbatim (docs/lake.md), not scanned."""
    change(only_file(Layout(lake.lake).requests), path="/status/198.51.100.1")
    assert violations(lake) == []


def test_an_ip_left_in_a_scrubbed_line(lake: Settings) -> None:
    path = only_file(Layout(lake.lake).rejects)
    change(path, line="[host] said 192.0.2.1 junk line")
    assert violations(lake) == [f"P1 rejects: {path}: IP-like values past the limit or after anonymisation in line (1)"]


def test_an_ip_in_a_mart_once_its_day_is_past_the_limit(lake: Settings) -> None:
    old, young = mart_file(lake.lake), mart_file(lake.lake, AUDIT_AT)
    for path in (old, young):
        lakefs.write_parquet_atomic(pl.DataFrame({"browser": ["198.51.100.9"], "count_requests": [1]}), path)
    assert violations(lake) == [f"P1 marts: {old}: IP-like values past the limit or after anonymisation in "
                                "browser (1)"]


def test_an_extra_personal_column_in_a_requests_file(lake: Settings) -> None:
    path = only_file(Layout(lake.lake).requests)
    change(path, remoteAddr="-")
    assert violations(lake) == [f"P1 requests: {path} has personal columns remoteAddr"]


@pytest.mark.parametrize(("names", "personal"), [
    ({"ip", "remote_addr", "sid", "x_forwarded_for", "cookie"}, ["cookie", "ip", "remote_addr", "sid",
                                                                 "x_forwarded_for"]),
    ({"clientIP", "X-Real-IP", "userName", "Referer", "SessionId"}, ["Referer", "SessionId", "X-Real-IP", "clientIP",
                                                                      "userName"]),
    ({"referrer_host", "referrer_path", "count_unique_visitors", "browser", "utm_source", "path", "hour_at"}, []),
])
def test_personal_columns_under_any_name(names: set[str], personal: list[str]) -> None:
    assert personal_columns(names) == personal


# ---------------------------------------------------------------- odd content never stops the audit


@pytest.mark.parametrize("data", [b"", b"PAR1", b"not parquet at all\n"])
def test_an_unreadable_requests_file_is_one_named_violation(lake: Settings, data: bytes) -> None:
    path = only_file(Layout(lake.lake).requests)
    bad = path.with_name("part-0broken.parquet")
    bad.write_bytes(data)
    found = violations(lake)
    assert len(found) == 1 and found[0].startswith(f"P1 unreadable: {bad}: not a readable Parquet file (")


def test_a_truncated_file_among_many_is_found(lake: Settings) -> None:
    good = only_file(Layout(lake.lake).requests)
    data = good.read_bytes()
    for n in range(5):  # copies would be duplicates: give each its own rows
        frame = pl.read_parquet(good).with_columns(pl.col("row_id") + f"-{n}")
        frame.write_parquet(good.with_name(f"part-{n}.parquet"))
    bad = good.with_name("part-3.parquet")
    bad.write_bytes(data[: len(data) // 2])
    found = [v for v in violations(lake) if not v.startswith("P4 rows")]  # the copies are not in the ledger
    assert len(found) == 1 and found[0].startswith(f"P1 unreadable: {bad}:")


def test_a_file_without_its_dataset_columns(lake: Settings) -> None:
    stray = Layout(lake.lake).rejects / "site=default" / "date=2026-11-20" / "part-x.parquet"
    stray.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"row_id": ["k:1"], "client_ip": ["198.51.100.1"]}).write_parquet(stray)
    assert violations(lake) == [f"P1 rejects: {stray}: not a rejects file (no column line, received_at, "
                                "scrubbed_at); the next retention run moves it to quarantine/"]


def test_broken_marts_and_candidates_are_named(lake: Settings) -> None:
    mart = mart_file(lake.lake)
    mart.write_bytes(b"")
    candidates = lakefs.partition_dir(Layout(lake.lake).candidates, "default", T0.date()) / "part-0.parquet"
    lakefs.make_private(Layout(lake.lake).forensics, candidates.parent)
    candidates.write_bytes(b"PAR1")
    candidates.chmod(0o600)
    found = violations(lake)
    assert [v.split(":")[0] for v in found] == ["P1 unreadable", "P1 unreadable"]
    assert str(mart) in found[0] and str(candidates) in found[1]
    assert found[0].endswith("delete it: the next nightly run builds that day's marts again")


def test_a_check_that_cannot_run_is_a_violation(lake: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object) -> list[str]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(audit_run, "check_private_modes", broken)
    assert violations(lake) == ["audit: the permissions check could not run (RuntimeError: disk on fire); "
                                "fix what it names, then audit again"]


def test_a_hidden_landing_file_is_judged_by_its_age(lake: Settings) -> None:
    hidden = Layout(lake.lake).landing / ".access.log.1"
    hidden.parent.mkdir()
    hidden.write_text(Hit(T0).line() + "\n", encoding="utf-8")
    os.utime(hidden, (AUDIT_AT.timestamp() - 3600,) * 2)
    assert violations(lake) == []
    os.utime(hidden, (T0.timestamp(),) * 2)
    assert violations(lake) == [f"P1 landing: {hidden} holds lines older than the 168 h limit"]
