"""Formats: presets, Apache LogFormat and nginx log_format strings, detection, errors."""

from __future__ import annotations

import polars as pl
import pytest

from accesslake.errors import AccesslakeError, FormatError
from accesslake.logs.formats import PRESETS, compile_format, detect_format

CLF = "10/Oct/2000:13:55:36 -0700"
COMMON = f'192.0.2.1 - frank [{CLF}] "GET /a.gif HTTP/1.0" 200 2326'
COMBINED = f'{COMMON} "http://example.com/start" "Mozilla/4.08 [en] (Win98; I ;Nav)"'
VCOMBINED = f"www.example.com:443 {COMBINED}"
NGINX_XFF = f'{COMBINED} "203.0.113.5, 10.0.0.1"'


@pytest.mark.parametrize(
    ("fmt", "fields"),
    [
        ("common", {"host", "remote_user", "time", "request", "status", "bytes"}),
        ("combined", {"host", "remote_user", "time", "request", "status", "bytes", "referrer", "user_agent"}),
        ("vcombined", {"vhost", "host", "remote_user", "time", "request", "status", "bytes", "referrer",
                       "user_agent"}),
        ("nginx", {"host", "remote_user", "time", "request", "status", "bytes", "referrer", "user_agent"}),
    ],
)
def test_presets_store_their_fields(fmt: str, fields: set[str]) -> None:
    spec = compile_format(fmt)
    assert spec.name == fmt
    assert set(spec.fields) == fields
    assert spec.time_kind == "clf"


def test_a_preset_and_its_logformat_are_the_same_pattern() -> None:
    assert compile_format("combined").regex == compile_format(PRESETS["combined"]).regex


@pytest.mark.parametrize(
    ("fmt", "field", "value"),
    [
        ("%h %t %D", "response_unit", 1e-3),  # microseconds
        ("%h %t %T", "response_unit", 1000.0),  # seconds
        ("%h %t %{ms}T", "response_unit", 1.0),
        ("%h %t %{us}T", "response_unit", 1e-3),
        ("$remote_addr $msec $request_time", "response_unit", 1000.0),
        ("%h %{%Y-%m-%d %H:%M:%S}t", "time_kind", "strftime"),
        ("%h %{%Y-%m-%d %H:%M:%S}t", "time_format", "%Y-%m-%d %H:%M:%S"),
        ("%h %{msec}t", "time_kind", "epoch"),
        ("$remote_addr $time_iso8601", "time_kind", "iso"),
        ("$remote_addr $msec", "time_kind", "epoch"),
        ("$remote_addr [$time_local]", "time_kind", "clf"),
    ],
)
def test_time_and_response_time_units(fmt: str, field: str, value: object) -> None:
    assert getattr(compile_format(fmt), field) == value


@pytest.mark.parametrize(
    ("fmt", "fields"),
    [
        ('%h %l %u %t "%r" %>s %b %D %v %{sid}C "%{X-Forwarded-For}i"',
         ("host", "remote_user", "time", "request", "status", "bytes", "response_time", "vhost", "session_id",
          "forwarded_for")),
        ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent $request_time $host '
         '"$cookie_sid" "$http_x_forwarded_for"',
         ("host", "remote_user", "time", "request", "status", "bytes", "response_time", "vhost", "session_id",
          "forwarded_for")),
        # Values that are not stored are matched and dropped.
        ('%h %l %u %t "%r" %>s %b %p %{Host}i %k', ("host", "remote_user", "time", "request", "status", "bytes")),
        ("$remote_addr $request_length $upstream_addr $ssl_protocol $msec $status", ("host", "time", "status")),
        # A field logged twice (%b and %O) keeps the first.
        ("%h %t %b %O", ("host", "time", "bytes")),
    ],
)
def test_custom_formats_store_the_documented_fields(fmt: str, fields: tuple[str, ...]) -> None:
    assert compile_format(fmt).fields == fields


