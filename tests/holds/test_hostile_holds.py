"""Hostile incident holds: scopes that quietly cover (nearly) everything, and overlapping holds.

Target behaviour:

- ``incident open`` with a scope that matches most rows of the lake in its window
  (``--path '*[!x]*'``, ``--path '*e*'``, ``--user-agent a``) is refused with exit 2 unless
  ``--confirm-broad "written reason"`` is given (and then the reason is kept on record);
- a row covered by two holds belongs to both: after the nightly run, ``export --incident`` of
  each hold contains it.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hostile_kit import NOW, assert_usage_error, at, combined, export_hold, open_hold, run_cli, write_lines

DAY = NOW - timedelta(days=1)
START, END = NOW - timedelta(days=3), NOW + timedelta(days=1)
REASON = "whole-site DDoS on 2026-11-28, all traffic needed for the provider's abuse desk"


@pytest.fixture
def busy_lake(tmp_path: Path, lake: Path) -> Path:
    """30 recent requests: 28 with an 'e' in the path and an 'a' in the user agent, 2 without."""
    lines = [combined(f"198.51.100.{100 + n}", DAY + timedelta(minutes=n), path=f"/seite/{n}",
                      agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0") for n in range(28)]
    lines += [combined("192.0.2.7", DAY + timedelta(hours=2), path="/login", agent="curl/8.0"),
              combined("192.0.2.8", DAY + timedelta(hours=3), path="/login", agent="wget/1.21")]
    log = write_lines(tmp_path / "access.log", lines)
    code, out, err = run_cli(at(lake, NOW, "ingest", log))
    assert code == 0, err
    return lake


BROAD = [["--path", "*[!x]*"], ["--path", "*e*"], ["--user-agent", "a"]]
BROAD_IDS = ["path-not-x", "path-e", "user-agent-a"]


def _hold_files(lake: Path) -> list[Path]:
    folder = lake / "incidents"
    return sorted(folder.glob("*.json")) if folder.exists() else []


@pytest.mark.parametrize("scope", BROAD, ids=BROAD_IDS)
def test_a_scope_matching_most_rows_is_refused(busy_lake: Path, scope: list[str]) -> None:
    code, out, err, _ = open_hold(busy_lake, NOW, START, END, *scope)
    assert_usage_error(code, out, err, scope[0])
    assert _hold_files(busy_lake) == [], "the broad hold was written anyway"


@pytest.mark.parametrize("scope", BROAD, ids=BROAD_IDS)
def test_a_broad_scope_with_a_written_reason_is_accepted_and_recorded(busy_lake: Path, scope: list[str]) -> None:
    code, out, err, hold_id = open_hold(busy_lake, NOW, START, END, *scope, "--confirm-broad", REASON)
    assert code == 0, out + err
    assert hold_id and [p.stem for p in _hold_files(busy_lake)] == [hold_id]
    kept = (busy_lake / "incidents" / f"{hold_id}.json").read_text(encoding="utf-8")
    kept += (busy_lake / "audit" / "audit.jsonl").read_text(encoding="utf-8")
    assert REASON in kept, "the reason for the broad scope is not on record"


def test_an_empty_confirmation_is_no_confirmation(busy_lake: Path) -> None:
    code, out, err, _ = open_hold(busy_lake, NOW, START, END, "--path", "*e*", "--confirm-broad", "  ")
    assert_usage_error(code, out, err, "--confirm-broad")


def test_a_narrow_scope_needs_no_confirmation(busy_lake: Path) -> None:
    """Control (passes today): the refusal must not catch an ordinary, narrow hold."""
    code, out, err, hold_id = open_hold(busy_lake, NOW, START, END, "--path", "/login")
    assert code == 0, out + err
    assert hold_id is not None


# ---------------------------------------------------------------- two holds, one row


def _export_row_ids(folder: Path) -> list[str]:
    return pq.read_table(folder / "requests.parquet").column("row_id").to_pylist()


@pytest.mark.parametrize("when", [timedelta(hours=1), timedelta(days=6)], ids=["before-nightly", "after-nightly"])
def test_a_row_in_two_holds_is_exported_with_each(tmp_path: Path, busy_lake: Path, when: timedelta) -> None:
    code, out, err, by_ip = open_hold(busy_lake, NOW, START, END, "--ip", "192.0.2.7", case="CASE-IP")
    assert code == 0, err
    code, out, err, by_path = open_hold(busy_lake, NOW, START, END, "--path", "/login", case="CASE-PATH")
    assert code == 0, err
    later = NOW + when
    code, out, err = run_cli(at(busy_lake, later, "nightly"))
    assert code == 0, out + err
    exported = {}
    for hold_id in (by_ip, by_path):
        folder = tmp_path / f"export-{hold_id}"
        code, out, err = export_hold(busy_lake, later, hold_id, folder)
        assert code == 0, out + err
        exported[hold_id] = _export_row_ids(folder)
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["row_count"] == len(exported[hold_id])
    assert len(exported[by_ip]) == 1, f"hold by IP exported {len(exported[by_ip])} rows"
    assert len(exported[by_path]) == 2, f"hold by path exported {len(exported[by_path])} rows"
    assert set(exported[by_ip]) <= set(exported[by_path]), "the shared row is missing from one export"
