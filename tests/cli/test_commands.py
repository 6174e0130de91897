"""Every command reads well: one-line usage errors naming the option, an example in each --help,
``stats`` in words, one step from a log to a report, the demo's nights at 02:30 Europe/Berlin."""

from __future__ import annotations

import json
import re
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hostile_kit import NOW, assert_usage_error, at, combined, make_ips, run_cli, traffic, write_lines

from accesslake.cli.app import EXAMPLES, build_parser
from accesslake.config import Settings
from accesslake.demo.run import night_times

DAY = NOW - timedelta(days=1)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write_lines(tmp_path / "access.log", traffic(make_ips("198.51.100", 12), DAY, step=timedelta(minutes=9)))


# ---------------------------------------------------------------- usage errors and help


@pytest.mark.parametrize(("argv", "option"), [
    (["demo", "--lines", "5"], "--lines"),
    (["demo", "--seed", "-1"], "--seed"),
    (["demo", "--days", "0"], "--days"),
    (["sql", "--limit", "0", "select 1"], "--limit"),
    (["sql", "--format", "xml", "select 1"], "--format"),
    (["messages", "due", "--within", "1e9"], "--within"),
    (["--wait", "-1", "audit"], "--wait"),
    (["stats", "--from", "2026-13-01"], "--from"),
    (["stats", "--site", "../x"], "--site"),
    (["report", "--out", "r.html", "--site", "a b"], "--site"),
    (["marts", "--day", "yesterday"], "--day"),
    (["--json", "sql", "--format", "csv", "select 1"], "--format"),
])
def test_a_bad_option_value_is_one_line_naming_the_option(tmp_path: Path, argv: list[str], option: str) -> None:
    code, out, err = run_cli(at(tmp_path / "lake", NOW, *argv))
    assert_usage_error(code, out, err, option)
    assert not (tmp_path / "lake").exists() or not any((tmp_path / "lake").rglob("*.parquet"))


@pytest.mark.parametrize("command", sorted(EXAMPLES))
def test_each_help_ends_with_an_example_that_parses(command: str) -> None:
    code, out, err = run_cli([command, "--help"])
    assert (code, err) == (0, "")
    assert re.search(rf"example:\s+accesslake {command}\b", out), out[-500:]
    for line in EXAMPLES[command]:
        words = shlex.split(line.split("   #")[0])
        words = words[:words.index(">")] if ">" in words else words
        if words[0] == "accesslake":
            build_parser().parse_args(words[1:])  # raises on an example the parser refuses


def test_every_command_has_an_example() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    missing = []
    for name in sorted(commands):  # type: ignore[arg-type]
        code, out, _ = run_cli([name, "--help"])
        if code != 0 or not re.search(rf"example:\s+accesslake {name}\b", out):
            missing.append(name)
    assert missing == []


def test_the_main_help_shows_the_way_from_a_log_to_a_report() -> None:
    code, out, _ = run_cli(["--help"])
    assert code == 0
    assert "accesslake report access.log --out report.html" in out
    assert "accesslake ingest access.log" in out


# ---------------------------------------------------------------- stats, report: stale days first


def test_stats_builds_the_new_days_first_and_speaks_in_words(tmp_path: Path, log: Path) -> None:
    lake = tmp_path / "lake"
    assert run_cli(at(lake, NOW, "ingest", log))[0] == 0
    code, out, err = run_cli(at(lake, NOW, "stats"))
    assert code == 0, err
    assert "building the statistics of" in err
    assert "None" not in out
    assert out.startswith("all sites, ")
    assert "requests         12" in out
    code, out, err = run_cli(at(lake, NOW, "stats", "--site", "default"))
    assert (code, err) == (0, "")  # nothing stale any more: nothing said
    assert out.startswith("site default, ")
    code, out, err = run_cli(at(lake, NOW, "--json", "stats"))
    stats = json.loads(out)
    assert (stats["site"], stats["requests"], stats["first_day"]) == (None, 12, stats["per_day"][0]["date"])


def test_stats_no_build_reads_the_marts_as_they_are(tmp_path: Path, log: Path) -> None:
    lake = tmp_path / "lake"
    assert run_cli(at(lake, NOW, "ingest", log))[0] == 0
    code, out, err = run_cli(at(lake, NOW, "stats", "--no-build"))
    assert (code, err) == (0, "")
    assert "no statistics" in out and "None" not in out
    assert not (lake / "marts").exists()


