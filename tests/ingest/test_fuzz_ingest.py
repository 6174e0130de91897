"""Property-based fuzzing of ``accesslake ingest`` (and the nightly run after it) with hostile files.

Generated: lines in the combined / common / vcombined shapes with odd time offsets, huge numbers,
latin-1 bytes, NULs, CRs, very long fields, truncations and junk; files that are empty, have no
trailing newline, hold only blank lines, or are gzip-compressed; the format given or detected.

Properties (target behaviour):

- ``main`` returns 0, 2 or 3 and never raises or prints a traceback;
- after exit 0 (or 3): every ledger record accounts for its lines (rows + held + rejects ==
  lines_read) and, for exit 0, the lines read of each file are exactly its lines;
- after a nightly run 8 days later, no IP of the files is left in any string column of any
  Parquet file outside held/.

Fast on purpose (no shrinking, a fixed seed, no example database): a failure prints its
generated files (``note``) so it can be turned into a plain test.
"""

from __future__ import annotations

import gzip
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hostile_kit import MONTHS, NOW, at, ledger, parquet_string_hits, run_cli
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st

FAST = settings(max_examples=50, deadline=None, database=None, derandomize=True,
                phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
FAST_NIGHTLY = settings(FAST, max_examples=12)

FORMATS = [None, "combined", "common", "vcombined", "nginx"]
LATER = NOW + timedelta(days=8)

ipv4 = st.builds(lambda net, host: f"{net}.{host}", st.sampled_from(["192.0.2", "198.51.100", "203.0.113"]),
                 st.integers(1, 254))
ipv6 = st.builds(lambda a, b: f"2001:db8:{a:x}::{b:x}", st.integers(1, 0xFFFF), st.integers(1, 0xFFFF))
ips = st.one_of(ipv4, ipv4, ipv6)

# Text that can never spell an IP address (no digits): paths, agents and junk stay free of them,
# so every IP found after the nightly is one the anonymisation should have removed.
SAFE = st.characters(codec="utf-8", exclude_categories=("Cs", "Nd", "No", "Nl"), exclude_characters="\n\r\"")
safe_text = st.text(SAFE, max_size=30)

def mostly(usual: st.SearchStrategy, rare: st.SearchStrategy, odds: int = 12) -> st.SearchStrategy:
    """``usual``, and one time in ``odds`` something ``rare``."""
    return st.integers(0, odds - 1).flatmap(lambda n: rare if n == 0 else usual)


offsets = mostly(st.sampled_from(["+0000", "+0100", "-0500", "+0530", "+1400", "-1200"]),
                 st.sampled_from(["-2359", "+2359", "+9999", "-0000", "+00:00", "Z", ""]))
# Mostly the UTC day before NOW (few days keep the nightly fast: it builds marts per day), some far back.
moments = mostly(st.integers(-27 * 3600, -3 * 3600).map(lambda s: NOW + timedelta(seconds=s)),
                 st.sampled_from([datetime(2020, 10, 10, 13, 55, 36, tzinfo=UTC),
                                  datetime(2025, 3, 30, 1, 30, tzinfo=UTC)]), odds=6)
edge_stamps = st.sampled_from(["31/Dec/9999:23:59:59", "01/Jan/0001:00:00:00", "29/Feb/2025:10:00:00",
                               "31/Nov/2026:10:00:00", "28/Nov/2026:24:00:00", "28/Nov/2026:23:59:60"])
sizes = mostly(st.one_of(st.integers(0, 10**7), st.just("-")),
               st.sampled_from([2**63 - 1, 2**63, 2**64, 10**30, -1])).map(str)
statuses = mostly(st.integers(100, 599), st.sampled_from([0, 99, 999, 32768, 99999, 10**20])).map(str)


@st.composite
def stamp(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 11)) == 0:
        body = draw(edge_stamps)
    else:
        t = draw(moments)
        body = f"{t:%d}/{MONTHS[t.month - 1]}/{t:%Y:%H:%M:%S}"
    return f"{body} {draw(offsets)}".rstrip()


@st.composite
def log_line(draw: st.DrawFn, fmt: str | None) -> bytes:
    kind = draw(st.integers(0, 29))
    if kind == 0:
        return b""  # a blank line
    if kind == 1:  # junk
        return draw(safe_text).encode() + draw(st.binary(max_size=20)).replace(b"\n", b"")
    ip = draw(ips)
    path = "/" + draw(safe_text).replace(" ", "%20").replace("?", "")
    if draw(st.integers(0, 14)) == 0:
        path += "a" * draw(st.integers(2_000, 20_000))  # a very long line
    agent = draw(safe_text)
    line = (f'{ip} - {draw(st.sampled_from(["-", "alice"]))} [{draw(stamp())}] "GET {path} HTTP/1.1" '
            f'{draw(statuses)} {draw(sizes)}')
    if fmt != "common":
        line += f' "-" "{agent}"'
    if fmt == "vcombined":
        line = f"www.example.org:443 {line}"
    data = line.encode()
    mutation = draw(st.integers(0, 19))
    if mutation == 0:  # cut short
        data = data[: draw(st.integers(0, len(data)))]
    elif mutation == 1:  # one odd byte somewhere: latin-1, NUL, CR, invalid UTF-8
        at_ = draw(st.integers(0, len(data)))
        data = data[:at_] + draw(st.sampled_from([b"\xe9", b"\x00", b"\r", b"\xff\xfe", b"\xc3"])) + data[at_:]
    elif mutation == 2:
        data += b" trailing junk"
    return data


