"""Hostile inputs against the nightly run: it must be fail-safe.

Target behaviour: anonymisation of everything due runs even when ingest, marts, detection or
the report fail; a landing file that cannot be ingested is moved out of landing/ into
``<lake>/quarantine/`` and named in the output, and the run exits 3. Quarantined files are
deleted (or scrubbed) once past the limit, like every other store (rule P1).
"""

from __future__ import annotations

import gzip
import os
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hostile_kit import (
    NOW,
    at,
    column,
    combined,
    find_ips_in_lake,
    make_ips,
    parquet_files,
    read_rows,
    run_cli,
    traffic,
    write_lines,
)

LATER = NOW + timedelta(days=8)  # every row of the scenario is past the 168 h limit then
LIMIT = timedelta(hours=168)

GOOD_IPS = make_ips("198.51.100", 24)
GZ_IPS = make_ips("203.0.113", 6)
HUGE_IPS = ["192.0.2.101", "192.0.2.102", "192.0.2.103", "192.0.2.104"]
Y9999_IPS = ["192.0.2.111", "192.0.2.112", "192.0.2.113", "192.0.2.114"]
ALL_IPS = GOOD_IPS + GZ_IPS + HUGE_IPS + Y9999_IPS
BAD_FILES = ("junk.bin", "cut.log.gz", "huge.log", "y9999.log")
UNINGESTIBLE = ("junk.bin", "cut.log.gz")


