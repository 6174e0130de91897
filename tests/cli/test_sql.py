"""``accesslake sql`` output people can read: whole values, CSV that round-trips, quiet broken pipes."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from hostile_kit import NOW, REPO, at, cli_command, combined, make_ips, run_cli, traffic, write_lines

from accesslake.cli.output import Output

IPV6 = [f"2001:db8:85a3:0:0:8a2e:370:{n:04x}" for n in range(0x7330, 0x7336)]
FIFTEEN = ("client_ip, site, date, ts, method, path, protocol, status, bytes, referrer, user_agent, "
           "browser, os, device, source_line")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Recent IPv6 and IPv4 traffic (still personal: the forensic views show it), 1,500 rows in all."""
    root = tmp_path_factory.mktemp("sql")
    lake = root / "lake"
    start = NOW - timedelta(hours=20)
    lines = [combined(ip, start + timedelta(minutes=n), path=f"/a,b/{n}", referrer='https://x.example/?a=1,b')
             for n, ip in enumerate(IPV6)]
    lines += traffic(make_ips("198.51.100", 150) * 10, start, step=timedelta(seconds=30))
    assert run_cli(at(lake, NOW, "ingest", write_lines(root / "access.log", lines)))[0] == 0
    return lake


@pytest.mark.parametrize("narrow", [False, True], ids=["pipe", "80-column terminal"])
def test_a_fifteen_column_forensic_result_shows_whole_ipv6_addresses(lake: Path, narrow: bool,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    if narrow:
        monkeypatch.setattr(Output, "width", lambda self: 80)
    query = f"select {FIFTEEN} from forensic_requests where client_ip like '2001:%' order by ts"
    code, out, err = run_cli(at(lake, NOW, "sql", "--forensic", query))
    assert code == 0, err
    assert [ip for ip in IPV6 if ip not in out] == []
    assert all(name.strip() in out for name in FIFTEEN.split(","))
    if narrow:
        assert max(len(line) for line in out.splitlines()) <= 80
        assert "…" not in out


def test_csv_round_trips_and_matches_json(lake: Path) -> None:
    query = "select * from requests order by row_id"
    code, out, err = run_cli(at(lake, NOW, "sql", "--format", "csv", query))
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    code, out, err = run_cli(at(lake, NOW, "--json", "sql", query))
    expected = json.loads(out)
    assert len(rows) == len(expected) == 1506
    assert [r["path"] for r in rows] == [e["path"] for e in expected]
    assert [int(r["bytes"]) for r in rows] == [e["bytes"] for e in expected]
    assert [r["referrer_host"] or None for r in rows] == [e["referrer_host"] for e in expected]


def test_the_table_shows_fifty_rows_and_says_there_are_more(lake: Path) -> None:
    code, out, err = run_cli(at(lake, NOW, "sql", "select row_id from requests"))
    assert code == 0
    assert sum(1 for line in out.splitlines() if ":" in line) == 50
    assert "showing the first 50 rows" in err
    code, out, err = run_cli(at(lake, NOW, "sql", "--limit", "2000", "select row_id from requests"))
    assert sum(1 for line in out.splitlines() if ":" in line) == 1506 and err == ""


@pytest.mark.parametrize("fmt", ["table", "csv"])  # json: tests/cli/test_hostile_cli.py
def test_a_big_output_into_a_pipe_closed_early_is_quiet(lake: Path, fmt: str) -> None:
    argv = at(lake, NOW, "sql", "--format", fmt, "--limit", "100000", "select * from requests")
    child = subprocess.Popen([*cli_command(), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    assert child.stdout is not None and child.stderr is not None
    first = child.stdout.readline()  # `| head -1`
    child.stdout.close()
    err = child.stderr.read().decode(errors="replace")
    code = child.wait(timeout=120)
    assert first.strip()
    assert err == "", err[-2000:]
    assert code in (0, 141, -signal.SIGPIPE)
