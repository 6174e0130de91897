"""A hold's breadth is judged by what its scope matches in the lake, not by the glob's text (issue 11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from accesslake import holds
from accesslake import storage as lakefs
from accesslake.errors import HoldError
from accesslake.holds import breadth
from accesslake.schema import REQUEST_SCHEMA, conform
from accesslake.storage.auditlog import read_events

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
DAY = NOW - timedelta(days=1)
WINDOW = {"start": NOW - timedelta(days=3), "end": NOW + timedelta(days=1)}
REASON = "whole-site DDoS: all traffic of the night for the provider's abuse desk"


def rows(specs: list[dict[str, object]]) -> pl.DataFrame:
    base: dict[str, object] = {"ts": DAY, "method": "GET", "path": "/", "status": 200, "bytes": 1,
                               "user_agent": "Mozilla/5.0 Firefox/128.0", "received_at": DAY, "source_file": "a.log"}
    frame = pl.DataFrame([{**base, "row_id": f"r:{n}", "source_line": n, **spec} for n, spec in enumerate(specs)],
                         infer_schema_length=None)
    return conform(frame, REQUEST_SCHEMA)


def store(lake: Path, frame: pl.DataFrame, *, incident: str | None = None, name: str = "part-t.parquet") -> None:
    root = lake / ("held" if incident else "requests")
    path = lakefs.partition_dir(root, "shop", DAY.date(), incident) / name
    lakefs.write_parquet_atomic(frame, path, private=incident is not None)


def visitors(count: int, *, path: str = "/seite/{n}", start: int = 0, **extra: object) -> list[dict[str, object]]:
    """One request from each of ``count`` distinct clients 198.51.100.<start..>."""
    return [{"client_ip": f"198.51.100.{start + n}", "ts": DAY + timedelta(minutes=n), "path": path.format(n=n),
             **extra} for n in range(count)]


def scope(**criteria: tuple[str, ...]) -> holds.Scope:
    return holds.Scope(**WINDOW, **criteria)  # type: ignore[arg-type]


def open_hold(lake: Path, the_scope: holds.Scope, confirm_broad: str | None = None) -> holds.Hold:
    return holds.open_hold(lake, case_reference="CASE-1", scope=the_scope, purpose="credential stuffing",
                           legal_basis=("6-1-f",), authorized_by="CISO", now=NOW, confirm_broad=confirm_broad)


@pytest.fixture
def busy(lake: Path) -> Path:
    """30 clients: 28 with an 'e' in their path and an 'a' in their user agent, 2 on /login with curl."""
    store(lake, rows(visitors(28) + visitors(2, path="/login", start=100, user_agent="curl/8.0")))
    return lake


# ---------------------------------------------------------------- measuring


def test_a_glob_matching_most_clients_is_broad_and_a_narrow_one_is_not(busy: Path) -> None:
    wide = holds.measure_breadth(busy, scope(paths=("*e*",)), NOW)
    assert (wide.reference, wide.clients, wide.rows, wide.matched_clients, wide.matched_rows) == ("window", 30, 30,
                                                                                                  28, 28)
    assert wide.broad
    narrow = holds.measure_breadth(busy, scope(paths=("/login",)), NOW)
    assert (narrow.matched_clients, narrow.broad) == (2, False)


def test_a_few_busy_clients_are_never_broad_however_many_rows(lake: Path) -> None:
    flood = [{"client_ip": "203.0.113.9", "ts": DAY + timedelta(seconds=n), "path": "/"} for n in range(300)]
    store(lake, rows(flood + visitors(40)))
    found = holds.measure_breadth(lake, scope(ips=("203.0.113.9",)), NOW)
    assert (found.matched_rows, found.rows, found.matched_clients) == (300, 340, 1)
    assert not found.broad


def test_most_of_the_rows_from_many_clients_is_broad(lake: Path) -> None:
    """12 of 100 clients (12 %) but 1,200 of 1,288 rows (93 %): broad by rows."""
    busy = [{"client_ip": f"192.0.2.{c}", "ts": DAY + timedelta(seconds=n), "path": "/api/x"}
            for c in range(12) for n in range(100)]
    store(lake, rows(busy + visitors(88)))
    found = holds.measure_breadth(lake, scope(paths=("/api/*",)), NOW)
    assert (found.matched_clients, found.clients, found.matched_rows, found.rows) == (12, 100, 1200, 1288)
    assert found.broad


def test_held_rows_of_every_hold_count(lake: Path) -> None:
    store(lake, rows(visitors(5)))
    store(lake, rows(visitors(20, start=50)), incident="INC-20261128-00aa")
    found = holds.measure_breadth(lake, scope(paths=("*e*",)), NOW)
    assert (found.reference, found.clients, found.matched_clients, found.broad) == ("window", 25, 25, True)


def test_anonymised_rows_do_not_count(lake: Path) -> None:
    """Only rows still carrying their IP: the 30 anonymised ones leave 3 clients, too few to be broad."""
    gone = [{**v, "client_ip": "198.51.0.0", "anonymized_at": NOW} for v in visitors(30)]
    store(lake, rows(gone + visitors(3, start=200)))
    found = holds.measure_breadth(lake, scope(paths=("*e*",)), NOW)
    assert (found.clients, found.matched_clients, found.broad) == (3, 3, False)


def test_a_window_without_traffic_is_judged_on_recent_traffic(busy: Path) -> None:
    """A hold opened ahead of the traffic it targets cannot hide its breadth in an empty window."""
    ahead = holds.Scope(start=NOW + timedelta(days=1), end=NOW + timedelta(days=2), paths=("*e*",))
    found = holds.measure_breadth(busy, ahead, NOW)
    assert (found.reference, found.clients, found.matched_clients, found.broad) == ("recent", 30, 28, True)
    with pytest.raises(HoldError, match=r"--path '\*e\*': the scope matches 28 of 30 clients .* in the last 7 days"):
        open_hold(busy, ahead)


def test_an_unreadable_file_is_counted_not_fatal(busy: Path) -> None:
    partition = lakefs.partition_dir(busy / "requests", "shop", DAY.date())
    (partition / "part-broken.parquet").write_bytes(b"PAR1 truncated")
    found = holds.measure_breadth(busy, scope(paths=("/login",)), NOW)
    assert (found.unreadable_files, found.matched_clients) == (1, 2)
    assert open_hold(busy, scope(paths=("/login",))).scope.paths == ("/login",)


# ---------------------------------------------------------------- refusing and confirming


def test_a_broad_scope_is_refused_naming_the_scope_and_the_way_out(busy: Path) -> None:
    with pytest.raises(HoldError) as caught:
        open_hold(busy, scope(user_agents=("a",)))
    message = str(caught.value)
    assert "\n" not in message
    for part in ("--user-agent 'a'", "matches 28 of 30 clients (93 %)", "in its window", "--confirm-broad"):
        assert part in message
    assert holds.list_holds(busy) == []


def test_a_confirmed_broad_scope_keeps_its_reason_and_counts_on_record(busy: Path) -> None:
    hold = open_hold(busy, scope(paths=("*[!x]*",)), confirm_broad=f"  {REASON} ")
    assert hold.broad_reason == REASON
    assert holds.get_hold(busy, hold.id) == hold
    (event,) = read_events(busy, "hold.open")
    assert event["broad_reason"] == REASON
    assert event["breadth"] == {"reference": "window", "rows": 30, "clients": 30, "matched_rows": 30,
                                "matched_clients": 30, "unreadable_files": 0, "broad": True}


def test_a_narrow_hold_records_its_breadth_and_no_reason(busy: Path) -> None:
    hold = open_hold(busy, scope(ips=("198.51.100.100",)))
    assert hold.broad_reason is None and hold.to_dict()["broad_reason"] is None
    (event,) = read_events(busy, "hold.open")
    assert (event["breadth"]["matched_clients"], event["breadth"]["broad"], event["broad_reason"]) == (1, False, None)


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_an_empty_confirmation_is_refused_even_for_a_narrow_scope(busy: Path, reason: str) -> None:
    with pytest.raises(HoldError, match="--confirm-broad: give the written reason"):
        open_hold(busy, scope(paths=("/login",)), confirm_broad=reason)
    assert holds.list_holds(busy) == []


def test_the_thresholds_are_the_documented_ones() -> None:
    """The numbers the refusal message, the CLI help and docs/forensics.md state."""
    assert (breadth.CLIENT_SHARE, breadth.ROW_SHARE, breadth.MIN_CLIENTS, breadth.REFERENCE_DAYS) == (0.2, 0.5, 10, 7)
    edge = breadth.Breadth("window", rows=100, clients=54, matched_rows=11, matched_clients=11)
    assert edge.broad  # 11 > 10 clients and 11 > 20 % of 54
    assert not breadth.Breadth("window", rows=100, clients=55, matched_rows=11, matched_clients=11).broad  # 20 %
    assert not breadth.Breadth("window", rows=100, clients=40, matched_rows=10, matched_clients=10).broad
    assert not breadth.Breadth("window", rows=100, clients=60, matched_rows=50, matched_clients=12).broad
