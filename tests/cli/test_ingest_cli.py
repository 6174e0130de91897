"""``accesslake ingest`` and ``nightly``: several files, landing files and ``--complete``, sites by vhost."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from hostile_kit import NOW, at, column, ledger, make_ips, read_rows, run_cli, traffic, write_lines

DAY = NOW - timedelta(days=1)


def test_several_files_are_each_ingested_or_named(tmp_path: Path, lake: Path) -> None:
    good = [write_lines(tmp_path / f"good-{n}.log", traffic(make_ips(f"10.{n}.0", 3), DAY)) for n in (1, 2)]
    bad = write_lines(tmp_path / "junk.log", ["not a log line at all"] * 5)
    truncated = tmp_path / "cut.log.gz"
    truncated.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 20)
    code, out, err = run_cli(at(lake, NOW, "ingest", good[0], bad, truncated, good[1]))
    assert code == 3, out + err
    failed = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 2 and str(bad) in failed[0] and str(truncated) in failed[1], out
    assert sorted(column(lake, "client_ip")) == sorted(make_ips("10.1.0", 3) + make_ips("10.2.0", 3))
    assert sorted(r["source_file"] for r in ledger(lake)) == sorted(map(str, good))
    assert column(lake, "row_id", "rejects") == []  # nothing of the bad files


def test_a_landing_file_waits_for_its_last_line_unless_complete(lake: Path) -> None:
    landing = lake / "landing"
    log = write_lines(landing / "live.log", traffic(make_ips("10.3.0", 4), DAY), end="")
    code, out, err = run_cli(at(lake, NOW, "ingest", log))
    assert code == 0 and "waits" in out, out + err
    assert len(column(lake, "row_id")) == 3
    code, out, err = run_cli(at(lake, NOW, "ingest", "--complete", log))
    assert code == 0, out + err
    assert sorted(column(lake, "client_ip")) == sorted(make_ips("10.3.0", 4))
    elsewhere = write_lines(lake.parent / "copy.log", traffic(make_ips("10.4.0", 2), DAY), end="")
    assert run_cli(at(lake, NOW, "ingest", elsewhere))[0] == 0  # a file named outside landing/ is complete
    assert len(column(lake, "row_id")) == 6


def test_the_nightly_run_can_put_each_virtual_host_in_its_own_site(lake: Path) -> None:
    lines = [f"{host}:80 {line}" for host, line in zip(["a.example", "b.example"] * 3,
                                                        traffic(make_ips("10.5.0", 6), DAY), strict=True)]
    write_lines(lake / "landing" / "vhosts.log", lines)
    code, out, err = run_cli(at(lake, NOW, "nightly", "--format", "vcombined", "--site-from-vhost"))
    assert code == 0, out + err
    table = read_rows(lake)
    assert table is not None
    sites = {p.parent.parent.name for p in (lake / "requests").rglob("*.parquet")}
    assert sites == {"site=a.example", "site=b.example"}
    assert table.num_rows == 6
