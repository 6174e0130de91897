"""Shared helpers of the hostile-input suites (tests/test_hostile_*.py, tests/test_fuzz_ingest.py).

Only the public, stable interfaces are used: the command line (``accesslake.cli.main`` in
process, or ``python -m accesslake.cli`` in a subprocess) and the lake's files, read with
pyarrow / polars / plain file operations. Nothing else of the library is imported, so the
suites survive a restructuring of ``src/accesslake``.

Target behaviour these suites pin down (agreed): exit 0 ok, 1 audit violations, 2 usage or
input error (one ``accesslake: error: ...`` line on stderr naming the file, line or option),
3 a nightly or multi-file ingest that finished retention but had a failing step or input.
In-process ``main()`` returns an int and never raises; nobody ever sees a traceback.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import subprocess
import sys
import zlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from accesslake.cli import main

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
ENV_NAMES = ("ACCESSLAKE_LAKE", "ACCESSLAKE_NOW", "ACCESSLAKE_POLICY")


# ---------------------------------------------------------------- clock and log lines


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clf(t: datetime, offset: str = "+0000") -> str:
    """Apache %t body for ``t`` (UTC) written with the literal ``offset`` (no conversion)."""
    return f"{t:%d}/{MONTHS[t.month - 1]}/{t:%Y:%H:%M:%S} {offset}"


def combined(ip: str, t: datetime, *, path: str = "/index.html", query: str | None = None, status: int = 200,
             size: str | int = 512, referrer: str = "-", agent: str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
             user: str = "-", method: str = "GET") -> str:
    target = path + (f"?{query}" if query else "")
    return (f'{ip} - {user} [{clf(t)}] "{method} {target} HTTP/1.1" {status} {size} '
            f'"{referrer}" "{agent}"')


def traffic(ips: Sequence[str], start: datetime, *, step: timedelta = timedelta(hours=3),
            path: str = "/page/{n}") -> list[str]:
    """One combined line per IP, ``step`` apart from ``start``."""
    return [combined(ip, start + n * step, path=path.format(n=n), size=100 + n) for n, ip in enumerate(ips)]


def make_ips(prefix: str, count: int) -> list[str]:
    """``count`` distinct addresses ``prefix.N`` with 3-digit last octets (no address is a prefix of another)."""
    assert count <= 155
    return [f"{prefix}.{100 + n}" for n in range(count)]



def write_lines(path: Path, lines: Iterable[str], *, end: str = "\n", compress: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(lines) + end).encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


# ---------------------------------------------------------------- running the command line


def _check_no_traceback(out: str, err: str, argv: Sequence[str]) -> None:
    for stream, text in (("stdout", out), ("stderr", err)):
        if "Traceback" in text:
            pytest.fail(f"accesslake {' '.join(argv)}: a traceback on {stream}:\n{text[-3000:]}")


def run_cli(args: Sequence[str], *, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``accesslake ARGS`` in process: (exit code, stdout, stderr).

    Fails the test when ``main`` raises anything (SystemExit included: main must *return* its
    code), returns something other than an int, or prints a traceback.
    """
    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    saved = {name: os.environ.get(name) for name in ENV_NAMES}
    for name in ENV_NAMES:
        os.environ.pop(name, None)
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except BaseException as exc:  # noqa: BLE001 - that is the point of the check
                pytest.fail(f"accesslake {' '.join(argv)}: main() raised {type(exc).__name__}: {exc!r}\n"
                            f"stdout: {out.getvalue()[-2000:]}\nstderr: {err.getvalue()[-2000:]}")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    _check_no_traceback(out.getvalue(), err.getvalue(), argv)
    if not isinstance(code, int) or isinstance(code, bool):
        pytest.fail(f"accesslake {' '.join(argv)}: main() returned {code!r}, not an int")
    return code, out.getvalue(), err.getvalue()


def cli_command() -> list[str]:
    return [sys.executable, "-m", "accesslake.cli"]


