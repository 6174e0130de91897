"""Parsing a batch of lines: every line comes out once, as a typed row or a reject."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest

from accesslake.logs.formats import compile_format
from accesslake.logs.parse import ParsedBatch, parse_batch, split_lines

RECEIVED = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
LINE = '{host} - - [{time}] "{request}" {status} {size} "{referrer}" "{agent}"'


def line(**kw: str) -> str:
    values = {"host": "192.0.2.1", "time": "10/Oct/2000:13:55:36 -0700", "request": "GET /index.html HTTP/1.1",
              "status": "200", "size": "2326", "referrer": "-", "agent": "curl/8.0"}
    return LINE.format(**{**values, **kw})


def parse(lines: list[str], fmt: str = "combined", tz: str = "Europe/Berlin", first_line: int = 1) -> ParsedBatch:
    return parse_batch(
        pl.Series("line", lines, dtype=pl.String), compile_format(fmt), first_line=first_line,
        source_file="access.log", file_key="f00d", received_at=RECEIVED, tz=tz,
    )


def one(text: str, fmt: str = "combined", tz: str = "Europe/Berlin") -> dict[str, Any]:
    batch = parse([text], fmt, tz)
    assert batch.rejects.height == 0, batch.rejects["reason"].to_list()
    return batch.rows.row(0, named=True)


# ----------------------------------------------------------------- split_lines


def test_split_lines_strips_line_ends_and_keeps_an_unterminated_last_line() -> None:
    assert split_lines(b"a\nb\r\n\nc").to_list() == ["a", "b", "", "c"]
    assert split_lines(b"a\n").to_list() == ["a"]
    assert split_lines(b"").to_list() == []


def test_split_lines_replaces_invalid_utf8() -> None:
    assert split_lines(b"ok\n\xff\xfebad\n").to_list() == ["ok", "\ufffd\ufffdbad"]


# ----------------------------------------------------------------- accounting and reasons


def test_every_line_is_a_row_or_a_reject_with_a_reason() -> None:
    lines = [
        line(),
        "",
        "   ",
        "xxxxxxxxxxxx",
        line(time="32/Oct/2000:13:55:36 -0700"),
        line(status="-"),
        line(host="2001:db8::1"),
    ]
    batch = parse(lines, first_line=41)
    rows, rejects = batch.rows.sort("source_line"), batch.rejects.sort("source_line")
    assert rows.height + rejects.height == len(lines)
    assert rows["source_line"].to_list() == [41, 47]
    assert rows["row_id"].to_list() == ["f00d:41", "f00d:47"]
    reasons = dict(zip(rejects["source_line"], rejects["reason"], strict=True))
    assert reasons == {
        42: "empty line",
        43: "empty line",
        44: "does not match format combined",
        45: "unreadable or non-existent time 32/Oct/2000:13:55:36 -0700",
        46: "unreadable status",
    }
    assert rejects["row_id"].to_list() == [f"f00d:{n}" for n in range(42, 47)]
    assert rejects["line"].to_list() == lines[1:6]
    assert rejects["scrubbed_at"].null_count() == 5


# ----------------------------------------------------------------- values that cannot be stored (issue 11)


@pytest.mark.parametrize(
    ("fmt", "text", "reason"),
    [
        ("combined", line(size=str(2**63)), f"byte count {2**63} out of range (0 to 2^63-1)"),
        ("combined", line(size="1" + "0" * 30), "byte count 1" + "0" * 30 + " out of range (0 to 2^63-1)"),
        ("combined", line(time="31/Dec/9999:23:59:59 -2359"),
         "time 31/Dec/9999:23:59:59 -2359 out of range (years 1 to 9999 in UTC)"),
        ("combined", line(time="01/Jan/0001:00:00:00 +0001"),
         "time 01/Jan/0001:00:00:00 +0001 out of range (years 1 to 9999 in UTC)"),
        ("%h %{sec}t %>s", "192.0.2.1 99999999999999999999 200",
         "unreadable or non-existent time 99999999999999999999"),
        ("%h %{sec}t %>s", "192.0.2.1 300000000000 200", "time 300000000000 out of range (years 1 to 9999 in UTC)"),
        ("%h %t %>s %{ms}T", f"192.0.2.1 [10/Oct/2000:13:55:36 -0700] 200 {'9' * 400}",
         f"response time {'9' * 400} out of range"),
    ],
    ids=["bytes-2^63", "bytes-10^30", "after-9999", "before-year-1", "epoch-overflow", "epoch-year-11476",
         "infinite-response-time"],
)
def test_a_value_that_cannot_be_stored_makes_a_reject_with_its_reason(fmt: str, text: str, reason: str) -> None:
    batch = parse([line(), text], fmt) if fmt == "combined" else parse([text], fmt)
    assert batch.rejects.select("source_line", "reason", "format").rows() == [
        (2 if fmt == "combined" else 1, reason, fmt)]
    assert batch.rows["bytes"].null_count() == 0


def test_the_extreme_values_that_can_be_stored_are_stored_as_logged() -> None:
    batch = parse([line(size=str(2**63 - 1)), line(time="31/Dec/9999:23:59:59 +0000"),
                   line(time="01/Jan/0001:00:00:00 +0000")])
    assert batch.rejects.height == 0
    assert batch.rows["bytes"].to_list() == [2**63 - 1, 2326, 2326]
    assert batch.rows["ts"].to_list() == [datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC),
                                          datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
                                          datetime(1, 1, 1, tzinfo=UTC)]


# ----------------------------------------------------------------- time


@pytest.mark.parametrize(
    ("time", "utc"),
    [
        ("10/Oct/2000:13:55:36 -0700", datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC)),
        ("22/Jan/2019:03:56:14 +0330", datetime(2019, 1, 22, 0, 26, 14, tzinfo=UTC)),
        ("15/Dec/2018:02:18:31 -0800", datetime(2018, 12, 15, 10, 18, 31, tzinfo=UTC)),
        ("01/Jan/2000:00:30:00 +1400", datetime(1999, 12, 31, 10, 30, tzinfo=UTC)),
        ("31/Dec/1999:23:59:59 -1200", datetime(2000, 1, 1, 11, 59, 59, tzinfo=UTC)),
        ("07/Apr/2013:04:04:56 +0000", datetime(2013, 4, 7, 4, 4, 56, tzinfo=UTC)),
    ],
)
def test_times_are_converted_to_utc_with_their_offset(time: str, utc: datetime) -> None:
    assert one(line(time=time))["ts"] == utc


LOCAL = '%h [%{%Y-%m-%d %H:%M:%S}t] "%r" %>s %b'


@pytest.mark.parametrize(
    ("wall", "tz", "utc"),
    [
        ("2025-07-01 12:00:00", "Europe/Berlin", datetime(2025, 7, 1, 10, 0, tzinfo=UTC)),
        ("2025-01-01 12:00:00", "Europe/Berlin", datetime(2025, 1, 1, 11, 0, tzinfo=UTC)),
        # Autumn: 02:30 happens twice; the earlier instant (still CEST) is taken (rule T1).
        ("2025-10-26 02:30:00", "Europe/Berlin", datetime(2025, 10, 26, 0, 30, tzinfo=UTC)),
        ("2025-11-02 01:30:00", "America/New_York", datetime(2025, 11, 2, 5, 30, tzinfo=UTC)),
    ],
)
def test_local_time_without_offset_uses_the_site_zone(wall: str, tz: str, utc: datetime) -> None:
    assert one(f'192.0.2.1 [{wall}] "GET / HTTP/1.1" 200 5', LOCAL, tz)["ts"] == utc


def test_a_local_time_that_does_not_exist_is_rejected() -> None:
    batch = parse(['192.0.2.1 [2025-03-30 02:30:00] "GET / HTTP/1.1" 200 5'], LOCAL)
    assert batch.rows.height == 0
    assert batch.rejects["reason"].to_list() == ["unreadable or non-existent time 2025-03-30 02:30:00"]


@pytest.mark.parametrize(
    ("fmt", "text", "utc"),
    [
        ("$remote_addr [$time_iso8601] $status", "192.0.2.1 [2019-01-22T03:56:14+03:30] 200",
         datetime(2019, 1, 22, 0, 26, 14, tzinfo=UTC)),
        ("$remote_addr [$time_iso8601] $status", "192.0.2.1 [2019-01-22T03:56:14Z] 200",
         datetime(2019, 1, 22, 3, 56, 14, tzinfo=UTC)),
        ("$remote_addr $msec $status", "192.0.2.1 1548118574.250 200",
         datetime(2019, 1, 22, 0, 56, 14, 250000, tzinfo=UTC)),
        ("%h %{sec}t %>s", "192.0.2.1 1548118574 200", datetime(2019, 1, 22, 0, 56, 14, tzinfo=UTC)),
    ],
)
def test_iso_and_epoch_times(fmt: str, text: str, utc: datetime) -> None:
    assert one(text, fmt)["ts"] == utc


# ----------------------------------------------------------------- fields


@pytest.mark.parametrize(
    ("host", "client_ip"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:41d0:8:f69::1", "2001:41d0:8:f69::1"),
        ("2001:DB8::A", "2001:db8::a"),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ("piweba3y.prodigy.com", "piweba3y.prodigy.com"),  # host names are kept (NASA)
        ("Dialup-12.Example.NET", "dialup-12.example.net"),
        ("-", None),
    ],
)
def test_client_address_as_logged(host: str, client_ip: str | None) -> None:
    assert one(line(host=host))["client_ip"] == client_ip


def test_request_parts_status_and_bytes() -> None:
    row = one(line(request="post /search.php?q=a+b&x=%22y%22 HTTP/1.0", status="302", size="-"))
    assert (row["method"], row["path"], row["query"], row["protocol"]) == (
        "POST", "/search.php", "q=a+b&x=%22y%22", "HTTP/1.0"
    )
    assert (row["status"], row["bytes"]) == (302, 0)  # '-' bytes count as 0


@pytest.mark.parametrize(
    ("request_line", "method", "path", "query", "protocol"),
    [
        ("GET /", "GET", "/", None, None),
        ("GET /? HTTP/1.1", "GET", "/", None, "HTTP/1.1"),
        ("OPTIONS * HTTP/1.1", "OPTIONS", "*", None, "HTTP/1.1"),
        ("GET /a?b?c HTTP/2.0", "GET", "/a", "b?c", "HTTP/2.0"),
        ("\\x16\\x03\\x01\\x02", None, "\\x16\\x03\\x01\\x02", None, None),  # TLS to a plain port
        ("-", None, None, None, None),  # Apache logs '-' for a request that never came (408)
    ],
)
def test_odd_request_lines(request_line: str, method: str | None, path: str | None, query: str | None,
                           protocol: str | None) -> None:
    row = one(line(request=request_line))
    assert (row["method"], row["path"], row["query"], row["protocol"]) == (method, path, query, protocol)


def test_escaped_quotes_and_backslashes_inside_quoted_fields() -> None:
    row = one(line(
        request='GET /q?s=\\"x\\" HTTP/1.1',
        referrer='http://a.example/?id=1\\" OR \\"1\\"=\\"1',
        agent='Mozilla/5.0 \\"Bot\\" C:\\\\path\\\\',
    ))
    assert row["query"] == 's="x"'
    assert row["referrer"] == 'http://a.example/?id=1" OR "1"="1'
    assert row["referrer_host"] == "a.example"
    assert row["user_agent"] == 'Mozilla/5.0 "Bot" C:\\path\\'


def test_trailing_spaces_and_long_lines() -> None:
    agent = "A" * 10_000
    rows = parse([line() + "   ", line(agent=agent)]).rows
    assert rows.height == 2
    assert rows["user_agent"].to_list() == ["curl/8.0", agent]


def test_a_truncated_last_field_still_parses() -> None:
    # elastic line 8899: the server cut the User-Agent, the closing quote is missing.
    truncated = line(agent="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html")[:-1]
    batch = parse([line(), truncated, line()])
    assert batch.rejects.height == 0
    assert batch.rows.sort("source_line")["user_agent"].to_list() == [
        "curl/8.0", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html", "curl/8.0"
    ]


def test_dashes_are_nulls() -> None:
    row = one(line(referrer="-", agent="-"))
    assert (row["referrer"], row["referrer_host"], row["user_agent"], row["remote_user"]) == (None, None, None, None)


def test_custom_apache_format_fields() -> None:
    fmt = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D %v %{sid}C "%{X-Forwarded-For}i"'
    row = one(line(host="10.0.0.7") + ' 1534 WWW.Example.com s3cr3t "203.0.113.5, 10.0.0.1"', fmt)
    assert row["response_time_ms"] == pytest.approx(1.534)
    assert (row["vhost"], row["session_id"], row["forwarded_for"]) == ("www.example.com", "s3cr3t",
                                                                        "203.0.113.5, 10.0.0.1")


def test_custom_nginx_format_fields() -> None:
    fmt = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
           '"$http_user_agent" $request_time $host "$cookie_sid" "$http_x_forwarded_for"')
    row = one(line(host="10.0.0.7") + ' 0.250 shop.example "-" "-"', fmt)
    assert row["response_time_ms"] == pytest.approx(250.0)
    assert (row["vhost"], row["session_id"], row["forwarded_for"]) == ("shop.example", None, None)


def test_static_assets_are_not_page_views() -> None:
    rows = parse([line(request=f"GET {p} HTTP/1.1") for p in ("/", "/a.CSS", "/x.php", "/f.js?v=1")]).rows
    assert rows.sort("source_line")["is_page"].to_list() == [True, False, True, False]


def test_out_of_order_lines_are_all_kept() -> None:
    times = ["10/Oct/2000:13:55:36 -0700", "09/Oct/2000:13:55:36 -0700", "11/Oct/2000:01:00:00 +0000"]
    rows = parse([line(time=t) for t in times]).rows.sort("source_line")
    assert [t.day for t in rows["ts"]] == [10, 9, 11]
    assert rows["received_at"].to_list() == [RECEIVED] * 3
    assert rows["anonymized_at"].null_count() == 3
