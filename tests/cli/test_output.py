"""The one output path: tables that never cut a value, exact JSON numbers, CSV and Markdown, progress."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl
import pytest

from accesslake.cli.output import Output, display, plain, render_table
from accesslake.cli.progress import TerminalProgress
from accesslake.cli.results import print_result

IPV6 = "2001:0db8:85a3:0000:0000:8a2e:0370:7334"
COLUMNS = [f"column_{n:02d}" for n in range(15)]


def fifteen_columns() -> list[list[object]]:
    return [[IPV6 if n == 7 else f"value-{row}-{n}" for n in range(15)] for row in range(3)]


@pytest.mark.parametrize("width", [1_000_000, 200, 80, 40])
def test_a_wide_table_shows_every_value_whole_at_any_width(width: int) -> None:
    text = render_table(COLUMNS, fifteen_columns(), width=width)
    assert text.count(IPV6) == 3, text
    for row in range(3):
        for n in range(15):
            assert (IPV6 if n == 7 else f"value-{row}-{n}") in text
    assert all(name in text for name in COLUMNS)
    assert "…" not in text
    if width in (80, 200):  # (narrower: a block per row, whose long lines the terminal wraps)
        assert max(len(line) for line in text.splitlines()) <= width


def test_a_table_that_fits_is_aligned_in_columns() -> None:
    text = render_table(["site", "requests"], [["www", 5], ["shop", 12345]], right=["requests"])
    lines = text.splitlines()
    assert [line.split() for line in lines if line.strip() and not set(line) <= {"─", "-", " "}] == [
        ["site", "requests"], ["www", "5"], ["shop", "12345"]]
    assert lines[2].index("5") == lines[3].index("12345") + 4  # numbers aligned right


def test_control_characters_are_escaped_for_a_person() -> None:
    assert display("a\x1b[31mred\nnext\x00") == "a\\x1b[31mred\\nnext\\x00"
    text = render_table(["path"], [["/x\x1b]0;owned\x07"]])
    assert "\x1b" not in text and "\x07" not in text and "\\x1b]0;owned\\x07" in text


def test_json_numbers_are_numbers() -> None:
    assert plain({"a": Decimal("575"), "b": Decimal("2.50"), "c": float("nan"), "d": date(2026, 1, 2),
                  "e": [Decimal("12345678901234567890123")]}) == {
        "a": 575, "b": 2.5, "c": None, "d": "2026-01-02", "e": [12345678901234567890123]}


def frame() -> pl.DataFrame:
    return pl.DataFrame({
        "name": ["plain", 'quote " and, comma', "new\nline", None, "pipe | bar"],
        "n": [1, 2, 3, None, 5],
        "share": [0.5, None, 0.25, 1.0, 0.125],
        "at": [datetime(2026, 11, 29, 3, 0, tzinfo=UTC)] * 5,
        "tags": [["a", "b"], [], None, ["c"], ["d"]],
    })


def printed(fmt: str, capsys: pytest.CaptureFixture[str], data: pl.DataFrame | None = None) -> str:
    print_result(Output(False), frame() if data is None else data, fmt, more=False)
    return capsys.readouterr().out


def test_csv_round_trips_through_a_csv_reader(capsys: pytest.CaptureFixture[str]) -> None:
    rows = list(csv.reader(io.StringIO(printed("csv", capsys))))
    source = frame()
    assert rows[0] == source.columns
    assert [r[0] for r in rows[1:]] == ["plain", 'quote " and, comma', "new\nline", "", "pipe | bar"]
    assert [r[1] for r in rows[1:]] == ["1", "2", "3", "", "5"]
    assert [float(r[2]) if r[2] else None for r in rows[1:]] == source["share"].to_list()
    assert {r[3] for r in rows[1:]} == {"2026-11-29T03:00:00+00:00"}
    assert [json.loads(r[4]) if r[4] else None for r in rows[1:]] == source["tags"].to_list()


def test_json_output_is_a_list_of_objects(capsys: pytest.CaptureFixture[str]) -> None:
    rows = json.loads(printed("json", capsys))
    assert [r["n"] for r in rows] == [1, 2, 3, None, 5]
    assert rows[2] == {"name": "new\nline", "n": 3, "share": 0.25, "at": "2026-11-29T03:00:00+00:00", "tags": None}
    assert json.loads(printed("json", capsys, frame().clear())) == []


def test_markdown_is_one_table_line_per_row(capsys: pytest.CaptureFixture[str]) -> None:
    lines = printed("markdown", capsys).splitlines()
    assert lines[0] == "| name | n | share | at | tags |"
    assert lines[1] == "|---|---:|---:|---|---|"
    assert len(lines) == 2 + frame().height
    assert "new<br>line" in lines[4] and "pipe \\| bar" in lines[6]
    assert all(line.count(" | ") == 4 for line in lines[2:])  # an escaped pipe is no cell border


def test_the_table_says_when_rows_were_left_out(capsys: pytest.CaptureFixture[str]) -> None:
    print_result(Output(False), frame(), "table", more=True)
    out, err = capsys.readouterr()
    assert "plain" in out and "showing the first 5 rows" in err and "--limit" in err


def test_no_progress_when_stderr_is_not_a_terminal_or_with_json() -> None:
    for as_json in (False, True):
        with Output(as_json).progress() as progress:
            assert progress is None


def test_the_terminal_progress_draws_what_it_is_told() -> None:
    stream = io.StringIO()
    with TerminalProgress(stream, force_terminal=True) as progress:
        progress("marts [3 days]", 1, 3)
        progress("marts [3 days]", 3, 3)
        progress("ingest a\x1b.log", 5, None)
    text = stream.getvalue()
    assert "marts [3 days]" in text and "3/3" in text
    assert "ingest a\\x1b.log" in text