def test_the_wanted_cookie_is_the_session_id() -> None:
    spec = compile_format('%h %{sec}t %{lang}C %{sid}C', cookie="sid")
    got = pl.Series(["192.0.2.1 971211336 de abc123"]).str.extract_groups(spec.regex).struct.unnest()
    assert got.row(0, named=True) == {"host": "192.0.2.1", "time": "971211336", "session_id": "abc123"}
    nginx = compile_format("$remote_addr $msec $cookie_lang $cookie_sid", cookie="sid")
    got = pl.Series(["192.0.2.1 971211336.000 de abc123"]).str.extract_groups(nginx.regex).struct.unnest()
    assert got["session_id"].to_list() == ["abc123"]


def test_escaped_quotes_in_a_configured_format_string() -> None:
    # As written in httpd.conf: LogFormat "%h \"%r\" %>s" -- the backslashes are the config's quoting.
    assert compile_format('%h %t \\"%r\\" %>s').fields == ("host", "time", "request", "status")


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("", "--format: empty format; use a preset (common, combined, vcombined, nginx) or a LogFormat string"),
        ("   ", "--format: empty format; use a preset (common, combined, vcombined, nginx) or a LogFormat string"),
        ("comined", "--format: 'comined' is neither a preset (common, combined, vcombined, nginx) nor a format "
                    "string with %-directives (Apache) or $variables (nginx)"),
        ("%h %Z", "--format at column 4: unknown Apache directive %Z; supported: %h %a %l %u %t"),
        ("%h %{X}Z", "--format at column 4: unknown Apache directive %{X}Z; supported:"),
        ("%h %{X}b", "--format at column 4: unknown Apache directive %{X}b; supported:"),
        ("%h %i", "--format at column 4: %i needs a header name, e.g. %{Referer}i"),
        ("%h %C", "--format at column 4: %C needs a cookie name, e.g. %{sid}C"),
        ("%h %{min}T", "--format at column 4: %{min}T: unit must be s, ms or us"),
        ("%h %{%Y-%Q}t", "--format at column 4: unsupported time conversion %Q in '%Y-%Q'"),
        ("$remote_addr $foo_bar", "--format at column 14: unknown nginx variable $foo_bar; supported: $remote_addr"),
        ("$remote_addr ${nope}", "--format at column 14: unknown nginx variable $nope;"),
        ("%l %p", "--format: format '%l %p' logs nothing accesslake stores"),
        # A format without the request time compiles to nothing that can be stored (issue 11).
        ("%h %h %h", "--format: format '%h %h %h' logs no request time; add %t"),
        ("%u", "--format: format '%u' logs no request time"),
        ("$remote_addr ${", "--format: format '$remote_addr ${' logs no request time"),
        ('%h "%r" %>s', "--format: format '%h \"%r\" %>s' logs no request time"),
    ],
)
def test_format_errors_name_the_option_and_the_fault(fmt: str, message: str) -> None:
    with pytest.raises(FormatError) as info:
        compile_format(fmt)
    assert message in str(info.value)
    assert isinstance(info.value, AccesslakeError)


def test_the_option_named_in_errors_is_the_callers() -> None:
    with pytest.raises(FormatError, match=r"^\[site\.shop\] format at column 4: unknown Apache directive %Z"):
        compile_format("%h %Z", option="[site.shop] format")


# ----------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("line", "preset"),
    [(COMMON, "common"), (COMBINED, "combined"), (VCOMBINED, "vcombined"), (NGINX_XFF, "nginx"),
     (COMBINED + "   ", "combined")],
)
def test_detection_picks_the_preset_of_the_first_lines(line: str, preset: str) -> None:
    spec = detect_format(pl.Series([line] * 5))
    assert spec is not None and spec.name == preset


def test_detection_follows_the_majority_and_ignores_empty_lines() -> None:
    sample = pl.Series([COMMON, "", "junk", COMBINED, COMBINED, ""])
    spec = detect_format(sample)
    assert spec is not None and spec.name == "combined"


@pytest.mark.parametrize("sample", [[], [""], ["xxxxxxxxxxxx", "not a log line"]])
def test_nothing_detected_in_junk(sample: list[str]) -> None:
    assert detect_format(pl.Series(sample, dtype=pl.String)) is None
