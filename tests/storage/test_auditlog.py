"""The append-only, hash-chained audit log (rule D2): appends chain, any edit, deletion or reorder shows."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from accesslake.storage.auditlog import GENESIS, append_event, audit_log_path, read_events, verify_chain

AT = datetime(2026, 11, 29, 3, tzinfo=UTC)


def fill(lake: Path, n: int = 4) -> list[dict[str, object]]:
    return [append_event(lake, "ingest", AT + timedelta(minutes=i), rows=i, source_file=f"f{i}.log") for i in range(n)]


def lines(lake: Path) -> list[str]:
    return audit_log_path(lake).read_text(encoding="utf-8").splitlines()


def write(lake: Path, new: list[str]) -> None:
    audit_log_path(lake).write_text("".join(line + "\n" for line in new), encoding="utf-8")


def test_each_append_links_to_the_previous_line(lake: Path) -> None:
    written = fill(lake)
    assert [r["seq"] for r in written] == [1, 2, 3, 4]
    assert written[0]["prev"] == GENESIS
    assert [r["prev"] for r in written[1:]] == [r["hash"] for r in written[:-1]]
    for record in written:  # the hash covers every field but itself
        body = {k: v for k, v in record.items() if k != "hash"}
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        assert record["hash"] == digest
    assert read_events(lake) == written
    assert verify_chain(lake) == []


def test_records_carry_the_explicit_clock_and_the_details(lake: Path) -> None:
    record = append_event(lake, "anonymize", AT, rows_anonymized=12, holds_active=["INC-20261129-ab12"])
    assert record["at"] == "2026-11-29T03:00:00+00:00"
    assert (record["event"], record["rows_anonymized"]) == ("anonymize", 12)
    assert record["holds_active"] == ["INC-20261129-ab12"]
    assert read_events(lake, "anonymize") == [record] and read_events(lake, "ingest") == []


def test_appends_only_add_lines(lake: Path) -> None:
    fill(lake, 2)
    before = audit_log_path(lake).read_bytes()
    append_event(lake, "audit", AT, ok=True)
    assert audit_log_path(lake).read_bytes().startswith(before)


def test_an_empty_or_missing_log_is_intact(lake: Path) -> None:
    assert verify_chain(lake) == [] and read_events(lake) == []
    audit_log_path(lake).parent.mkdir(parents=True)
    audit_log_path(lake).write_text("", encoding="utf-8")
    assert verify_chain(lake) == []
    assert append_event(lake, "audit", AT, ok=True)["seq"] == 1


def test_an_edited_line_is_detected(lake: Path) -> None:
    fill(lake)
    text = lines(lake)
    record = json.loads(text[1])
    record["rows"] = 1000
    text[1] = json.dumps(record, sort_keys=True)
    write(lake, text)
    assert verify_chain(lake) == [f"{audit_log_path(lake)}:2: hash mismatch (line was edited)"]


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(lake: Path) -> None:
    fill(lake)
    text = lines(lake)
    record = json.loads(text[1])
    record["rows"] = 1000
    body = {k: v for k, v in record.items() if k != "hash"}
    record["hash"] = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    text[1] = json.dumps(record, sort_keys=True)
    write(lake, text)
    assert verify_chain(lake) == [f"{audit_log_path(lake)}:3: chain broken (prev does not match line 2)"]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_a_deleted_line_is_detected(lake: Path, index: int) -> None:
    fill(lake)
    text = lines(lake)
    del text[index]
    write(lake, text)
    expected = f"{audit_log_path(lake)}:{index + 1}: chain broken (prev does not match line {index})"
    assert verify_chain(lake) == [expected]


def test_reordered_lines_are_detected(lake: Path) -> None:
    fill(lake)
    text = lines(lake)
    text[1], text[2] = text[2], text[1]
    write(lake, text)
    problems = verify_chain(lake)
    assert f"{audit_log_path(lake)}:2: chain broken (prev does not match line 1)" in problems
    assert f"{audit_log_path(lake)}:3: chain broken (prev does not match line 2)" in problems


def test_a_line_that_is_not_json_is_reported(lake: Path) -> None:
    fill(lake, 2)
    write(lake, [*lines(lake), "garbage"])
    assert verify_chain(lake) == [f"{audit_log_path(lake)}:3: not a JSON record"]


def test_an_inserted_forged_line_is_detected(lake: Path) -> None:
    fill(lake)
    text = lines(lake)
    forged = {"seq": 2, "at": AT.isoformat(), "event": "hold.release", "prev": json.loads(text[0])["hash"],
              "hash": "0" * 64}
    text.insert(1, json.dumps(forged))
    write(lake, text)
    problems = verify_chain(lake)
    assert f"{audit_log_path(lake)}:2: hash mismatch (line was edited)" in problems
    assert f"{audit_log_path(lake)}:3: chain broken (prev does not match line 2)" in problems


def test_concurrent_appends_keep_one_chain(lake: Path) -> None:
    def writer(k: int) -> None:
        for i in range(10):
            append_event(lake, "ingest", AT, writer=k, i=i)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = read_events(lake)
    assert [r["seq"] for r in events] == list(range(1, 41))
    assert verify_chain(lake) == []


# ---------------------------------------------------------------- an anchor kept outside the lake


def test_cutting_the_last_lines_passes_the_chain_but_not_an_anchor(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from accesslake.cli import main as cli_main

    fill(lake, 2)
    assert cli_main(["--lake", str(lake), "--now", AT.isoformat(), "audit"]) == 0
    out = capsys.readouterr().out
    anchor = out.split("audit log head: ")[1].split()[0]
    assert anchor == f"3:{read_events(lake)[-1]['hash']}"  # the audit's own record
    fill(lake, 2)
    assert cli_main(["--lake", str(lake), "--now", AT.isoformat(), "audit", "--anchor", anchor]) == 0
    capsys.readouterr()

    write(lake, lines(lake)[:2])  # someone removes the audit and everything after it
    assert verify_chain(lake) == []  # what is left is a valid chain...
    assert cli_main(["--lake", str(lake), "--now", AT.isoformat(), "audit", "--anchor", anchor]) == 1
    assert f"D2 audit log: {audit_log_path(lake)}: no record 3 (the anchor {anchor}); the log was cut back" \
        in capsys.readouterr().out  # ...but the anchor is gone


def test_an_anchor_must_match_its_record_and_be_well_formed(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from accesslake.cli import main as cli_main

    fill(lake, 3)
    second = read_events(lake)[1]
    forged = f"2:{'0' * 64}"
    assert cli_main(["--lake", str(lake), "--now", AT.isoformat(), "audit", "--anchor", forged]) == 1
    assert f"record 2 has hash {second['hash']}, the anchor says {'0' * 64}" in capsys.readouterr().out
    assert cli_main(["--lake", str(lake), "--now", AT.isoformat(), "audit", "--anchor", "2:abc"]) == 2
    assert "--anchor: '2:abc' is not SEQ:HASH" in capsys.readouterr().err