def _landing_names(lake: Path) -> list[str]:
    landing = lake / "landing"
    return sorted(p.name for p in landing.iterdir()) if landing.exists() else []


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Good traffic over six days plus four hostile files in landing/; nightly at NOW, then at NOW + 8 days."""
    lake = tmp_path_factory.mktemp("nightly") / "lake"
    landing = lake / "landing"
    landing.mkdir(parents=True)
    write_lines(landing / "z-good.log", traffic(GOOD_IPS, NOW - timedelta(days=6), step=timedelta(hours=6)))
    (landing / "junk.bin").write_bytes(bytes(range(256)) * 16 + os.urandom(1024))
    body = gzip.compress(("\n".join(traffic(GZ_IPS, NOW - timedelta(days=2))) + "\n").encode())
    (landing / "cut.log.gz").write_bytes(body[: len(body) * 2 // 3])
    day = NOW - timedelta(days=1)
    write_lines(landing / "huge.log", [
        combined(HUGE_IPS[0], day, size=9223372036854775807),
        combined(HUGE_IPS[1], day, size=2**64),
        combined(HUGE_IPS[2], day + timedelta(minutes=1)),
        combined(HUGE_IPS[3], day + timedelta(minutes=2)),
    ])
    write_lines(landing / "y9999.log", [
        combined(Y9999_IPS[0], day),
        combined(Y9999_IPS[1], day.replace(year=9999)),
        combined(Y9999_IPS[2], day + timedelta(minutes=1)),
        combined(Y9999_IPS[3], day + timedelta(minutes=2)),
    ])
    first = run_cli(at(lake, NOW, "nightly"))
    landing_after_first = _landing_names(lake)
    second = run_cli(at(lake, LATER, "nightly"))
    return {"lake": lake, "first": first, "second": second, "landing_after_first": landing_after_first}


def test_the_first_nightly_exits_3_naming_every_hostile_file(scenario: dict[str, object]) -> None:
    code, out, err = scenario["first"]  # type: ignore[misc]
    assert code == 3, f"exit {code}, expected 3 (retention done, some input failed)\n{out}\n{err}"
    missing = [name for name in BAD_FILES if name not in out + err]
    assert missing == [], f"not named in the output: {missing}\n{out}\n{err}"


def test_uningestible_files_leave_landing_for_quarantine(scenario: dict[str, object]) -> None:
    left = scenario["landing_after_first"]
    assert [n for n in UNINGESTIBLE if n in left] == [], f"still in landing/ after the nightly: {left}"
    lake: Path = scenario["lake"]  # type: ignore[assignment]
    assert (lake / "quarantine").is_dir(), "no <lake>/quarantine/ folder"


def test_good_traffic_is_ingested_despite_the_hostile_files(scenario: dict[str, object]) -> None:
    lake: Path = scenario["lake"]  # type: ignore[assignment]
    table = read_rows(lake)
    assert table is not None, "no requests rows at all: the good file was not ingested"
    sources = table.column("source_file").to_pylist()
    assert sum(1 for s in sources if s.endswith("z-good.log")) == len(GOOD_IPS)


def test_every_good_row_past_the_limit_is_anonymised(scenario: dict[str, object]) -> None:
    lake: Path = scenario["lake"]  # type: ignore[assignment]
    code, out, err = scenario["second"]  # type: ignore[misc]
    assert code in (0, 3), f"second nightly exit {code}\n{out}\n{err}"
    table = read_rows(lake)
    assert table is not None
    rows = table.select(["ts", "received_at", "client_ip", "session_id", "source_file"]).to_pylist()
    good = [r for r in rows if r["source_file"].endswith("z-good.log")]
    assert len(good) == len(GOOD_IPS)
    due = [r for r in rows if min(r["ts"], r["received_at"]) + LIMIT < LATER]
    assert due, "the scenario must have rows past the limit"
    assert [r for r in due if r["client_ip"] is not None or r["session_id"] is not None] == []


def test_an_independent_scan_finds_no_old_ip_anywhere(scenario: dict[str, object]) -> None:
    lake: Path = scenario["lake"]  # type: ignore[assignment]
    hits = find_ips_in_lake(lake, ALL_IPS)
    assert hits == [], "old test IPs left in the lake after the nightly at +8 days:\n" + "\n".join(hits[:40])


def test_quarantined_files_do_not_outlive_the_limit(scenario: dict[str, object]) -> None:
    assert "cut.log.gz" not in scenario["landing_after_first"], "the truncated gzip was never quarantined"
    lake: Path = scenario["lake"]  # type: ignore[assignment]
    hits = [h for h in find_ips_in_lake(lake, ALL_IPS) if h.startswith(("quarantine/", "landing/"))]
    assert hits == [], "raw hostile files still hold IPs past the limit:\n" + "\n".join(hits)
    assert [n for n in BAD_FILES if n in _landing_names(lake)] == []


# ---------------------------------------------------------------- a broken file inside requests/


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_a_broken_parquet_file_does_not_stop_anonymisation(tmp_path: Path, lake: Path, damage: str) -> None:
    ips = make_ips("198.51.100", 12)
    log = write_lines(tmp_path / "access.log", traffic(ips, NOW - timedelta(days=4), step=timedelta(hours=8)))
    code, out, err = run_cli(at(lake, NOW, "ingest", log))
    assert code == 0, err
    days = sorted({p.parent for p in parquet_files(lake / "requests")})
    assert len(days) >= 3
    victim_dir = days[1]
    real = parquet_files(victim_dir)[0]
    bad = victim_dir / "part-broken.parquet"
    if damage == "empty":
        bad.write_bytes(b"")
    else:
        data = real.read_bytes()
        bad.write_bytes(data[: len(data) // 2])

    code, out, err = run_cli(at(lake, NOW + timedelta(days=8), "nightly"))
    assert code != 0, f"a broken Parquet file in requests/ went unnoticed\n{out}\n{err}"
    assert code in (1, 3), f"exit {code}\n{out}\n{err}"
    assert "part-broken.parquet" in out + err
    personal = []
    for path in parquet_files(lake / "requests"):
        if path.name == "part-broken.parquet":
            continue
        ips_left = [v for v in pq.read_table(path, partitioning=None).column("client_ip").to_pylist() if v]
        if ips_left:
            personal.append(f"{path.relative_to(lake)}: {len(ips_left)} IPs")
    assert personal == [], "partitions beside the broken file were not anonymised:\n" + "\n".join(personal)


def test_a_failing_marts_step_does_not_stop_anonymisation(tmp_path: Path, lake: Path) -> None:
    """Two byte counts of 2**63 - 1 on one day: each is stored faithfully, but their sum overflows
    a 64-bit mart column. Whatever the marts do about it, anonymisation must still run."""
    ips = make_ips("198.51.100", 6)
    lines = [combined(ip, NOW - timedelta(hours=12 - n), size=2**63 - 1) for n, ip in enumerate(ips)]
    log = write_lines(tmp_path / "big-bytes.log", lines)
    code, out, err = run_cli(at(lake, NOW, "ingest", log))
    assert code == 0, err
    code, out, err = run_cli(at(lake, LATER, "nightly"))
    assert code in (0, 3), f"exit {code}: expected 0 (or 3 naming the failed step)\n{out[-1500:]}\n{err[-1500:]}"
    assert column(lake, "client_ip") == [None] * len(ips)
    assert find_ips_in_lake(lake, ips) == []


# ---------------------------------------------------------------- strays, and a step that cannot even list


def test_a_broken_file_fails_the_marts_of_its_day_only_and_is_deleted_in_time(tmp_path: Path, lake: Path) -> None:
    ips = make_ips("198.51.100", 12)
    log = write_lines(tmp_path / "access.log", traffic(ips, NOW - timedelta(days=4), step=timedelta(hours=8)))
    assert run_cli(at(lake, NOW, "ingest", log))[0] == 0
    days = sorted({p.parent for p in parquet_files(lake / "requests")})
    (days[1] / "part-0broken.parquet").write_bytes(b"PAR1")
    code, out, err = run_cli(at(lake, NOW, "nightly"))  # nothing due: the file goes to quarantine all the same
    assert code == 3, out + err
    failed = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert [line for line in failed if line.startswith(f"FAILED marts default {days[1].name[5:]}")]
    assert not [line for line in failed if line.startswith("FAILED marts") and days[1].name[5:] not in line]
    assert [line for line in failed if line.startswith("FAILED anonymize") and "part-0broken.parquet" in line]
    assert not (days[1] / "part-0broken.parquet").exists()
    assert [p.name for p in (lake / "quarantine").rglob("part-0broken.parquet")] == ["part-0broken.parquet"]
    code, out, err = run_cli(at(lake, LATER, "nightly"))
    assert code == 0, out + err  # marts of that day built, the quarantined file deleted, the audit passes
    assert list((lake / "quarantine").rglob("*.parquet")) == []
    assert find_ips_in_lake(lake, ips) == []


def test_retention_of_the_other_stores_runs_when_the_due_partitions_cannot_be_listed(
    tmp_path: Path, lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accesslake import retention

    def unlistable(*_: object) -> list[object]:
        raise OSError("requests/: listing failed")

    lines = [*traffic(make_ips("198.51.100", 3), NOW - timedelta(days=1)), "192.0.2.55 junk that will not parse"]
    assert run_cli(at(lake, NOW, "ingest", write_lines(tmp_path / "a.log", lines)))[0] == 0
    monkeypatch.setattr(retention, "partitions_due", unlistable)
    code, out, err = run_cli(at(lake, LATER, "nightly"))
    assert code in (1, 3), out + err
    assert "FAILED anonymize listing the due partitions: requests/: listing failed" in out
    assert "1 rejected lines were scrubbed" in out  # the rest of retention ran
    assert column(lake, "scrubbed_at", "rejects") != [None]
