"""Property tests: a line written in a format parses back to the values written.

Each test draws request records, renders them the way the server writes them
(Apache escapes ``"`` and ``\\`` with a backslash inside quoted fields; nginx
is only given values it writes unescaped), parses the batch with
:func:`accesslake.parse.parse_batch` and compares every stored field. Fields a
format does not log must come back NULL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from accesslake.logs.formats import compile_format
from accesslake.logs.parse import parse_batch

RECEIVED = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SETTINGS = settings(max_examples=120, deadline=None)


@dataclass(frozen=True)
class Record:
    host: str
    ts: datetime  # UTC instant
    offset_minutes: int  # the server's UTC offset
    method: str
    path: str
    query: str | None  # None: no '?'; "": a bare '?'
    protocol: str | None
    status: int
    bytes: int | None  # None: logged as '-'
    referrer: str | None
    user_agent: str | None
    session_id: str | None
    response_us: int
    vhost: str
    forwarded_for: str | None
    trailing: str  # trailing spaces some servers leave


# ----------------------------------------------------------------- strategies

_LOWER = "abcdefghijklmnopqrstuvwxyz"
_UPPER = _LOWER.upper()
_label = st.builds(str.__add__, st.sampled_from(_LOWER), st.text(_LOWER + "0123456789-", max_size=12))
hostnames = st.lists(_label, min_size=2, max_size=4).map(".".join)
hosts = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.ip_addresses(v=6).map(lambda ip: str(ip).upper()),  # logged upper case: stored lower case
    hostnames,
    hostnames.map(str.upper),
)
# Any printable ASCII, spaces, quotes and backslashes included (the Apache case).
apache_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=60)
# What nginx writes without \xHH escapes: printable ASCII except '"' and '\'.
nginx_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"\\'), min_size=1, max_size=60
)
url_chars = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='?#"\\')
cookie_values = st.text(_LOWER + _LOWER.upper() + "0123456789._%+-", min_size=1, max_size=40)
xff = st.lists(st.ip_addresses().map(str), min_size=1, max_size=3).map(", ".join)


def records(text: st.SearchStrategy[str] = apache_text, path_extra: str = "") -> st.SearchStrategy[Record]:
    """Request records; ``path_extra`` adds characters the server escapes in the request line."""
    path_chars = st.one_of(url_chars, st.sampled_from(path_extra)) if path_extra else url_chars
    return st.builds(
        Record,
        host=hosts,
        ts=st.datetimes(min_value=datetime(1971, 1, 2), max_value=datetime(2037, 12, 30), timezones=st.just(UTC))
        .map(lambda t: t.replace(microsecond=0)),
        offset_minutes=st.builds(lambda h, m: h * 60 + (m if h >= 0 else -m), st.integers(-14, 14),
                                 st.sampled_from([0, 0, 15, 30, 45])),
        method=st.one_of(st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PROPFIND"]),
                         st.builds(str.__add__, st.sampled_from(_UPPER), st.text(_UPPER + "_-", min_size=1,
                                                                                 max_size=9))),
        path=st.text(path_chars, max_size=50).map(lambda p: "/" + p),
        query=st.one_of(st.none(), st.just(""), st.text(st.one_of(url_chars, st.just("?")), min_size=1, max_size=40)),
        protocol=st.sampled_from(["HTTP/1.0", "HTTP/1.1", "HTTP/2.0", "HTTP/2", None]),
        status=st.integers(100, 599),
        bytes=st.one_of(st.none(), st.integers(0, 10**12)),
        referrer=st.one_of(st.none(), text),
        user_agent=st.one_of(st.none(), text),
        session_id=st.one_of(st.none(), cookie_values),
        response_us=st.integers(0, 10**9),
        vhost=hostnames,
        forwarded_for=st.one_of(st.none(), xff),
        trailing=st.sampled_from(["", "", " ", "  "]),
    )


APACHE_RECORDS = st.lists(records(path_extra='"\\'), min_size=1, max_size=4)
NGINX_RECORDS = st.lists(records(text=nginx_text), min_size=1, max_size=4)


# ----------------------------------------------------------------- rendering


def apache_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def dash(value: object | None, escape: Callable[[str], str] = str) -> str:
    return "-" if value is None else escape(str(value))


def clf_time(rec: Record) -> str:
    offset = timedelta(minutes=rec.offset_minutes)
    local = rec.ts.astimezone(timezone(offset))
    sign = "+" if rec.offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(rec.offset_minutes), 60)
    return f"{local:%d}/{MONTHS[local.month - 1]}/{local:%Y:%H:%M:%S} {sign}{hours:02d}{minutes:02d}"


def request(rec: Record) -> str:
    target = rec.path + ("" if rec.query is None else "?" + rec.query)
    return f"{rec.method} {target}" + (f" {rec.protocol}" if rec.protocol else "")


def common(rec: Record) -> str:
    return f'{rec.host} - - [{clf_time(rec)}] "{apache_escape(request(rec))}" {rec.status} {dash(rec.bytes)}'


def combined(rec: Record) -> str:
    return f'{common(rec)} "{dash(rec.referrer, apache_escape)}" "{dash(rec.user_agent, apache_escape)}"'


def vcombined(rec: Record) -> str:
    return f"{rec.vhost}:443 {combined(rec)}"


def nginx(rec: Record) -> str:
    # nginx's default combined, plus the extra "$http_x_forwarded_for" many sites append.
    line = (
        f'{rec.host} - - [{clf_time(rec)}] "{request(rec)}" {rec.status} {dash(rec.bytes)} '
        f'"{dash(rec.referrer)}" "{dash(rec.user_agent)}"'
    )
    return line if rec.forwarded_for is None else f'{line} "{rec.forwarded_for}"'


APACHE_CUSTOM = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D %v %{sid}C "%{X-Forwarded-For}i"'


def apache_custom(rec: Record) -> str:
    return (
        f"{combined(rec)} {rec.response_us} {rec.vhost} {dash(rec.session_id)} "
        f'"{dash(rec.forwarded_for, apache_escape)}"'
    )


NGINX_CUSTOM = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
    '"$http_user_agent" $request_time $host "$cookie_sid" "$http_x_forwarded_for"'
)


def nginx_custom(rec: Record) -> str:
    seconds = rec.response_us // 1000 / 1000  # nginx logs $request_time in seconds with ms resolution
    return (
        f'{rec.host} - - [{clf_time(rec)}] "{request(rec)}" {rec.status} {dash(rec.bytes)} '
        f'"{dash(rec.referrer)}" "{dash(rec.user_agent)}" {seconds:.3f} {rec.vhost} "{dash(rec.session_id)}" '
        f'"{dash(rec.forwarded_for)}"'
    )


LOCAL_TIME = '%h %l %u [%{%Y-%m-%d %H:%M:%S}t] "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'


def local_time(rec: Record) -> str:
    local = rec.ts.astimezone(BERLIN)
    return (
        f'{rec.host} - - [{local:%Y-%m-%d %H:%M:%S}] "{apache_escape(request(rec))}" {rec.status} '
        f'{dash(rec.bytes)} "{dash(rec.referrer, apache_escape)}" "{dash(rec.user_agent, apache_escape)}"'
    )


# ----------------------------------------------------------------- checking


def parse(lines: list[str], fmt: str) -> pl.DataFrame:
    batch = parse_batch(
        pl.Series("line", lines, dtype=pl.String), compile_format(fmt), first_line=1,
        source_file="prop.log", file_key="k", received_at=RECEIVED,
    )
    assert batch.rejects.height == 0, batch.rejects.select("line", "reason").rows()
    return batch.rows.sort("source_line")


def absent(value: str | None) -> str | None:
    return None if value in (None, "", "-") else value


def expected(
    rec: Record, logged: set[str], response_ms: Callable[[Record], float] | None, local_zone: bool
) -> dict[str, Any]:
    ts = rec.ts
    if local_zone:
        # No offset in the log: an ambiguous local hour resolves to the earlier instant (rule T1).
        wall = rec.ts.astimezone(BERLIN).replace(tzinfo=None)
        ts = wall.replace(tzinfo=BERLIN, fold=0).astimezone(UTC)
    return {
        "client_ip": rec.host.lower(),
        "ts": ts,
        "method": rec.method,
        "path": rec.path,
        "query": rec.query or None,
        "protocol": rec.protocol,
        "status": rec.status,
        "bytes": rec.bytes or 0,
        "referrer": absent(rec.referrer) if "referrer" in logged else None,
        "user_agent": absent(rec.user_agent) if "user_agent" in logged else None,
        "session_id": absent(rec.session_id) if "session_id" in logged else None,
        "response_time_ms": response_ms(rec) if response_ms else None,
        "vhost": rec.vhost if "vhost" in logged else None,
        "forwarded_for": absent(rec.forwarded_for) if "forwarded_for" in logged else None,
    }


def check(
    recs: list[Record], render: Callable[[Record], str], fmt: str, logged: set[str],
    response_ms: Callable[[Record], float] | None = None, local_zone: bool = False,
) -> None:
    """Render ``recs`` as lines (with their trailing spaces), parse them, compare every field."""
    lines = [render(r) + r.trailing for r in recs]
    rows = parse(lines, fmt)
    assert rows.height == len(recs)
    for rec, line, row in zip(recs, lines, rows.iter_rows(named=True), strict=True):
        want = expected(rec, logged, response_ms, local_zone)
        got = {k: row[k] for k in want}
        if want["response_time_ms"] is not None:
            assert got["response_time_ms"] == pytest.approx(want["response_time_ms"], rel=1e-12, abs=1e-9), line
            got["response_time_ms"] = want["response_time_ms"]
        assert got == want, line


COMBINED_FIELDS = {"referrer", "user_agent"}


@SETTINGS
@given(APACHE_RECORDS)
def test_common_round_trip(recs: list[Record]) -> None:
    check(recs, common, "common", set())


@SETTINGS
@given(APACHE_RECORDS)
def test_combined_round_trip(recs: list[Record]) -> None:
    check(recs, combined, "combined", COMBINED_FIELDS)


@SETTINGS
@given(APACHE_RECORDS)
def test_vcombined_round_trip(recs: list[Record]) -> None:
    check(recs, vcombined, "vcombined", COMBINED_FIELDS | {"vhost"})


@SETTINGS
@given(NGINX_RECORDS)
def test_nginx_preset_round_trip(recs: list[Record]) -> None:
    # The preset ignores the trailing "$http_x_forwarded_for" field: it is not stored.
    check(recs, nginx, "nginx", COMBINED_FIELDS)


@SETTINGS
@given(APACHE_RECORDS)
def test_apache_custom_round_trip(recs: list[Record]) -> None:
    logged = COMBINED_FIELDS | {"session_id", "vhost", "forwarded_for"}
    check(recs, apache_custom, APACHE_CUSTOM, logged, response_ms=lambda r: r.response_us / 1000)  # %D: µs


@SETTINGS
@given(NGINX_RECORDS)
def test_nginx_custom_round_trip(recs: list[Record]) -> None:
    logged = COMBINED_FIELDS | {"session_id", "vhost", "forwarded_for"}
    check(recs, nginx_custom, NGINX_CUSTOM, logged, response_ms=lambda r: r.response_us // 1000)  # s, ms precision


# 01:30 UTC on 26 Oct 2025 is the second 02:30 in Berlin; the earlier 02:30 (00:30 UTC) is taken.
AUTUMN = Record(
    host="192.0.2.1", ts=datetime(2025, 10, 26, 1, 30, tzinfo=UTC), offset_minutes=60, method="GET", path="/",
    query=None, protocol="HTTP/1.1", status=200, bytes=1, referrer=None, user_agent=None, session_id=None,
    response_us=0, vhost="a.example", forwarded_for=None, trailing="",
)


@SETTINGS
@example([AUTUMN])
@given(APACHE_RECORDS)
def test_local_time_without_offset_round_trip(recs: list[Record]) -> None:
    check(recs, local_time, LOCAL_TIME, COMBINED_FIELDS, local_zone=True)
