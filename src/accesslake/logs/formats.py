"""Log formats: presets, Apache ``LogFormat`` and nginx ``log_format`` strings.

A format compiles to a :class:`FieldSpec`: one anchored regular expression with
a named group per stored field, and how to read the time and response time.
Users give formats the way their server config writes them::

    --format combined                                   # a preset
    --format '%h %l %u %t "%r" %>s %b %D "%{sid}C"'     # Apache LogFormat
    --format '$remote_addr - $remote_user [$time_local] "$request" ...'  # nginx

Presets: ``common``, ``combined``, ``vcombined`` (``%v:%p`` first) and
``nginx`` (nginx's default ``combined``, tolerating extra trailing quoted
fields such as ``"$http_x_forwarded_for"``). Directives whose values are not
stored (``%l``, ``%p``, ``$request_length`` ...) are matched and dropped. The
session id comes from a cookie: ``%{NAME}C`` / ``$cookie_NAME``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from accesslake.errors import FormatError

__all__ = ["PRESETS", "Directive", "FieldSpec", "compile_format", "detect_format", "format_pieces"]

QUOTED = r'(?:[^"\\]|\\.)*'
CLF_TIME = r"\d{1,2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}"

PRESETS: dict[str, str] = {
    "common": '%h %l %u %t "%r" %>s %b',
    "combined": '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"',
    "vcombined": '%v:%p %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"',
    "nginx": (
        '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" "$http_user_agent"'
    ),
}
# Detection order: on equal match counts the earlier (stricter) preset wins.
DETECT_ORDER = ("vcombined", "combined", "nginx", "common")


@dataclass(frozen=True)
class FieldSpec:
    """A compiled log format.

    ``regex`` matches a whole line (trailing whitespace allowed); its named
    groups are stored field names (``host``, ``time``, ``request``, ``status``
    ...). ``time_kind`` is ``clf``, ``iso``, ``epoch`` or ``strftime`` (then
    ``time_format`` holds the pattern; without ``%z`` the site zone applies).
    ``response_unit`` scales the ``response_time`` group to milliseconds.
    """

    name: str
    source: str
    regex: str
    fields: tuple[str, ...]
    time_kind: str | None = None
    time_format: str | None = None
    response_unit: float | None = None  # milliseconds per logged unit
    quoted: frozenset[str] = field(default_factory=frozenset)
    # Same as ``regex`` but the last quoted field may lack its closing quote (a
    # server truncated the line). Slower, so only tried on lines ``regex`` misses.
    tolerant_regex: str | None = None

    @property
    def has_time(self) -> bool:
        return "time" in self.fields

    @property
    def text(self) -> str:
        """The format as it compiles again (stored with rejected lines): a preset name or the format string."""
        return self.name if self.name in PRESETS else self.source


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


def _apache_directive(letter: str, arg: str | None, where: str, cookie: str | None) -> Directive:
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


def _nginx_directive(name: str, where: str, cookie: str | None) -> Directive:
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


_APACHE_TOKEN = re.compile(r"%[<>!\d,]*(?:\{(?P<arg>[^}]*)\})?[<>]?(?P<letter>[A-Za-z%^])(?P<x>[a-z]{2})?")
_NGINX_TOKEN = re.compile(r"\$(?:\{(?P<b>\w+)\}|(?P<n>[A-Za-z_]\w*))")


Piece = tuple[str, Directive | None]  # literal text, or a directive (then the text is "")


def _assemble(name: str, source: str, pieces: Sequence[Piece], trailing_fields: bool, option: str) -> FieldSpec:
    """Join literal text and directives into one anchored regex."""
    parts: list[str] = []
    fields: list[str] = []
    quoted: set[str] = set()
    time_kind = time_format = None
    response_unit = None
    n_ignored = 0
    for index, (literal, directive) in enumerate(pieces):
        if directive is None:
            parts.append(" +".join(re.escape(chunk) for chunk in literal.split(" ")))
            continue
        prev_lit = pieces[index - 1][0] if index and pieces[index - 1][1] is None else ""
        next_lit = pieces[index + 1][0] if index + 1 < len(pieces) and pieces[index + 1][1] is None else ""
        in_quotes = prev_lit.endswith('"') and next_lit.startswith('"')
        pattern = QUOTED if in_quotes and directive.field != "time" else directive.pattern
        target = directive.field
        if target is not None and target in fields:
            target = None  # a field logged twice (%b and %O): keep the first
        if target is None:
            n_ignored += 1
            parts.append(f"(?:{pattern})")
            continue
        fields.append(target)
        if in_quotes:
            quoted.add(target)
        if target == "time":
            time_kind, time_format = directive.time_kind, directive.time_format
        if target == "response_time":
            response_unit = directive.response_unit
        group = f"(?<{target}>{pattern})"
        parts.append(rf"\[{group}\]" if directive.brackets else group)
    if not fields:
        raise FormatError(f"{option}: format {source!r} logs nothing accesslake stores (no %h, %t, %r, ...)")
    if "time" not in fields:
        raise FormatError(
            f"{option}: format {source!r} logs no request time; add %t (or %{{...}}t), $time_local, "
            "$time_iso8601 or $msec: every stored row needs its time"
        )
    body = "".join(parts)
    tail = r'(?: +"' + QUOTED + r'")*' if trailing_fields else ""
    regex = rf"^{body}{tail}\s*$"
    tolerant = None
    if pieces and pieces[-1][1] is None and pieces[-1][0] == '"' and body.endswith('"'):
        tolerant = rf"^{body[:-1]}\"?{tail}\s*$"
    try:
        re.compile(regex.replace("(?<", "(?P<"))
    except re.error as exc:
        raise FormatError(f"format {source!r} compiles to an invalid pattern: {exc}") from exc
    return FieldSpec(
        name, source, regex, tuple(fields), time_kind, time_format, response_unit, frozenset(quoted), tolerant
    )


def _split(source: str, token: re.Pattern[str]) -> list[tuple[str, re.Match[str] | None]]:
    out: list[tuple[str, re.Match[str] | None]] = []
    pos = 0
    for match in token.finditer(source):
        if match.start() > pos:
            out.append((source[pos:match.start()], None))
        out.append(("", match))
        pos = match.end()
    if pos < len(source):
        out.append((source[pos:], None))
    return out


def _unescape(source: str) -> str:
    return source.replace('\\"', '"').replace("\\t", "\t")


def compile_format(fmt: str, *, cookie: str | None = None, option: str = "--format") -> FieldSpec:
    """Compile a preset name, an Apache ``LogFormat`` or an nginx ``log_format``."""
    name, source, pieces, trailing = _parse(fmt, cookie, option)
    return _assemble(name, source, pieces, trailing, option)


def format_pieces(fmt: str, *, option: str = "--format") -> tuple[list[Piece], bool]:
    """The literal text and directives of ``fmt`` in order (every cookie a session), and whether extra
    quoted fields may follow (the nginx preset)."""
    _, _, pieces, trailing = _parse(fmt, None, option)
    return pieces, trailing


def _parse(fmt: str, cookie: str | None, option: str) -> tuple[str, str, list[Piece], bool]:
    """(name, source, pieces, trailing fields) of a preset name, a LogFormat or a log_format."""
    text = fmt.strip()
    if not text:
        raise FormatError(f"{option}: empty format; use a preset ({', '.join(PRESETS)}) or a LogFormat string")
    if text in PRESETS:
        source = PRESETS[text]
        if text == "nginx":
            return text, source, _nginx_pieces(source, cookie, option), True
        _, source, preset, _ = _parse(source, cookie, option)
        return text, source, preset, False
    text = _unescape(text)
    if "$" in text and "%" not in text.replace("%%", ""):
        return "nginx-custom", text, _nginx_pieces(text, cookie, option), False
    if "%" not in text:
        raise FormatError(
            f"{option}: {fmt!r} is neither a preset ({', '.join(PRESETS)}) nor a format string "
            "with %-directives (Apache) or $variables (nginx)"
        )
    pieces: list[Piece] = []
    for literal, match in _split(text, _APACHE_TOKEN):
        if match is None:
            pieces.append((literal, None))
            continue
        letter, arg = match["letter"], match["arg"]
        where = f"{option} at column {match.start() + 1}"
        if letter == "%":
            pieces.append(("%", None))
            continue
        if match["x"] and letter == "^":
            pieces.append(("", Directive(None, r"\S+")))
            continue
        pieces.append(("", _apache_directive(letter, arg, where, cookie)))
        if match["x"]:
            pieces.append((match["x"], None))
    return "apache-custom", fmt, _merge_literals(pieces), False


def _nginx_pieces(text: str, cookie: str | None, option: str) -> list[Piece]:
    pieces: list[Piece] = []
    for literal, match in _split(text, _NGINX_TOKEN):
        if match is None:
            pieces.append((literal, None))
            continue
        var = match["b"] or match["n"]
        pieces.append(("", _nginx_directive(var, f"{option} at column {match.start() + 1}", cookie)))
    return _merge_literals(pieces)


def _merge_literals(pieces: list[Piece]) -> list[Piece]:
    merged: list[Piece] = []
    for literal, directive in pieces:
        if directive is None and merged and merged[-1][1] is None:
            merged[-1] = (merged[-1][0] + literal, None)
        else:
            merged.append((literal, directive))
    return merged


def detect_format(sample: pl.Series, *, cookie: str | None = None) -> FieldSpec | None:
    """The preset matching most of ``sample`` (a few hundred lines), or None."""
    lines = sample.filter(sample.str.len_bytes() > 0)
    if lines.len() == 0:
        return None
    best: tuple[int, FieldSpec] | None = None
    for name in DETECT_ORDER:
        spec = compile_format(name, cookie=cookie)
        hits = int(lines.str.contains(spec.regex).sum())
        if hits and (best is None or hits > best[0]):
            best = (hits, spec)
    return best[1] if best else None