def test_ingest_then_report_shows_the_log(tmp_path: Path, log: Path) -> None:
    lake, target = tmp_path / "lake", tmp_path / "r.html"
    assert run_cli(at(lake, NOW, "ingest", log))[0] == 0
    code, out, err = run_cli(at(lake, NOW, "report", "--out", target))
    assert code == 0, err
    assert "building the statistics of" in err
    assert "no statistics yet" not in target.read_text(encoding="utf-8")
    assert json.loads(run_cli(at(lake, NOW, "--json", "stats"))[1])["requests"] == 12


def test_the_one_shot_report_ingests_builds_and_writes(tmp_path: Path, log: Path) -> None:
    lake, target = tmp_path / "lake", tmp_path / "out" / "r.html"
    code, out, err = run_cli(at(lake, NOW, "report", log, "--out", target))
    assert code == 0, err
    assert f"{log}: format combined" in err  # the ingest, said on stderr
    assert target.is_file() and "no statistics yet" not in target.read_text(encoding="utf-8")
    assert json.loads(run_cli(at(lake, NOW, "--json", "stats", "--site", "default"))[1])["requests"] == 12
    code, out, err = run_cli(at(lake, NOW, "report", log, "--out", target))  # again: already ingested
    assert code == 0 and "already ingested" in err


def test_the_one_shot_report_refuses_a_bad_log_and_writes_no_report(tmp_path: Path) -> None:
    junk = write_lines(tmp_path / "junk.log", ["not a log line"] * 3)
    target = tmp_path / "r.html"
    code, out, err = run_cli(at(tmp_path / "lake", NOW, "report", junk, "--out", target))
    assert_usage_error(code, out, err, str(junk))
    assert not target.exists()


# ---------------------------------------------------------------- sql


def test_sql_numbers_are_json_numbers(tmp_path: Path) -> None:
    code, out, err = run_cli(at(tmp_path / "lake", NOW, "--json", "sql",
                                "select 575::hugeint as h, 2.50::decimal(10,2) as d, sum(x) as s "
                                "from (values (1::hugeint), (2::hugeint)) t(x)"))
    assert code == 0, err
    assert json.loads(out) == [{"h": 575, "d": 2.5, "s": 3}]


@pytest.mark.parametrize(("query", "needle"), [
    ("insert into requests select * from requests", "INSERT statements are not allowed"),
    ("select 1; select 2", "exactly one query"),
    ("pivot daily_traffic on site using sum(count_requests)", "PIVOT ... ON column IN"),
    ("select client_ip from requests", "client_ip"),
    ("selec 1", "query failed"),
])
def test_a_refused_query_is_one_line(tmp_path: Path, query: str, needle: str) -> None:
    code, out, err = run_cli(at(tmp_path / "lake", NOW, "sql", query))
    assert_usage_error(code, out, err, needle)


# ---------------------------------------------------------------- the demo's clock


def test_the_demo_nights_are_at_half_past_two_in_berlin() -> None:
    winter = night_times(datetime(2026, 11, 29, 3, 0, tzinfo=UTC), 3)
    assert winter == [datetime(2026, 11, d, 1, 30, tzinfo=UTC) for d in (27, 28, 29)]
    before = night_times(datetime(2026, 11, 29, 1, 29, tzinfo=UTC), 1)  # 02:29 in Berlin: last night's run
    assert before == [datetime(2026, 11, 28, 1, 30, tzinfo=UTC)]
    summer = night_times(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), 2)
    assert summer == [datetime(2026, 6, 30, 0, 30, tzinfo=UTC), datetime(2026, 7, 1, 0, 30, tzinfo=UTC)]


def test_the_demo_prints_its_nights_in_berlin_time(tmp_path: Path) -> None:
    code, out, err = run_cli(at(tmp_path / "demo", datetime(2026, 11, 29, 21, 21, tzinfo=UTC),
                                "demo", "--days", "2", "--lines", "1000"))
    assert code == 0, err
    nights = [line.split(": ingested")[0] for line in out.splitlines() if line.startswith("night ")]
    assert nights == ["night 2026-11-28 02:30 Europe/Berlin", "night 2026-11-29 02:30 Europe/Berlin"]


# ---------------------------------------------------------------- progress