def run_subprocess(args: Sequence[str], *, timeout: float = 120) -> tuple[int, str, str]:
    """``python -m accesslake.cli ARGS`` in a child process: (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    argv = [str(a) for a in args]
    done = subprocess.run([*cli_command(), *argv], capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)
    _check_no_traceback(done.stdout, done.stderr, argv)
    return done.returncode, done.stdout, done.stderr


def at(lake: Path, now: datetime, *args: object) -> list[str]:
    """Argument list ``--lake LAKE --now NOW ARGS``."""
    return ["--lake", str(lake), "--now", iso(now), *map(str, args)]


def assert_usage_error(code: int, out: str, err: str, *needles: str) -> None:
    """Exit 2 and exactly one ``accesslake: error: ...`` line (containing each needle) on stderr."""
    assert code == 2, f"expected exit 2, got {code}\nstdout: {out[-1500:]}\nstderr: {err[-1500:]}"
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line on stderr, got {len(lines)}:\n{err[-3000:]}"
    assert lines[0].startswith("accesslake: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not named in: {lines[0]}"


# ---------------------------------------------------------------- reading the lake


def parquet_files(root: Path, *, hidden: bool = False) -> list[Path]:
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*.parquet") if p.is_file() and (hidden or not p.name.startswith(".")))


def read_rows(lake: Path, dataset: str = "requests") -> pa.Table | None:
    """Every row of ``<lake>/<dataset>`` (visible Parquet files), or None when there is none."""
    files = parquet_files(lake / dataset)
    if not files:
        return None
    tables = [pq.read_table(p, partitioning=None) for p in files]
    return pa.concat_tables(tables, promote_options="permissive")


def column(lake: Path, name: str, dataset: str = "requests") -> list[object]:
    table = read_rows(lake, dataset)
    return [] if table is None else table.column(name).to_pylist()


def ledger(lake: Path) -> list[dict[str, object]]:
    path = lake / "ledger" / "ingest.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _decompressed(data: bytes) -> bytes:
    """``data``, with every gzip member it starts with decompressed as far as possible (truncated too)."""
    if data[:2] != b"\x1f\x8b":
        return data
    out = io.BytesIO()
    rest = data
    while rest[:2] == b"\x1f\x8b":
        d = zlib.decompressobj(wbits=31)
        try:
            out.write(d.decompress(rest))
        except zlib.error:
            break
        rest = d.unused_data
    return data + out.getvalue()  # the raw bytes are searched too


def _parquet_strings(path: Path) -> tuple[list[str], str | None]:
    """Every string value of every column of a Parquet file (lists and structs too)."""
    try:
        table = pq.read_table(path, partitioning=None)
    except Exception as exc:  # noqa: BLE001 - an unreadable file is searched as raw bytes instead
        return [], f"{type(exc).__name__}: {exc}"
    values: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            values.append(value)
        elif isinstance(value, bytes):
            values.append(value.decode("latin-1"))
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_binary(col.type) \
                or pa.types.is_nested(col.type) or pa.types.is_dictionary(col.type):
            walk(col.to_pylist())
    return values, None


def find_ips_in_lake(lake: Path, ips: Iterable[str], *, skip: Sequence[str] = ("held",)) -> list[str]:
    """An independent scan: every file under ``lake`` except the top-level folders in ``skip``.

    Parquet files: every string value (and, for a file that cannot be read, its raw bytes);
    any other file: its raw bytes, gzip members decompressed. Returns ``"<file>: <ip>"`` hits.
    """
    wanted = sorted(set(ips))
    hits: list[str] = []
    for path in sorted(lake.rglob("*")):
        if not path.is_file() or path.relative_to(lake).parts[0] in skip:
            continue
        try:
            raw = path.read_bytes()
        except OSError:
            continue
        texts: list[str]
        if raw[:4] == b"PAR1":
            values, problem = _parquet_strings(path)
            texts = values if problem is None else [raw.decode("latin-1")]
        else:
            texts = [_decompressed(raw).decode("latin-1")]
        blob = "\n".join(texts)
        hits += [f"{path.relative_to(lake)}: {ip}" for ip in wanted if ip in blob]
    return hits


def parquet_string_hits(lake: Path, ips: Iterable[str], *, skip: Sequence[str] = ("held",)) -> list[str]:
    """Like :func:`find_ips_in_lake` but only every string column of every Parquet file (hidden ones too)."""
    wanted = sorted(set(ips))
    hits: list[str] = []
    for path in sorted(lake.rglob("*")):
        if not path.is_file() or path.relative_to(lake).parts[0] in skip:
            continue
        if not (path.name.lower().endswith(".parquet") or path.read_bytes()[:4] == b"PAR1"):
            continue
        values, problem = _parquet_strings(path)
        blob = "\n".join(values) if problem is None else path.read_bytes().decode("latin-1")
        hits += [f"{path.relative_to(lake)}: {ip}" for ip in wanted if ip in blob]
    return hits


# ---------------------------------------------------------------- holds


def open_hold(lake: Path, now: datetime, start: datetime, end: datetime, *scope: str,
              case: str = "CASE-1") -> tuple[int, str, str, str | None]:
    """``incident open`` with the scope options ``scope``; (code, out, err, hold id or None)."""
    code, out, err = run_cli([*at(lake, now), "--json", "incident", "open", "--case", case, "--purpose",
                              "credential stuffing", "--legal-basis", "6-1-f", "--authorized-by", "CISO",
                              "--start", iso(start), "--end", iso(end), *scope])
    hold_id = None
    if code == 0:
        hold_id = json.loads(out)["id"]
    return code, out, err, hold_id


def export_hold(lake: Path, now: datetime, hold_id: str, out_dir: Path, *extra: str) -> tuple[int, str, str]:
    return run_cli([*at(lake, now), "export", "--incident", hold_id, "--out", str(out_dir), "--recipient",
                    "LKA Berlin", "--reference", "AZ 123/26", "--legal-basis", "§24 BDSG", "--operator",
                    "J. Doe", *extra])
