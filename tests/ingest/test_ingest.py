"""Ingest: files to the lake, the ledger, re-ingest, growth, errors, and privacy on write."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from accesslake.config import Settings
from accesslake.errors import FormatError, InputError
from accesslake.ingest import IngestResult, ingest_file, ledger_records
from accesslake.ingest import reader as ingest_reader

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
OLD = datetime(2020, 10, 10, 13, 55, 36, tzinfo=UTC)


def clf(t: datetime) -> str:
    return f"{t:%d}/{MONTHS[t.month - 1]}/{t:%Y:%H:%M:%S} +0000"


def entry(n: int, t: datetime = OLD, host: str = "192.0.2.1", path: str | None = None) -> str:
    return (f'{host} - - [{clf(t)}] "GET {path or f"/page/{n}"} HTTP/1.1" 200 {100 + n} '
            f'"https://ref.example/from?x={n}" "Mozilla/5.0 (X11; Linux x86_64) Firefox/{n}"')


def write(path: Path, lines: list[str], *, end: str = "\n", compress: bool = False) -> Path:
    data = ("\n".join(lines) + end).encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def append(path: Path, text: str) -> None:
    with path.open("ab") as fh:
        fh.write(text.encode())


def requests(lake: Path) -> pl.DataFrame:
    return pl.read_parquet(lake / "requests" / "**" / "*.parquet", hive_partitioning=True).sort("source_line")


def rejects(lake: Path) -> pl.DataFrame:
    return pl.read_parquet(lake / "rejects" / "**" / "*.parquet", hive_partitioning=True).sort("source_line")


def snapshot(lake: Path) -> dict[str, str]:
    return {str(p.relative_to(lake)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(lake.rglob("*")) if p.is_file()}


def parquet_files(lake: Path) -> list[Path]:
    return sorted(lake.rglob("*.parquet"))


# ----------------------------------------------------------------- the happy path


def test_rows_land_in_site_and_utc_date_partitions(tmp_path: Path, settings: Settings, now: datetime) -> None:
    times = [OLD, OLD + timedelta(days=1), OLD, OLD + timedelta(hours=11)]  # out of order, across midnight
    log = write(tmp_path / "access.log", [entry(n, t) for n, t in enumerate(times, 1)])
    result = ingest_file(log, settings, now, site="shop")
    assert (result.status, result.format, result.detected) == ("ingested", "combined", True)
    assert (result.lines_read, result.rows, result.rejects) == (4, 4, 0)
    assert result.days == ["2020-10-10", "2020-10-11"]
    assert sorted(str(p.parent.relative_to(settings.lake)) for p in parquet_files(settings.lake)) == [
        "requests/site=shop/date=2020-10-10", "requests/site=shop/date=2020-10-11"
    ]
    rows = requests(settings.lake)
    assert rows["ts"].to_list() == times
    assert (rows["date"] == rows["ts"].dt.date()).all()
    assert rows["row_id"].to_list() == [f"{result.file_key}:{n}" for n in range(1, 5)]
    assert rows["source_file"].unique().to_list() == [str(log)]
    (record,) = ledger_records(settings.lake)
    assert (record["lines_read"], record["rows"], record["rejects"], record["site"]) == (4, 4, 0, "shop")
    assert "4 lines read = 4 rows + 0 held + 0 rejected" in result.summary()
    assert not list((settings.lake / "_tmp").rglob("*.parquet"))


def test_a_gzip_file_is_read_like_a_plain_one(tmp_path: Path, settings: Settings, now: datetime) -> None:
    log = write(tmp_path / "access.log.1.gz", [entry(n) for n in range(1, 8)], compress=True)
    result = ingest_file(log, settings, now)
    assert (result.compressed, result.lines_read, result.rows) == (True, 7, 7)


def test_row_ids_are_stable_across_lakes_and_file_names(tmp_path: Path, now: datetime) -> None:
    lines = [entry(n) for n in range(1, 6)]
    a = ingest_file(write(tmp_path / "a.log", lines), Settings(lake=tmp_path / "lake1"), now)
    b = ingest_file(write(tmp_path / "b.log", lines, compress=True), Settings(lake=tmp_path / "lake2"), now)
    assert a.file_key == b.file_key
    assert requests(tmp_path / "lake1")["row_id"].to_list() == requests(tmp_path / "lake2")["row_id"].to_list()
    other = ingest_file(write(tmp_path / "c.log", [entry(9)] + lines), Settings(lake=tmp_path / "lake3"), now)
    assert other.file_key != a.file_key


def test_rejects_are_kept_and_counted(tmp_path: Path, settings: Settings, now: datetime) -> None:
    lines = [entry(1), "xxxxxxxxxxxx", entry(3), "", entry(5)]
    result = ingest_file(write(tmp_path / "access.log", lines), settings, now)
    assert (result.lines_read, result.rows, result.rejects) == (5, 3, 2)
    got = rejects(settings.lake)
    assert got.select("source_line", "line", "reason").rows() == [
        (2, "xxxxxxxxxxxx", "does not match format combined"), (4, "", "empty line")
    ]
    (record,) = ledger_records(settings.lake)
    assert record["rows"] + record["rejects"] == record["lines_read"] == 5


def test_exactly_half_rejected_is_still_accepted(tmp_path: Path, settings: Settings, now: datetime) -> None:
    result = ingest_file(write(tmp_path / "access.log", [entry(1), "junk", entry(3), "junk"]), settings, now)
    assert (result.rows, result.rejects) == (2, 2)


def test_many_batches_give_the_same_rows(tmp_path: Path, now: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [entry(n, OLD + timedelta(minutes=n)) for n in range(1, 25)] + ["junk"]
    log = write(tmp_path / "access.log", lines, end="")  # the last line is unterminated
    whole = ingest_file(log, Settings(lake=tmp_path / "one"), now)
    monkeypatch.setattr(ingest_reader, "BATCH_BYTES", 100)  # smaller than a line
    pieces = ingest_file(log, Settings(lake=tmp_path / "many"), now)
    assert (pieces.lines_read, pieces.rows, pieces.rejects) == (whole.lines_read, whole.rows, whole.rejects) == (
        25, 24, 1)
    assert len(parquet_files(tmp_path / "many")) > len(parquet_files(tmp_path / "one"))
    columns = ["row_id", "source_line", "ts", "path", "bytes"]
    assert requests(tmp_path / "many").select(columns).equals(requests(tmp_path / "one").select(columns))


# ----------------------------------------------------------------- re-ingest, growth, partial lines


def test_reingest_is_a_no_op_that_says_so(tmp_path: Path, settings: Settings, now: datetime) -> None:
    log = write(tmp_path / "access.log", [entry(n) for n in range(1, 4)])
    ingest_file(log, settings, now)
    before = snapshot(settings.lake)
    again = ingest_file(log, settings, now + timedelta(hours=1))
    assert again.status == "unchanged"
    assert again.summary() == f"{log}: already ingested (3 lines); nothing to do"
    assert (again.lines_read, again.rows) == (0, 0)
    assert snapshot(settings.lake) == before  # no file added or changed, ledger included


def test_a_rotated_compressed_copy_is_recognised(tmp_path: Path, settings: Settings, now: datetime,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_reader, "BATCH_BYTES", 64)  # skip the ingested part in many small reads
    lines = [entry(n) for n in range(1, 8)]
    live = write(tmp_path / "access.log", lines[:4])
    ingest_file(live, settings, now)
    rotated = write(tmp_path / "access.log.1.gz", lines, compress=True)  # grew, then logrotate compressed it
    result = ingest_file(rotated, settings, now)
    assert (result.status, result.lines_before, result.lines_read, result.rows) == ("grown", 4, 3, 3)
    assert requests(settings.lake)["source_line"].to_list() == list(range(1, 8))
    assert ingest_file(rotated, settings, now).status == "unchanged"


def test_a_grown_file_ingests_only_its_new_lines(tmp_path: Path, settings: Settings, now: datetime) -> None:
    log = write(tmp_path / "access.log", [entry(n) for n in range(1, 6)])
    first = ingest_file(log, settings, now)
    old_rows = requests(settings.lake)
    old_files = {k: v for k, v in snapshot(settings.lake).items() if k.endswith(".parquet")}

    append(log, "\n".join(entry(n) for n in range(6, 9)) + "\n")
    grown = ingest_file(log, settings, now)
    assert (grown.status, grown.lines_before, grown.lines_read, grown.rows) == ("grown", 5, 3, 3)
    assert grown.file_key == first.file_key
    assert "3 lines read, 5 already ingested = 3 rows" in grown.summary()
    rows = requests(settings.lake)
    assert rows["source_line"].to_list() == list(range(1, 9))
    assert rows["row_id"].n_unique() == 8
    assert rows.head(5).select(old_rows.columns).equals(old_rows)  # earlier rows and ids unchanged
    assert old_files.items() <= snapshot(settings.lake).items()  # earlier files untouched
    assert [r["status"] for r in ledger_records(settings.lake)] == ["ingested", "grown"]
    assert ingest_file(log, settings, now).summary() == f"{log}: already ingested (8 lines); nothing to do"


def test_an_unterminated_last_line_waits_until_completed(tmp_path: Path, settings: Settings, now: datetime) -> None:
    full = entry(4, path="/the/completed/line")
    log = write(tmp_path / "access.log", [entry(1), entry(2), entry(3), full[:40]], end="")
    held = ingest_file(log, settings, now, hold_partial_line=True)
    assert (held.lines_read, held.rows, held.pending_partial_line) == (3, 3, True)
    assert ingest_file(log, settings, now, hold_partial_line=True).status == "unchanged"
    assert requests(settings.lake)["source_line"].to_list() == [1, 2, 3]

    append(log, full[40:] + "\n")
    done = ingest_file(log, settings, now, hold_partial_line=True)
    assert (done.status, done.lines_read, done.rows, done.rejects, done.pending_partial_line) == (
        "grown", 1, 1, 0, False)
    rows = requests(settings.lake)
    assert rows["source_line"].to_list() == [1, 2, 3, 4]
    assert rows["path"][3] == "/the/completed/line"


def test_without_holding_the_unterminated_last_line_is_read(tmp_path: Path, settings: Settings,
                                                            now: datetime) -> None:
    log = write(tmp_path / "access.log", [entry(1), entry(2)], end="")
    assert ingest_file(log, settings, now).lines_read == 2


def test_a_gzip_file_never_holds_its_last_line(tmp_path: Path, settings: Settings, now: datetime) -> None:
    # A compressed file cannot be completed later: holding its last line would lose it.
    log = write(tmp_path / "access.log.gz", [entry(1), entry(2), entry(3)], end="", compress=True)
    result = ingest_file(log, settings, now, hold_partial_line=True)
    assert (result.lines_read, result.rows, result.pending_partial_line) == (3, 3, False)


def test_an_empty_file_is_nothing_to_do(tmp_path: Path, settings: Settings, now: datetime) -> None:
    result = ingest_file(write(tmp_path / "empty.log", [], end=""), settings, now)
    assert result.status == "empty"
    assert result.summary().endswith("empty file; nothing to do")
    assert not parquet_files(settings.lake) and not ledger_records(settings.lake)


# ----------------------------------------------------------------- errors: one clear message, nothing written


def _missing(tmp: Path) -> Path:
    return tmp / "no-such.log"


def _directory(tmp: Path) -> Path:
    (tmp / "a-folder.log").mkdir()
    return tmp / "a-folder.log"


def _corrupt_gzip(tmp: Path) -> Path:
    (tmp / "corrupt.log.gz").write_bytes(b"\x1f\x8b" + b"this is not deflate data" * 10)
    return tmp / "corrupt.log.gz"


def _truncated_gzip(lines: int) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        data = gzip.compress(("\n".join(entry(n) for n in range(1, lines + 1)) + "\n").encode(), mtime=0)
        (tmp / "truncated.log.gz").write_bytes(data[: len(data) * 3 // 4])
        return tmp / "truncated.log.gz"

    return make


def _lines(lines: list[str]) -> Callable[[Path], Path]:
    return lambda tmp: write(tmp / "input.log", lines)


JUNK = ["xxxxxxxxxxxx"] * 50


@pytest.mark.parametrize(
    ("make", "fmt", "error", "message"),
    [
        (_missing, None, InputError, "{path}: cannot read (No such file or directory); check the path and permissions"),
        (_directory, None, InputError, "{path}: cannot read (Is a directory); check the path and permissions"),
        (_corrupt_gzip, None, InputError,
         "{path}: cannot decompress (Unknown compression method); is the file complete?"),
        (_truncated_gzip(30), None, InputError,
         "{path}: cannot decompress (Compressed file ended before the end-of-stream marker was reached); "
         "is the file complete?"),
        (_truncated_gzip(2000), None, InputError,
         "{path}: cannot read or decompress (Compressed file ended before the end-of-stream marker was reached); "
         "is the file complete?"),
        (_lines(JUNK), None, InputError,
         "{path}: cannot detect the log format (no preset matches its first lines); pass --format with a preset"),
        (_lines(JUNK), "combined", InputError,
         "{path}: 50 of 50 lines do not parse as format combined (line 1: does not match format combined); "
         "nothing was written. Pass the right --format, or raise [ingest] max_reject_ratio"),
        (_lines([entry(1)] + JUNK[:3]), None, InputError,
         "{path}: 3 of 4 lines do not parse as format combined (line 2: does not match format combined); "
         "nothing was written."),
        (_lines([entry(n) for n in range(1, 5)]), "common", InputError,
         "{path}: 4 of 4 lines do not parse as format common"),
        (_lines([entry(1)]), "%h %l %u %t \"%r\" %>s %b %Z", FormatError,
         "--format at column 25: unknown Apache directive %Z"),
        (_lines([entry(1)]), "$remote_addr - $remote_user [$time_local] $bogus", FormatError,
         "--format at column 43: unknown nginx variable $bogus"),
        (_lines([entry(1)]), "", FormatError, "--format: empty format"),
    ],
    ids=["missing", "directory", "corrupt-gzip", "truncated-gzip-head", "truncated-gzip-body", "junk-detect",
         "junk-given", "mostly-junk", "wrong-format", "apache-directive", "nginx-variable", "empty-format"],
)
def test_errors_name_the_fault_and_write_nothing(
    tmp_path: Path, settings: Settings, now: datetime, make: Callable[[Path], Path], fmt: str | None,
    error: type[Exception], message: str,
) -> None:
    path = make(tmp_path)
    with pytest.raises(error) as info:
        ingest_file(path, settings, now, fmt=fmt)
    assert message.format(path=path) in str(info.value)
    assert not parquet_files(settings.lake)
    assert not ledger_records(settings.lake)
    assert not (settings.lake / "audit").exists()


# ----------------------------------------------------------------- privacy on write (rules P3, A1-A4)

SECRETS = ("198.51.100.23", "2001:db8:abcd::17", "203.0.113.77", "SESSIONTOKEN42", "alice", "SECRETQUERY")
CUSTOM = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %{sid}C "%{X-Forwarded-For}i"'


def test_an_old_archive_leaves_no_personal_data_on_disk(tmp_path: Path, settings: Settings, now: datetime) -> None:
    lines = [
        f'{host} - alice [{clf(OLD)}] "GET /login?token=SECRETQUERY HTTP/1.1" 302 0 '
        f'"https://shop.example/cart?user=alice" "Mozilla/5.0" SESSIONTOKEN42 "203.0.113.77, 10.1.2.3"'
        for host in ("198.51.100.23", "2001:db8:abcd::17")
    ]
    result = ingest_file(write(tmp_path / "old.log", lines), settings, now, fmt=CUSTOM)
    assert (result.rows, result.anonymized_on_write) == (2, 2)
    rows = requests(settings.lake)
    personal = ["client_ip", "session_id", "remote_user", "forwarded_for", "query", "user_agent"]
    assert rows.select(pl.col(personal).null_count()).row(0) == (2,) * len(personal)
    assert rows["referrer"].to_list() == ["https://shop.example"] * 2
    assert rows["anonymized_at"].to_list() == [now] * 2
    for path in settings.lake.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [s for s in SECRETS if s.encode() in data], path


def test_the_same_lines_recently_keep_their_personal_data(tmp_path: Path, settings: Settings) -> None:
    # The control for the test above: at the time of the log nothing is anonymised.
    line = (f'198.51.100.23 - alice [{clf(OLD)}] "GET /login?token=SECRETQUERY HTTP/1.1" 302 0 "-" "Mozilla/5.0" '
            f'SESSIONTOKEN42 "203.0.113.77"')
    ingest_file(write(tmp_path / "new.log", [line]), settings, OLD + timedelta(hours=1), fmt=CUSTOM)
    row = requests(settings.lake).row(0, named=True)
    assert (row["client_ip"], row["session_id"], row["remote_user"], row["forwarded_for"], row["query"]) == (
        "198.51.100.23", "SESSIONTOKEN42", "alice", "203.0.113.77", "token=SECRETQUERY")


def test_only_rows_past_anonymize_after_are_anonymised(tmp_path: Path, settings: Settings, now: datetime) -> None:
    limit = settings.policy.anonymize_after
    times = [now - limit - timedelta(seconds=1), now - limit, now - limit + timedelta(seconds=1), now]
    result = ingest_file(write(tmp_path / "access.log", [entry(n, t) for n, t in enumerate(times, 1)]),
                         settings, now)
    assert result.anonymized_on_write == 2
    assert requests(settings.lake)["client_ip"].to_list() == [None, None, "192.0.2.1", "192.0.2.1"]


def test_a_late_rejected_line_with_an_ip_is_scrubbed(tmp_path: Path, settings: Settings, now: datetime) -> None:
    late = f'198.51.100.23 - - [{clf(OLD)}] "GET / HTTP/1.1" abc 12 "-" "via 2001:db8:abcd::17"'
    recent = f'192.0.2.99 - - [{clf(now - timedelta(hours=1))}] "GET / HTTP/1.1" abc 12 "-" "-"'
    untimed = "192.0.2.77 sent garbage"
    lines = [entry(n) for n in range(1, 5)] + [late, recent, untimed]
    result = ingest_file(write(tmp_path / "access.log", lines), settings, now)
    assert (result.rows, result.rejects, result.scrubbed_rejects) == (4, 3, 1)
    got = {r["source_line"]: r for r in rejects(settings.lake).iter_rows(named=True)}
    scrubbed = got[5]
    assert scrubbed["line"].startswith("[host] - - [")
    assert "198.51.100.23" not in scrubbed["line"] and "2001:db8:abcd::17" not in scrubbed["line"]
    assert scrubbed["scrubbed_at"] == now
    # Not yet due: a recent line, and a line without a time (its deadline counts from receipt, rule T3).
    assert (got[6]["line"], got[6]["scrubbed_at"]) == (recent, None)
    assert (got[7]["line"], got[7]["scrubbed_at"]) == (untimed, None)
    raw = b"".join(p.read_bytes() for p in settings.lake.rglob("*") if p.is_file())
    assert b"198.51.100.23" not in raw and b"2001:db8:abcd::17" not in raw


def test_the_ingest_result_is_the_ledger_record(tmp_path: Path, settings: Settings, now: datetime) -> None:
    result = ingest_file(write(tmp_path / "access.log", [entry(1), "junk", entry(3)]), settings, now)
    (record,) = ledger_records(settings.lake)
    expected = {k: v for k, v in vars(result).items() if k != "files"}
    assert record == expected
    assert isinstance(result, IngestResult)


def test_a_grown_file_with_one_junk_line_is_judged_over_the_whole_file(tmp_path: Path, settings, now) -> None:
    from accesslake.ingest import ingest_file

    log = tmp_path / "live.log"
    good = '203.0.113.7 - - [29/Nov/2026:01:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8"\n'
    log.write_text(good * 50)
    ingest_file(log, settings, now)
    with log.open("a") as fh:
        fh.write("garbage that is not a log line\n")
    grown = ingest_file(log, settings, now)
    assert (grown.status, grown.lines_read, grown.rows, grown.rejects) == ("grown", 1, 0, 1)
