"""Scrubbing a rejected line by the tolerant split of its format (rule A4, issue 11).

A rejected line past the limit must lose every value its format says is personal (client, user,
session cookie, forwarded address), found by the format's positions where the line still splits,
and every IP-like or host-like token where it does not; the virtual host and the rest stay.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from accesslake.ingest.scrub import reject_scrub_exprs, scrub_split_expr
from accesslake.logs.split import scrub_split

HOST, USER, SESSION, XFF, VHOST = "dialup-7.isp.example.net", "jdoe42", "sess9f8e7d6c5b4a3921", "203.0.113.77", \
    "www.shop-example.org"
TIME = "[28/Nov/2026:03:00:00 +0000]"
CUSTOM = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" "%{X-Forwarded-For}i" %{sid}C'


def scrub(fmt: str, *lines: str | None) -> list[str | None]:
    split = scrub_split(fmt)
    assert split is not None
    return pl.DataFrame({"line": list(lines)}, schema={"line": pl.String}).select(
        scrub_split_expr("line", split))["line"].to_list()


@pytest.mark.parametrize(
    ("fmt", "line", "scrubbed"),
    [
        # Junk after a valid prefix: every field found by position.
        (CUSTOM, f'{HOST} - {USER} {TIME} "GET /p HTTP/1.1" 200 5 "-" "curl/8.0" "{XFF}" {SESSION} junk {{{{ }}}}',
         f'[host] - [user] {TIME} "GET /p HTTP/1.1" 200 5 "-" "curl/8.0" "[ip]" [session] junk {{{{ [session]'),
        # Broken in the middle (a stray quote): the cookie at the end is found from the end.
        (CUSTOM, f'{HOST} - {USER} {TIME} "GET /a"b HTTP/1.1" 200 5 "-" "curl/8.0" "{XFF}" {SESSION}',
         f'[host] - [user] {TIME} "GET /a"b HTTP/1.1" 200 5 "-" "curl/8.0" "[ip]" [session]'),
        # Nothing like the format after three fields: they are taken for the first three (%l is a user name too).
        (CUSTOM, f"{HOST} {USER} {SESSION} {XFF} {TIME} ??? not a request",
         f"[host] [user] [user] [ip] {TIME} ??? not a [session]"),
        # vcombined: the client is replaced, the virtual host kept.
        ("vcombined", f'{VHOST}:443 {HOST} - {USER} {TIME} "GET /p HTTP/1.1" 200 5 "-" "curl/8.0" junk {XFF}',
         f'{VHOST}:443 [host] - [user] {TIME} "GET /p HTTP/1.1" 200 5 "-" "curl/8.0" junk [ip]'),
        # nginx with the tolerated trailing X-Forwarded-For field; IPs in other fields are scrubbed too.
        ("nginx", f'198.51.100.1 - - {TIME} "GET /?from=10.1.2.3 HTTP/1.1" 200 5 "-" "ua" "{XFF}, {HOST}" x',
         f'[host] - - {TIME} "GET /?from=[ip] HTTP/1.1" 200 5 "-" "ua" "[ip], [host]" x'),
        # An nginx format with a cookie and the real-IP header.
        ('$remote_addr [$time_local] "$request" $status $cookie_sid "$http_x_real_ip"',
         f'{HOST} {TIME} "GET / HTTP/1.1" 2OO {SESSION} "{XFF}"',
         f'[host] {TIME} "GET / HTTP/1.1" 2OO [session] "[ip]"'),
    ],
    ids=["junk-tail", "broken-middle", "unparsable", "vcombined", "nginx-trailing", "nginx-custom"],
)
def test_a_rejected_line_loses_each_personal_value_of_its_format(fmt: str, line: str, scrubbed: str) -> None:
    assert scrub(fmt, line) == [scrubbed]


def test_dashes_empty_and_missing_values_stay_as_they_are() -> None:
    assert scrub("combined", '- - - [x] "" 200 5 "-" "-"', "", None) == ['- - - [x] "" 200 5 "-" "-"', "", None]


def test_host_names_are_scrubbed_where_the_line_does_not_split_but_paths_and_versions_stay() -> None:
    line = "  odd start from gw.example.net:8080 via user@mail.example.com for /index.html Firefox/128.0"
    assert scrub("combined", line) == [
        "  odd start from [host]:8080 via user@[host] for /index.html Firefox/128.0"]


def test_a_format_that_does_not_compile_has_no_split() -> None:
    assert scrub_split("%h %Z") is None


def test_rejects_are_scrubbed_by_the_split_of_their_own_format() -> None:
    frame = pl.DataFrame({
        "line": [f"{VHOST}:80 {HOST} - {USER} {TIME} junk", f"{HOST} - {USER} {TIME} junk",
                 f"{HOST} {USER} 10.0.0.1 x"],
        "format": ["vcombined", "combined", None],
        "scrubbed_at": [None, None, None],
    }, schema_overrides={"scrubbed_at": pl.Datetime("us", "UTC")})
    now = datetime(2026, 12, 7, tzinfo=UTC)
    out = frame.with_columns(reject_scrub_exprs(frame, pl.lit(True), now))
    assert out["line"].to_list() == [
        f"{VHOST}:80 [host] - [user] {TIME} junk",  # vcombined: the vhost stays
        f"[host] - [user] {TIME} junk",
        "[host] jdoe42 [ip] x",  # no format known: leading field, IPs and host names
    ]
    assert out["scrubbed_at"].to_list() == [now] * 3
