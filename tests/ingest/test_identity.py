"""Which file is this (issue 11): identity by content, partial last lines, the site a file belongs to.

A file continues a file the ledger knows only while it starts with every byte ingest saw of it;
a last line without newline waits until the file is complete (gzip, unchanged for SETTLE, or
``ingest --complete``) and is counted once; a file keeps the site it was first ingested under.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
from hostile_kit import NOW, at, combined, make_ips, run_cli, traffic, write_lines

from accesslake.config import Settings
from accesslake.ingest import SETTLE, ingest_file, landing_state, ledger_records

DAY = NOW - timedelta(days=1)


def rows(lake: Path) -> pl.DataFrame:
    return pl.read_parquet(lake / "requests" / "**" / "*.parquet", hive_partitioning=True).sort("source_line")


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)


def audit_passes(lake: Path, now: datetime = NOW) -> None:
    code, out, err = run_cli(at(lake, now, "audit"))
    assert code == 0, out + err


# ---------------------------------------------------------------- identity by content


def test_files_that_share_their_first_64_kib_each_ingest_every_line(tmp_path: Path, settings: Settings) -> None:
    shared = [combined("10.0.0.100", DAY + timedelta(seconds=n), path=f"/shared/{n}") for n in range(600)]
    assert len("\n".join(shared)) > 64 * 1024
    a = write_lines(tmp_path / "a.log", shared + traffic(make_ips("10.1.0", 5), DAY))
    b = write_lines(tmp_path / "b.log", shared + traffic(make_ips("10.2.0", 7), DAY))
    first, second = ingest_file(a, settings, NOW), ingest_file(b, settings, NOW)
    assert (first.lines_read, second.lines_before, second.lines_read) == (605, 0, 607)
    assert first.file_key != second.file_key  # the second one's key is salted: the plain one is taken
    stored = rows(settings.lake)
    assert stored.height == stored["row_id"].n_unique() == 1212
    assert set(make_ips("10.2.0", 7)) <= set(stored["client_ip"])
    audit_passes(settings.lake)


def test_a_file_rewritten_under_its_name_is_a_new_file_not_read_from_the_old_offset(tmp_path: Path,
                                                                                     settings: Settings) -> None:
    header = combined("192.0.2.1", DAY, path="/same/first/line")
    log = write_lines(tmp_path / "access.log", [header] + traffic(make_ips("10.1.0", 4), DAY))
    ingest_file(log, settings, NOW)
    write_lines(log, [header] + traffic(make_ips("10.2.0", 7), DAY + timedelta(minutes=1)))
    again = ingest_file(log, settings, NOW)
    assert (again.status, again.lines_before, again.lines_read, again.rows, again.rejects) == ("ingested", 0, 8, 8, 0)
    assert set(make_ips("10.2.0", 7)) <= set(rows(settings.lake)["client_ip"])


def test_a_grown_and_recompressed_copy_continues_its_file(tmp_path: Path, settings: Settings) -> None:
    lines = traffic(make_ips("10.3.0", 9), DAY, step=timedelta(minutes=1))
    first = ingest_file(write_lines(tmp_path / "access.log", lines[:4]), settings, NOW)
    rotated = ingest_file(write_lines(tmp_path / "access.log.1.gz", lines, compress=True), settings, NOW)
    assert (rotated.status, rotated.file_key, rotated.lines_before, rotated.lines_read) == (
        "grown", first.file_key, 4, 5)
    record = ledger_records(settings.lake)[-1]
    assert (record["offset"], record["seen_bytes"]) == (len(("\n".join(lines) + "\n").encode()),) * 2


def test_a_last_line_finished_without_newline_is_counted_once(tmp_path: Path, settings: Settings) -> None:
    lines = traffic(make_ips("10.4.0", 3), DAY)
    log = write_lines(tmp_path / "access.log", lines, end="")  # read as complete: the last line too
    assert ingest_file(log, settings, NOW).lines_read == 3
    append(log, "\n")  # the newline that was missing: the same lines
    assert ingest_file(log, settings, NOW).status == "unchanged"
    assert landing_state(log, ledger_records(settings.lake))[1] is True
    append(log, lines[0] + "\n")  # more than the newline: the line read as the last was not the last
    other = ingest_file(log, settings, NOW)
    assert (other.lines_before, other.lines_read) == (0, 4)  # so this is another file, read whole


# ---------------------------------------------------------------- a last line without newline


def test_a_held_last_line_is_read_once_the_file_is_unchanged_for_the_settle_time(tmp_path: Path,
                                                                                 settings: Settings) -> None:
    log = write_lines(tmp_path / "live.log", traffic(make_ips("10.5.0", 4), DAY), end="")
    first = ingest_file(log, settings, NOW, hold_partial_line=True)
    assert (first.lines_read, first.pending_partial_line) == (3, True)
    assert ingest_file(log, settings, NOW + SETTLE - timedelta(seconds=1), hold_partial_line=True).status == "unchanged"
    done = ingest_file(log, settings, NOW + SETTLE, hold_partial_line=True)
    assert (done.status, done.lines_read, done.rows, done.pending_partial_line) == ("grown", 1, 1, False)
    assert ingest_file(log, settings, NOW + timedelta(days=1), hold_partial_line=True).status == "unchanged"
    assert rows(settings.lake)["source_line"].to_list() == [1, 2, 3, 4]
    assert landing_state(log, ledger_records(settings.lake))[1] is True


def test_a_last_line_still_being_written_waits_until_it_is_complete(tmp_path: Path, settings: Settings) -> None:
    full = combined("10.6.0.9", DAY, path="/the/whole/line")
    log = write_lines(tmp_path / "live.log", traffic(make_ips("10.6.0", 2), DAY) + [full[:30]], end="")
    assert ingest_file(log, settings, NOW, hold_partial_line=True).lines_read == 2
    append(log, full[30:50])  # still no newline, but it changed: not settled
    waiting = ingest_file(log, settings, NOW + timedelta(hours=1), hold_partial_line=True)
    assert (waiting.status, waiting.lines_read, waiting.pending_partial_line) == ("waiting", 0, True)
    assert "no newline yet" in waiting.summary()
    append(log, full[50:] + "\n")
    done = ingest_file(log, settings, NOW + timedelta(hours=1, minutes=1), hold_partial_line=True)
    assert (done.lines_read, done.rows, done.rejects) == (1, 1, 0)
    assert rows(settings.lake)["path"].to_list()[-1] == "/the/whole/line"


def test_a_file_of_one_unterminated_line_is_finished_too(tmp_path: Path, settings: Settings) -> None:
    log = tmp_path / "one.log"
    log.write_text(combined("10.7.0.1", DAY), encoding="utf-8")
    waiting = ingest_file(log, settings, NOW, hold_partial_line=True)
    assert (waiting.status, waiting.lines_read) == ("waiting", 0)
    assert landing_state(log, ledger_records(settings.lake))[1] is False
    done = ingest_file(log, settings, NOW + timedelta(hours=1), hold_partial_line=True)
    assert (done.lines_read, done.rows, done.file_key) == (1, 1, waiting.file_key)
    assert landing_state(log, ledger_records(settings.lake))[1] is True


# ---------------------------------------------------------------- the site of a file


def test_a_file_keeps_the_site_it_was_first_ingested_under(tmp_path: Path, settings: Settings) -> None:
    lines = traffic(make_ips("10.8.0", 6), DAY)
    log = write_lines(tmp_path / "access.log", lines[:3])
    ingest_file(log, settings, NOW, site="www")
    append(log, "\n".join(lines[3:]) + "\n")
    grown = ingest_file(log, settings, NOW, site="shop")
    assert (grown.site, grown.lines_read) == ("www", 3)
    assert "first ingested" in grown.summary()
    assert rows(settings.lake)["site"].unique().to_list() == ["www"]


VHOSTS = ["www.a.example", "Shop.B.example.", "bad/host", "-"]


def test_site_from_vhost_puts_each_host_in_a_site_of_its_own(tmp_path: Path, settings: Settings) -> None:
    lines = [f"{VHOSTS[n % 4]}:443 {line}" for n, line in enumerate(traffic(make_ips("10.9.0", 8), DAY))]
    log = write_lines(tmp_path / "vhosts.log", lines)
    result = ingest_file(log, settings, NOW, site="hosting", fmt="vcombined", site_from_vhost=True)
    assert result.sites == {"www.a.example": 2, "shop.b.example": 2, "hosting": 4}
    stored = rows(settings.lake)
    by_site = dict(stored.group_by("site").agg(pl.col("vhost").unique().sort()).iter_rows())
    assert by_site == {"www.a.example": ["www.a.example"], "shop.b.example": ["shop.b.example."],
                       "hosting": [None, "bad/host"]}
    audit_passes(settings.lake)
    code, out, err = run_cli(at(settings.lake, NOW, "ingest", log, "--site-from-vhost", "--format", "vcombined"))
    assert code == 0 and "already ingested" in out, out + err


def test_a_host_that_is_an_ip_address_is_no_site(tmp_path: Path, settings: Settings) -> None:
    """A client asking for the server by address logs an IP as the host: no site (a folder) is named after it."""
    hosts = ["198.51.100.7", "www.a.example"]
    lines = [f"{hosts[n % 2]}:443 {line}" for n, line in enumerate(traffic(make_ips("10.9.0", 4), DAY))]
    log = write_lines(tmp_path / "by-address.log", lines)
    result = ingest_file(log, settings, NOW, site="hosting", fmt="vcombined", site_from_vhost=True)
    assert result.sites == {"hosting": 2, "www.a.example": 2}