@st.composite
def log_file(draw: st.DrawFn, fmt: str | None, first_line: bytes | None = None) -> tuple[bytes, int, bool]:
    """(file bytes as written, number of lines in the text, gzip?); ``first_line`` forced when given."""
    shape = draw(mostly(st.sampled_from(["lines", "no-final-newline"]), st.sampled_from(["empty", "blank-only"]), 8))
    if shape == "empty":
        lines: list[bytes] = []
    elif shape == "blank-only":
        lines = [b""] * draw(st.integers(1, 5))
    else:
        lines = draw(st.lists(log_line(fmt), min_size=1, max_size=25))
        if first_line is not None:
            lines = [first_line, *lines]
    text = b"\n".join(lines)
    if lines and shape != "no-final-newline":
        text += b"\n"
    count = text.count(b"\n") + (1 if text and not text.endswith(b"\n") else 0)
    compress = draw(st.booleans()) and draw(st.booleans())
    return (gzip.compress(text) if compress else text), count, compress


def _first_line(generated: tuple[bytes, int, bool]) -> bytes:
    return _text(generated[0]).split(b"\n", 1)[0]


_IP = re.compile(r"(?<![0-9.])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![0-9])|2001:db8:[0-9a-f]+::[0-9a-f]+")


def _ips_in(data: bytes) -> set[str]:
    """Every IP address spelled out in the file's text (the generator puts digits nowhere else)."""
    text = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode("latin-1")
    return set(_IP.findall(text))


def _ingest(tmp: Path, files: list[tuple[bytes, int, bool]], fmt: str | None) -> tuple[Path, list[Path], int]:
    lake = tmp / "lake"
    lake.mkdir()
    paths = []
    for n, (data, _, compressed) in enumerate(files):
        path = tmp / (f"access-{n}.log" + (".gz" if compressed else ""))
        path.write_bytes(data)
        paths.append(path)
        note(f"{path.name}: {data[:3000]!r}")
    args = at(lake, NOW, "ingest", *paths) + (["--format", fmt] if fmt else [])
    code, out, err = run_cli(args)
    note(f"ingest exit {code}\n{out[-1500:]}\n{err[-1500:]}")
    event(f"ingest exit {code}")
    assert code in (0, 2, 3), f"ingest exit {code}: expected 0, 2 or 3\n{err[-1500:]}"
    return lake, paths, code


def _text(data: bytes) -> bytes:
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _expected_new_lines(files: list[tuple[bytes, int, bool]]) -> list[int]:
    """Lines each file should add: a copy (or a grown copy) of an earlier file adds only what is new."""
    expected = []
    for i, (data, count, _) in enumerate(files):
        text, seen = _text(data), 0
        for earlier, earlier_count, _ in files[:i]:
            before = _text(earlier)
            if before and text.startswith(before) and (before.endswith(b"\n") or text[len(before):] in (b"", b"\n")):
                seen = max(seen, earlier_count)
        expected.append(count - seen)
    return expected


def _check_accounting(lake: Path, paths: list[Path], files: list[tuple[bytes, int, bool]], code: int) -> None:
    records = ledger(lake)
    for record in records:
        parts = int(record["rows"]) + int(record["held"]) + int(record["rejects"])
        assert parts == int(record["lines_read"]), f"ledger record does not add up: {record}"
    if code == 0:
        for path, expected in zip(paths, _expected_new_lines(files), strict=True):
            read = sum(int(r["lines_read"]) for r in records if r["source_file"] == str(path))
            assert read == expected, f"{path.name}: {read} lines accounted for, expected {expected}"


@given(fmt=st.sampled_from(FORMATS), count=st.integers(1, 2), data=st.data())
@FAST
def test_ingest_never_crashes_and_accounts_for_every_line(fmt: str | None, count: int, data: st.DataObject) -> None:
    generated = [data.draw(log_file(fmt))]
    if count == 2:  # a second file, one time in three starting with the same line (a header, a blank line)
        shared = data.draw(st.sampled_from([None, None, _first_line(generated[0])]))
        generated.append(data.draw(log_file(fmt, shared)))
    with tempfile.TemporaryDirectory(prefix="fuzz-ingest-") as tmp:
        lake, paths, code = _ingest(Path(tmp), generated, fmt)
        if code in (0, 3):
            _check_accounting(lake, paths, generated, code)


@given(fmt=st.sampled_from(FORMATS), generated=st.data())
@FAST_NIGHTLY
def test_no_ip_outlives_the_nightly_after_8_days(fmt: str | None, generated: st.DataObject) -> None:
    one = generated.draw(log_file(fmt))
    with tempfile.TemporaryDirectory(prefix="fuzz-nightly-") as tmp:
        lake, paths, code = _ingest(Path(tmp), [one], fmt)
        if code != 0:
            return
        _check_accounting(lake, paths, [one], code)
        code, out, err = run_cli(at(lake, LATER, "nightly"))
        note(f"nightly exit {code}\n{out[-2000:]}\n{err[-1500:]}")
        assert code in (0, 2, 3), f"nightly exit {code}"
        hits = parquet_string_hits(lake, _ips_in(one[0]))
        assert hits == [], "IPs left past the limit:\n" + "\n".join(hits[:20])
