"""The ``accesslake ingest`` command, and the library's boundary (no Prefect under src/)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from accesslake.cli import main

REPO = Path(__file__).resolve().parents[2]
NOW = "2026-11-29T03:00:00Z"
LINE = '192.0.2.1 - - [10/Oct/2020:13:55:36 +0000] "GET /p/{n}?q=1 HTTP/1.1" 200 {n} "-" "curl/8.0"'


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ACCESSLAKE_LAKE", "ACCESSLAKE_NOW", "ACCESSLAKE_POLICY"):
        monkeypatch.delenv(name, raising=False)


def write_log(path: Path, n: int = 3, extra: list[str] | None = None) -> Path:
    lines = [LINE.format(n=i) for i in range(1, n + 1)]
    path.write_text("\n".join(lines + (extra or [])) + "\n", encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_json_output_is_the_ingest_result(
    tmp_path: Path, lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_log(tmp_path / "access.log", 3, ["junk"])
    code, out, err = run(capsys, "--lake", str(lake), "--now", NOW, "--json", "ingest", str(log))
    assert (code, err) == (0, "")
    (result,) = json.loads(out)
    assert result["source_file"] == str(log)
    assert (result["status"], result["format"], result["detected"]) == ("ingested", "combined", True)
    assert (result["lines_read"], result["rows"], result["rejects"], result["held"]) == (4, 3, 1, 0)
    assert result["anonymized_on_write"] == 3  # 2020 is long past anonymize_after at --now
    assert result["files"] and all((lake / f).is_file() for f in result["files"])


def test_ingest_text_output_and_reingest(tmp_path: Path, lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = write_log(tmp_path / "access.log")
    code, out, _ = run(capsys, "--lake", str(lake), "--now", NOW, "ingest", str(log))
    assert code == 0
    assert out == (f"{log}: format combined (detected); 3 lines read = 3 rows + 0 held + 0 rejected; "
                   "3 anonymised on write (past anonymize_after)\n")
    files = sorted(lake.rglob("*.parquet"))
    code, out, _ = run(capsys, "--lake", str(lake), "--now", NOW, "ingest", str(log))
    assert (code, out) == (0, f"{log}: already ingested (3 lines); nothing to do\n")
    assert sorted(lake.rglob("*.parquet")) == files


def test_format_site_and_cookie_options(tmp_path: Path, lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "access.log"
    log.write_text(LINE.format(n=1) + " abc\n", encoding="utf-8")
    fmt = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %{sid}C'
    code, out, _ = run(capsys, "--lake", str(lake), "--now", "2020-10-10T15:00:00Z", "--json", "ingest", str(log),
                       "--format", fmt, "--site", "shop", "--cookie", "sid")
    assert code == 0
    (result,) = json.loads(out)
    assert (result["format"], result["detected"], result["site"], result["rows"]) == ("apache-custom", False,
                                                                                       "shop", 1)
    assert [p.parent.parent.name for p in lake.rglob("*.parquet")] == ["site=shop"]


def test_the_clock_comes_from_the_environment(tmp_path: Path, lake: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESSLAKE_NOW", "2020-10-10T15:00:00Z")  # an hour after the log: nothing is due
    code, out, _ = run(capsys, "--lake", str(lake), "--json", "ingest", str(write_log(tmp_path / "a.log")))
    assert (code, json.loads(out)[0]["anonymized_on_write"]) == (0, 0)
    code, out, _ = run(capsys, "--lake", str(lake / "x"), "--now", NOW, "--json", "ingest",
                       str(write_log(tmp_path / "b.log")))
    assert (code, json.loads(out)[0]["anonymized_on_write"]) == (0, 3)  # --now wins over the environment


@pytest.mark.parametrize(
    ("setup", "extra", "message"),
    [
        ("missing", [], "{path}: cannot read (No such file or directory)"),
        ("junk", [], "{path}: cannot detect the log format"),
        ("junk", ["--format", "combined"], "{path}: 2 of 2 lines do not parse as format combined"),
        ("good", ["--format", "%h %t %Q"], "--format at column 7: unknown Apache directive %Q"),
        ("good", ["--format", "$remote_addr $nope"], "--format at column 14: unknown nginx variable $nope"),
        ("good", ["--format", ""], "--format: empty format"),
        ("corrupt", [], "{path}: cannot decompress ("),
    ],
)
def test_errors_exit_2_with_one_message(tmp_path: Path, lake: Path, capsys: pytest.CaptureFixture[str],
                                        setup: str, extra: list[str], message: str) -> None:
    path = tmp_path / "input.log"
    if setup == "junk":
        path.write_text("xxxxxxxxxxxx\nnot a log line\n", encoding="utf-8")
    elif setup == "good":
        write_log(path)
    elif setup == "corrupt":
        path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    code, out, err = run(capsys, "--lake", str(lake), "--now", NOW, "ingest", str(path), *extra)
    assert (code, out) == (2, "")
    assert err.startswith("accesslake: error: ")
    assert message.format(path=path) in err
    assert len(err.strip().splitlines()) == 1
    assert not list(lake.rglob("*.parquet")) and not (lake / "ledger" / "ingest.jsonl").exists()


def test_a_bad_clock_is_a_usage_error(tmp_path: Path, lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--lake", str(lake), "--now", "yesterday", "ingest", str(write_log(tmp_path / "a")))
    assert code == 2
    assert "--now: 'yesterday' is not an ISO-8601 time" in err


@pytest.mark.parametrize("clock", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:30:00+01:00"])
def test_a_clock_at_the_ends_of_the_calendar_is_a_usage_error(
    lake: Path, capsys: pytest.CaptureFixture[str], clock: str
) -> None:
    """Every rule adds or subtracts hours and years: a clock near year 1 or 9999 would overflow them."""
    code, out, err = run(capsys, "--lake", str(lake), "--now", clock, "audit")
    assert code == 2 and out == ""
    assert err.startswith(f"accesslake: error: --now: {clock!r}") and len(err.splitlines()) == 1


# ----------------------------------------------------------------- the library never imports Prefect


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_no_module_under_src_imports_prefect() -> None:
    modules = sorted((REPO / "src").rglob("*.py"))
    assert len(modules) > 10
    assert [str(m.relative_to(REPO)) for m in modules if "prefect" in _imports(m)] == []


def test_importing_the_library_loads_no_prefect() -> None:
    code = (
        "import importlib, pkgutil, sys, accesslake\n"
        "for m in pkgutil.iter_modules(accesslake.__path__):\n"
        "    importlib.import_module('accesslake.' + m.name)\n"
        "assert not [n for n in sys.modules if n.split('.')[0] == 'prefect'], 'prefect was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
