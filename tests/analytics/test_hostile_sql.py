"""Hostile analyst SQL: ``accesslake sql`` is a boundary, not a DuckDB shell.

Target behaviour: the analyst views (``requests`` without personal columns, the marts) work;
anything that reaches past them (reading the lake's files or any other file, writing files,
attaching databases, installing or loading extensions, switching external access back on)
fails with exit 2 and one error line, prints no IP and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from hostile_kit import NOW, at, combined, make_ips, open_hold, parquet_files, run_cli, write_lines

RECENT_IPS = make_ips("198.51.100", 6)
HELD_IP = "203.0.113.200"


@pytest.fixture(scope="module")
def analyst_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Recent rows with IPs in requests/, one held row in held/, a hold record, marts built (shared: read only)."""
    tmp_path = tmp_path_factory.mktemp("analyst")
    lake = tmp_path / "lake"
    lake.mkdir()
    code, out, err, hold_id = open_hold(lake, NOW, NOW - timedelta(days=8), NOW, "--ip", HELD_IP)
    assert code == 0, err
    old = NOW - timedelta(days=6)
    lines = [combined(HELD_IP, old, path="/login", query="user=mallory"),
             combined("192.0.2.50", old + timedelta(minutes=1))]
    lines += [combined(ip, NOW - timedelta(hours=20 - n), query=f"q={n}") for n, ip in enumerate(RECENT_IPS)]
    log = write_lines(tmp_path / "access.log", lines)
    code, out, err = run_cli(at(lake, NOW, "ingest", log))
    assert code == 0, err
    code, out, err = run_cli(at(lake, NOW, "nightly"))
    assert code == 0, out + err
    assert parquet_files(lake / "held"), "fixture: no held rows"
    assert parquet_files(lake / "marts"), "fixture: no marts"
    return lake


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"}


def _hostile_queries(lake: Path, tmp: Path) -> dict[str, str]:
    fake_ext = tmp / "evil.duckdb_extension"
    fake_ext.write_bytes(b"\x00" * 512)
    return {
        "read_parquet-requests": f"select * from read_parquet('{lake}/requests/**/*.parquet')",
        "read_parquet-held": f"select * from read_parquet('{lake}/held/**/*.parquet')",
        "glob-held": f"select * from glob('{lake}/held/**')",
        "read_text-incidents": f"select * from read_text('{lake}/incidents/*')",
        "read_text-passwd": "select * from read_text('/etc/passwd')",
        "read_csv-passwd": "select * from read_csv('/etc/passwd', header=false, sep=':')",
        "copy-to": f"COPY (select 1 as x) TO '{tmp}/x.csv'",
        "copy-requests-out": f"COPY (select * from requests) TO '{tmp}/requests.parquet'",
        "attach": f"ATTACH '{tmp}/x.duckdb' AS x",
        "install": f"INSTALL httpfs FROM '{tmp}/no-such-repository'",  # a local path: never the network
        "load": f"LOAD '{fake_ext}'",
        "set-external-access": "SET enable_external_access=true",
        "reset-external-access": "RESET enable_external_access",
    }


QUERY_NAMES = [
    "read_parquet-requests", "read_parquet-held", "glob-held", "read_text-incidents", "read_text-passwd",
    "read_csv-passwd", "copy-to", "copy-requests-out", "attach", "install", "load", "set-external-access",
    "reset-external-access",
]


@pytest.mark.parametrize("name", QUERY_NAMES)
def test_a_query_past_the_views_is_refused(tmp_path: Path, analyst_lake: Path, name: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    query = _hostile_queries(analyst_lake, outside)[name]
    before_lake, before_outside = _snapshot(analyst_lake), _snapshot(outside)
    code, out, err = run_cli(at(analyst_lake, NOW, "sql", query))
    leaked = [ip for ip in [*RECENT_IPS, HELD_IP, "192.0.2.50", "root:"] if ip in out + err]
    assert leaked == [], f"{name}: the output shows {leaked}"
    assert code == 2, f"{name}: exit {code}, expected 2\n{out[-300:]}\n{err[-600:]}"
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("accesslake: error: "), f"{name}: stderr is\n{err}"
    assert _snapshot(outside) == before_outside, f"{name}: files were written outside the lake"
    assert _snapshot(analyst_lake) == before_lake, f"{name}: the lake was changed"


def test_the_requests_view_works_and_has_no_personal_column(analyst_lake: Path) -> None:
    code, out, err = run_cli(at(analyst_lake, NOW, "--json", "sql", "select * from requests"))
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) >= len(RECENT_IPS)
    personal = {"client_ip", "session_id", "remote_user", "forwarded_for", "user_agent", "query"}
    assert personal & set(rows[0]) == set()
    assert [ip for ip in [*RECENT_IPS, HELD_IP] if ip in out] == []


def test_a_mart_view_works(analyst_lake: Path) -> None:
    code, out, err = run_cli(at(analyst_lake, NOW, "--json", "sql",
                                "select date, sum(count_requests) as n from daily_traffic group by date"))
    assert code == 0, err
    rows = json.loads(out)
    assert sum(int(r["n"]) for r in rows) >= len(RECENT_IPS)
    assert "client_ip" not in out
