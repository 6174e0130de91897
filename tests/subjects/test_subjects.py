"""Data-subject requests: ``subject access`` returns every stored row about a visitor, ``subject erase``
leaves their address only in held/ under an active hold, on a folder and on S3.

The lake: a week's log of a subject and other visitors with sessions (retention_kit), partly ingested
from landing/ (the raw file stays there), a rejected line naming the subject, an abuse candidate on
the subject, a quarantined text file with a subject's line and one quarantined file that cannot be
read, and an active hold on the subject's first day (its rows moved to held/ by the nightly run).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from retention_kit import SID_FORMAT, Hit, main_rows, open_hold, reject_rows, snapshot, write_log

from accesslake import ingest, retention
from accesslake import storage as lakefs
from accesslake.audit import run_audit
from accesslake.cli import main as cli_main
from accesslake.config import Settings
from accesslake.errors import ConfigError
from accesslake.forensics import candidates
from accesslake.storage import Layout
from accesslake.storage.auditlog import read_events, verify_chain
from accesslake.storage.quarantine import quarantine
from accesslake.subjects import key_path, parse_subject, subject_access, subject_erase, subject_hash

SUBJECT, SESSION = "198.51.100.7", "sid-subject-7"
OTHERS = ("198.51.100.70", "203.0.113.7", "2001:db8::7")
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=122)  # the first day is past anonymize_after, the later days are not
TOKEN = re.compile(rf"(?<![0-9.]){re.escape(SUBJECT)}(?![0-9])|{re.escape(SESSION)}")


def hits() -> list[Hit]:
    out = []
    for day in range(5):
        start = T0 + timedelta(days=day)
        out += [Hit(start + timedelta(seconds=s), SUBJECT, path, session=SESSION, status=status)
                for s, path, status in ((0, "/", 200), (2, "/.env", 404), (3, "/.git/config", 404))]
        out += [Hit(start + timedelta(minutes=1, seconds=n), ip, "/shop", session=f"sid-{n}", user="-")
                for n, ip in enumerate(OTHERS)]
    return out


@pytest.fixture
def built(settings: Settings, tmp_path: Path) -> tuple[Settings, str]:
    """The lake described above; returns (settings, the active hold's id)."""
    lake = settings.lake
    layout = Layout(lake)
    early = [h for h in hits() if h.ts < T0 + timedelta(days=3)]
    late = [h for h in hits() if h.ts >= T0 + timedelta(days=3)]
    junk = [f"{SUBJECT} - - [24/Nov/2026:09:00:09 +0000] \"\\x16\\x03\" 400 0 sid={SESSION}"]
    with lakefs.writer_lock(lake):
        ingest.ingest_file(write_log(tmp_path / "early.log", early, junk), settings, T0 + timedelta(days=3),
                           fmt=SID_FORMAT)
        landed = layout.landing / "late.log"
        lakefs.write_bytes_atomic(landed, "".join(h.line() + "\n" for h in late).encode())
        ingest.ingest_landing_chain([landed], settings, NOW - timedelta(hours=1), fmt=SID_FORMAT)
        for name, body in (("notes.txt", f"not a log\n{SUBJECT} tried again\n".encode()),
                           ("broken.log.gz", gzip.compress(bytes(range(256)) * 16)[:200])):
            lakefs.write_bytes_atomic(layout.landing / name, body)
            quarantine(lake, layout.landing / name, "cannot be parsed", NOW - timedelta(hours=2),
                       NOW - timedelta(hours=3))
    hold = open_hold(lake, T0 + timedelta(days=1), ips=(SUBJECT,), start=T0 - timedelta(hours=1),
                     end=T0 + timedelta(hours=23))
    with lakefs.writer_lock(lake):
        retention.run_retention(settings, NOW)  # day 1: the hold's rows to held/, the others anonymised
        candidates.detect(settings, NOW)
    return settings, hold.id


def stored_rows_of_subject(lake: Path) -> int:
    """Independently: personal rows with the subject's address or session in requests/ and held/."""
    frames = [lakefs.read_parquet(p) for root in (Layout(lake).requests, Layout(lake).held)
              for p in lakefs.list_files(root)]
    rows = pl.concat(frames)
    return rows.filter(pl.col("anonymized_at").is_null() & ((pl.col("client_ip") == SUBJECT)
                                                            | (pl.col("session_id") == SESSION))).height


def scan(lake: Path) -> dict[str, int]:
    """Every file of the lake, read independently (Parquet cell by cell, gzip decompressed, other
    files as bytes): relative path -> how often the subject's address or session occurs."""
    found: dict[str, int] = {}
    for path in lakefs.list_files(lake, "", hidden=True):
        data = lakefs.read_bytes_or_empty(path)
        if data[:4] == b"PAR1":
            table = pq.read_table(lakefs.open_read(path))
            text = "\n".join(str(v) for column in table.columns for v in column.to_pylist())
        else:
            if data[:2] == b"\x1f\x8b":
                with contextlib.suppress(OSError, EOFError):  # a broken gzip is read as it is
                    data = gzip.decompress(data)
            text = data.decode("latin-1")
        hits_ = len(TOKEN.findall(text))
        if hits_:
            found[lakefs.relative(path, lake)] = hits_
    return found


@pytest.mark.both_storages
def test_access_returns_every_stored_row_about_the_subject(built: tuple[Settings, str], tmp_path: Path) -> None:
    settings, hold_id = built
    expected = stored_rows_of_subject(settings.lake)
    assert expected == 3 + 4 * 3  # day 1 held (3 rows, past anonymize_after), days 2-5 still personal

    answer = subject_access(settings, parse_subject(SUBJECT, SESSION), tmp_path / "answer", NOW)

    out = tmp_path / "answer"
    rows = pl.read_parquet(out / "requests.parquet")
    assert rows.height == expected == answer.counts["requests"]
    held = rows.filter(pl.col("source") == "held")
    assert held.height == 3 and set(held["incident_id"]) == {hold_id} and set(held["case_reference"]) == {"CASE-1"}
    assert answer.held == [{"hold_id": hold_id, "case_reference": "CASE-1", "active": True, "rows": 3}]
    assert pl.read_parquet(out / "rejects.parquet")["line"].str.contains(SUBJECT).all()
    assert answer.counts["rejects"] == 1 and answer.counts["candidates"] >= 1
    raw = pl.read_parquet(out / "raw_lines.parquet")
    assert set(raw["store"]) == {"landing", "quarantine"} and raw["line"].str.contains(SUBJECT).all()
    assert raw.filter(pl.col("store") == "landing").height == 2 * 3  # days 4-5 in landing/late.log
    assert [m["problem"].split(" (")[0] for m in answer.may_contain] == ["a gzip file that cannot be decompressed"]
    manifest = json.loads((out / "manifest.json").read_bytes())
    assert (out / "manifest.json.sha256").read_text().split() == [
        hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest(), "manifest.json"]
    assert {f["name"]: f["sha256"] for f in manifest["files"]} == {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir() if not p.name.startswith("manifest")}
    assert manifest["row_count"] == expected and manifest["subject"]["ip"] == SUBJECT
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    (event,) = read_events(settings.lake, "subject.access")
    assert event["subject"] == subject_hash(settings.lake, parse_subject(SUBJECT, SESSION))
    assert not TOKEN.search(json.dumps(read_events(settings.lake))), "the audit log names the subject"


@pytest.mark.both_storages
def test_erase_leaves_the_address_only_under_the_active_hold(built: tuple[Settings, str]) -> None:
    settings, hold_id = built
    lake = settings.lake
    before = snapshot(lake)
    others = {k: v for k, v in before.items() if SUBJECT not in str(k) and SESSION not in str(k)}
    stores = {"requests", "held", "rejects", "forensics", "landing", "quarantine", "incidents"}
    assert {p.split("/")[0] for p in scan(lake)} == stores  # the subject is everywhere before

    result = subject_erase(settings, parse_subject(SUBJECT, SESSION), NOW, reason=f"Art. 17 request by {SUBJECT}")

    found = scan(lake)
    assert {p for p in found if not p.startswith(f"held/incident={hold_id}/")} == {f"incidents/{hold_id}.json"}, found
    assert sum(n for p, n in found.items() if p.startswith("held/")) == 3 * 2  # 3 rows: address and session
    assert result.kept == {hold_id: {"hold_id": hold_id, "case_reference": "CASE-1", "rows": 3}}
    assert result.candidates_deleted >= 1 and result.rejects_scrubbed == 1
    assert result.raw_files_scrubbed == ["landing/late.log", *[p for p in result.raw_files_scrubbed
                                                              if p.startswith("quarantine/")]]
    after = snapshot(lake)
    assert all(after[k] == v for k, v in others.items()), "another visitor's row changed"
    assert sum(after.values()) == sum(before.values())  # rows anonymised, none deleted
    assert main_rows(lake).height + 3 == sum(n for k, n in after.items() if k[0] in ("requests", "held"))
    assert reject_rows(lake)["scrubbed_at"].null_count() == 0
    assert run_audit(settings, NOW, record=False).ok
    events = read_events(lake)
    assert not TOKEN.search(json.dumps(events)), "the audit log names the subject"
    assert events[-1]["event"] == "subject.erase" and "[subject]" in events[-1]["reason"]
    assert verify_chain(lake) == []
    assert key_path(lake).exists() and "forensics/subject.key" not in found


def test_a_scrubbed_landing_file_is_not_ingested_twice_and_grows_on(settings: Settings, tmp_path: Path) -> None:
    lake = settings.lake
    landed = Layout(lake).landing / "access.log"
    first = [Hit(T0, SUBJECT, "/"), Hit(T0 + timedelta(seconds=5), OTHERS[0], "/a")]
    write_log(landed, first)
    with lakefs.writer_lock(lake):
        ingest.ingest_landing_chain([landed], settings, T0 + timedelta(hours=1), fmt=SID_FORMAT)
        subject_erase(settings, parse_subject(SUBJECT), T0 + timedelta(hours=2), reason="request 7")
        assert not TOKEN.search(landed.read_text()) and landed.read_text().count("\n") == 2
        again = ingest.ingest_landing_chain([landed], settings, T0 + timedelta(hours=3), fmt=SID_FORMAT)
        assert [r.lines_read for r in again] == [0]  # the first line changed; its ledger state was carried over
        with landed.open("a", encoding="utf-8") as fh:
            fh.write(Hit(T0 + timedelta(hours=4), OTHERS[1], "/b").line() + "\n")
        grown = ingest.ingest_landing_chain([landed], settings, T0 + timedelta(hours=5), fmt=SID_FORMAT)
    assert [(r.lines_before, r.lines_read, r.rows) for r in grown] == [(2, 1, 1)]
    assert main_rows(lake).height == 3
    assert run_audit(settings, T0 + timedelta(hours=5), record=False).ok


@pytest.mark.parametrize(
    ("ip", "normal", "is_range"),
    [("198.51.100.7", "198.51.100.7", False), ("::ffff:198.51.100.7", "198.51.100.7", False),
     ("2001:DB8:0:0::7", "2001:db8::7", False), ("[2001:db8::7]", "2001:db8::7", False),
     ("ix-sf10-28.ix.netcom.com", "ix-sf10-28.ix.netcom.com", False), ("198.51.100.0/24", "198.51.100.0/24", True),
     ("198.51.100.*", "198.51.100.0/24", True), ("*.netcom.com", "*.netcom.com", True)],
)
def test_subjects_are_parsed_and_ranges_marked(ip: str, normal: str, is_range: bool) -> None:
    subject = parse_subject(ip, confirm="the whole office asked" if is_range else None)
    assert (subject.ip, subject.is_range) == (normal, is_range)


@pytest.mark.parametrize(
    ("ip", "message"),
    [("198.51.100.0/24", "covers more than one address"), ("198.51.100.*", "covers more than one address"),
     ("10.0.0.0/8", "wider than /16"), ("198.51.100.1/24", "not a valid network"), ("1.2.*.4", "trailing octets"),
     ("a b", "neither an IP address")],
)
def test_a_range_needs_a_reason_and_nonsense_is_refused(ip: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_subject(ip)


def test_tokens_match_every_spelling_and_no_longer_number() -> None:
    subject = parse_subject("2001:db8::7")
    text = "a 2001:DB8:0:0:0:0:0:7 b [2001:db8::7]:443 c 2001:db8::70 d 10:05:03"
    assert [text[a:b] for a, b in subject.spans(text)] == ["2001:DB8:0:0:0:0:0:7", "2001:db8::7"]
    v4 = parse_subject(SUBJECT)
    assert v4.masked(f"{SUBJECT}0 1{SUBJECT} ::ffff:{SUBJECT}, {SUBJECT}.") == \
        f"{SUBJECT}0 1{SUBJECT} {'x' * len('::ffff:' + SUBJECT)}, {'x' * len(SUBJECT)}."


def test_cli_refuses_a_range_without_confirm_and_answers_with_json(
    built: tuple[Settings, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, _ = built
    base = ["--lake", str(settings.lake), "--now", NOW.isoformat()]
    assert cli_main([*base, "subject", "erase", "--ip", "198.51.100.0/24", "--reason", "r"]) == 2
    assert "--confirm" in capsys.readouterr().err
    assert cli_main([*base, "--json", "subject", "access", "--ip", SUBJECT, "--out", str(tmp_path / "a")]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["requests"] == stored_rows_of_subject(settings.lake)
    assert cli_main([*base, "subject", "erase", "--ip", SUBJECT]) == 2
    assert "--reason" in capsys.readouterr().err
    assert cli_main([*base, "subject", "erase", "--ip", "198.51.100.0/24", "--confirm", "office NAT",
                     "--reason", "r"]) == 0
    assert "kept under active hold" in capsys.readouterr().out
    assert stored_rows_of_subject(settings.lake) == 3