def test_long_library_calls_report_progress(tmp_path: Path) -> None:
    from accesslake.analytics import build_marts

    lake = tmp_path / "lake"
    lines = [combined(ip, DAY - timedelta(days=n)) for n, ip in enumerate(make_ips("198.51.100", 3))]
    assert run_cli(at(lake, NOW, "ingest", write_lines(tmp_path / "a.log", lines)))[0] == 0
    calls: list[tuple[str, int, int | None]] = []
    result = build_marts(Settings(lake=lake), NOW, progress=lambda *call: calls.append(call))
    total = len(result.built) + len(result.skipped)
    assert total >= 3
    assert calls == [("marts", n, total) for n in range(total + 1)]


def test_one_long_ingest_reports_progress_batch_by_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    from accesslake.ingest import ingest_file, reader

    monkeypatch.setattr(reader, "BATCH_BYTES", 64 * 1024)  # many batches from a small file
    lines = [combined(ip, DAY - timedelta(minutes=n)) for n, ip in enumerate(make_ips("198.51.100", 150))] * 30
    plain = write_lines(tmp_path / "big.log", lines)
    packed = tmp_path / "big.log.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    size_mib = -(-plain.stat().st_size // 2**20)
    for path, lake in ((plain, tmp_path / "lake"), (packed, tmp_path / "lake-gz")):
        calls: list[tuple[str, int, int | None]] = []
        record = calls.append
        result = ingest_file(path, Settings(lake=lake), NOW, progress=lambda *call, record=record: record(call))
        assert result.lines_read == len(lines)
        assert len(calls) >= plain.stat().st_size // (64 * 1024)  # once per batch
        done = [c[1] for c in calls]
        assert done == sorted(done)  # never backwards
        if path is plain:
            assert {c[0] for c in calls} == {"ingest big.log (MiB)"} and {c[2] for c in calls} == {size_mib}
            assert done[-1] == size_mib
        else:  # the text size of a gzip file is not known before its end: lines, no total
            assert {c[0] for c in calls} == {"ingest big.log.gz (lines)"} and {c[2] for c in calls} == {None}
            assert done[-1] == len(lines)


def test_no_progress_reaches_a_pipe(tmp_path: Path, log: Path) -> None:
    code, out, err = run_cli(at(tmp_path / "lake", NOW, "report", log, "--out", tmp_path / "r.html"))
    assert code == 0
    assert "\r" not in err and "\x1b" not in err  # no progress bar into a file or pipe



@pytest.mark.parametrize("where", ["before", "after"])
def test_global_options_work_before_or_after_the_command(tmp_path: Path, log: Path, where: str) -> None:
    lake = tmp_path / "lake"
    options = ["--lake", str(lake), "--now", NOW.isoformat(), "--json"]
    argv = [*options, "ingest", str(log)] if where == "before" else ["ingest", str(log), *options]
    code, out, err = run_cli(argv)
    assert (code, err) == (0, "")
    (result,) = json.loads(out)
    assert result["status"] == "ingested" and (lake / "requests").is_dir()  # the lake given was used


def test_an_archive_s_visitors_are_not_known_rather_than_zero(tmp_path: Path) -> None:
    """Lines older than anonymize_after lose their IPs before they are written (P3): the visitor figures of
    their days cannot be counted, and stats and the report say so instead of printing 0."""
    lake, target = tmp_path / "lake", tmp_path / "r.html"
    old = write_lines(tmp_path / "old.log", traffic(make_ips("198.51.100", 12), NOW - timedelta(days=30)))
    recent = write_lines(tmp_path / "new.log", traffic(make_ips("203.0.113", 5), DAY, step=timedelta(minutes=9)))
    assert run_cli(at(lake, NOW, "ingest", old, recent))[0] == 0

    stats = json.loads(run_cli(at(lake, NOW, "--json", "stats"))[1])
    assert stats["visitor_days_unknown"] == 2  # the archive's two days
    assert stats["unique_visitors"] == 5  # the recent day alone, its visitors known
    text = run_cli(at(lake, NOW, "stats", "--from", "2026-10-30", "--to", "2026-10-31"))[1]
    assert "visits           not known" in text and "never stored" in text
    assert run_cli(at(lake, NOW, "report", "--out", target))[0] == 0
    assert 'data-key="unknown_visitor_days" data-value="2"' in target.read_text(encoding="utf-8")
