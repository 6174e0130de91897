"""The directives of log formats: Apache ``LogFormat`` %-directives and nginx ``$variables``.

Each becomes a :class:`Directive`: the field it stores (or None: matched and
dropped), the pattern of its value, how its time or response time reads, and
what it shows once scrubbed when it is personal (client, user, session,
address). :mod:`accesslake.logs.formats` assembles them into a format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from accesslake.errors import FormatError

__all__ = ["ADDRESS", "CLF_TIME", "CLIENT", "SESSION", "USER", "Directive", "apache_directive", "nginx_directive"]

CLF_TIME = r"\d{1,2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}"


@dataclass(frozen=True)
class Directive:
    """One %-directive or $variable: the field it stores, its value pattern, and whether it is personal."""

    field: str | None  # stored field, or None to match and drop
    pattern: str  # value pattern when unquoted
    time_kind: str | None = None
    time_format: str | None = None
    response_unit: float | None = None
    brackets: bool = False  # Apache %t logs "[...]" around the time
    personal: str | None = None  # what a scrubbed line shows instead ("[host]", "[user]", "[session]", "[ip]")


CLIENT, USER, SESSION, ADDRESS = "[host]", "[user]", "[session]", "[ip]"
# Request headers that carry a person's address, credentials or session (scrubbed from rejected lines).
_PERSONAL_HEADERS = {
    "x-forwarded-for": ADDRESS, "x-real-ip": ADDRESS, "forwarded": ADDRESS, "true-client-ip": ADDRESS,
    "cf-connecting-ip": ADDRESS, "x-client-ip": ADDRESS, "client-ip": ADDRESS, "x-cluster-client-ip": ADDRESS,
    "cookie": SESSION, "authorization": SESSION, "proxy-authorization": SESSION, "from": USER,
}


_STRFTIME = {
    "Y": r"\d{4}", "m": r"\d{1,2}", "d": r"\d{1,2}", "e": r" ?\d{1,2}", "H": r"\d{1,2}",
    "M": r"\d{2}", "S": r"\d{2}", "b": r"[A-Za-z]{3}", "h": r"[A-Za-z]{3}", "B": r"[A-Za-z]+",
    "a": r"[A-Za-z]{3}", "A": r"[A-Za-z]+", "y": r"\d{2}", "j": r"\d{3}", "z": r"[+-]\d{2}:?\d{2}|Z",
    "T": r"\d{2}:\d{2}:\d{2}", "F": r"\d{4}-\d{2}-\d{2}", "f": r"\d+", "%": "%",
}


def _strftime_pattern(fmt: str, where: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            code = fmt[i + 1]
            if code not in _STRFTIME:
                raise FormatError(f"{where}: unsupported time conversion %{code} in {fmt!r}")
            out.append(f"(?:{_STRFTIME[code]})")
            i += 2
        else:
            out.append(re.escape(ch))
            i += 1
    return "".join(out)


def _apache_time(arg: str | None, where: str) -> Directive:
    if arg is None:
        return Directive("time", CLF_TIME, "clf", brackets=True)
    text = arg.removeprefix("begin:").removeprefix("end:")
    if text in ("sec", "msec", "usec", "msec_frac", "usec_frac"):
        if text.endswith("_frac"):
            return Directive(None, r"\d+")
        scale = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}[text]
        return Directive("time", r"\d+", "epoch", str(scale))
    return Directive("time", _strftime_pattern(text, where), "strftime", text)


def apache_directive(letter: str, arg: str | None, where: str, cookie: str | None) -> Directive:
    header = (arg or "").lower()
    simple = {
        "h": Directive("host", r"\S+", personal=CLIENT),
        "a": Directive("host", r"\S+", personal=CLIENT) if arg is None else Directive(None, r"\S+", personal=ADDRESS),
        "l": Directive(None, r"\S+", personal=USER),
        "u": Directive("remote_user", r"\S+", personal=USER),
        "r": Directive("request", r"\S+(?: \S+)*?"),
        "s": Directive("status", r"\d{3}|-"),
        "b": Directive("bytes", r"\d+|-"),
        "B": Directive("bytes", r"\d+"),
        "O": Directive("bytes", r"\d+|-"),
        "I": Directive(None, r"\d+|-"),
        "S": Directive(None, r"\d+|-"),
        "D": Directive("response_time", r"\d+", response_unit=1e-3),
        "v": Directive("vhost", r"[^\s:]+"),
        "V": Directive("vhost", r"[^\s:]+"),
        "m": Directive("method", r"[A-Za-z]+"),
        "U": Directive("path", r"[^\s?]*"),
        "q": Directive("query", r"(?:\?\S*)?"),
        "H": Directive("protocol", r"\S+"),
        "A": Directive(None, r"\S+"),
        "p": Directive(None, r"\d+|-"),
        "P": Directive(None, r"\S+"),
        "k": Directive(None, r"\d+"),
        "X": Directive(None, r"[X+\-]"),
        "L": Directive(None, r"\S+"),
        "R": Directive(None, r"\S+"),
        "f": Directive(None, r"\S+"),
    }
    if letter == "t":
        return _apache_time(arg, where)
    if letter == "T":
        unit = {None: 1000.0, "s": 1000.0, "ms": 1.0, "us": 1e-3}.get(arg)
        if arg is not None and unit is None:
            raise FormatError(f"{where}: %{{{arg}}}T: unit must be s, ms or us")
        return Directive("response_time", r"\d+(?:\.\d+)?", response_unit=unit)
    if letter == "i":
        names = {"referer": "referrer", "referrer": "referrer", "user-agent": "user_agent",
                 "x-forwarded-for": "forwarded_for"}
        if not arg:
            raise FormatError(f"{where}: %i needs a header name, e.g. %{{Referer}}i")
        return Directive(names.get(header), r"\S+", personal=_PERSONAL_HEADERS.get(header))
    if letter == "C":
        if not arg:
            raise FormatError(f"{where}: %C needs a cookie name, e.g. %{{sid}}C")
        wanted = cookie is None or arg == cookie
        return Directive("session_id" if wanted else None, r"\S+", personal=SESSION)
    if letter in ("e", "n", "o", "x", "^"):
        return Directive(None, r"\S+")
    if letter in simple and (arg is None or letter in ("a", "h", "p", "P", "s", "U")):
        return simple[letter]
    raise FormatError(
        f"{where}: unknown Apache directive %{'{' + arg + '}' if arg else ''}{letter}; "
        "supported: %h %a %l %u %t %{...}t %r %>s %b %B %O %D %T %v %m %U %q %H %{Header}i %{Cookie}C ..."
    )


_NGINX_IGNORED = {
    "request_length", "connection", "connection_requests", "pipe", "gzip_ratio", "scheme",
    "server_port", "server_addr", "remote_port", "ssl_protocol", "ssl_cipher", "request_id",
    "msec_frac", "hostname", "pid", "bytes_received", "content_length", "content_type",
    "document_root", "https", "realpath_root", "request_completion", "server_name_port",
}


def nginx_directive(name: str, where: str, cookie: str | None) -> Directive:
    table = {
        "remote_addr": Directive("host", r"\S+", personal=CLIENT),
        "realip_remote_addr": Directive(None, r"\S+", personal=ADDRESS),
        "remote_user": Directive("remote_user", r"\S+", personal=USER),
        "time_local": Directive("time", CLF_TIME, "clf"),
        "time_iso8601": Directive("time", r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:[+-]\d{2}:\d{2}|Z)", "iso"),
        "msec": Directive("time", r"\d+\.\d+", "epoch", "1.0"),
        "request": Directive("request", r"\S+(?: \S+)*?"),
        "request_method": Directive("method", r"[A-Za-z]+"),
        "request_uri": Directive("target", r"\S+"),
        "uri": Directive("path", r"\S+"),
        "document_uri": Directive("path", r"\S+"),
        "args": Directive("query", r"\S*"),
        "query_string": Directive("query", r"\S*"),
        "server_protocol": Directive("protocol", r"\S+"),
        "status": Directive("status", r"\d{3}|-"),
        "body_bytes_sent": Directive("bytes", r"\d+|-"),
        "bytes_sent": Directive("bytes", r"\d+|-"),
        "http_referer": Directive("referrer", r"\S+"),
        "http_user_agent": Directive("user_agent", r"\S+"),
        "http_x_forwarded_for": Directive("forwarded_for", r"\S+", personal=ADDRESS),
        "request_time": Directive("response_time", r"\d+(?:\.\d+)?", response_unit=1000.0),
        "host": Directive("vhost", r"\S+"),
        "http_host": Directive("vhost", r"\S+"),
        "server_name": Directive("vhost", r"\S+"),
    }
    if name in table:
        return table[name]
    if name.startswith("cookie_"):
        wanted = cookie is None or name[len("cookie_"):] == cookie
        return Directive("session_id" if wanted else None, r"\S+", personal=SESSION)
    if name.startswith("http_"):
        return Directive(None, r"\S+", personal=_PERSONAL_HEADERS.get(name[5:].replace("_", "-")))
    if name in _NGINX_IGNORED or name.startswith(("sent_http_", "upstream_", "arg_", "ssl_")):
        return Directive(None, r"\S+")
    raise FormatError(
        f"{where}: unknown nginx variable ${name}; supported: $remote_addr $remote_user $time_local "
        "$time_iso8601 $msec $request $status $body_bytes_sent $http_referer $http_user_agent "
        "$request_time $host $cookie_NAME $http_x_forwarded_for ..."
    )
