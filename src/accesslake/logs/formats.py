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
from accesslake.logs.directives import Directive, apache_directive, nginx_directive

__all__ = ["PRESETS", "Directive", "FieldSpec", "compile_format", "detect_format", "format_pieces"]

QUOTED = r'(?:[^"\\]|\\.)*'

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
        pieces.append(("", apache_directive(letter, arg, where, cookie)))
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
        pieces.append(("", nginx_directive(var, f"{option} at column {match.start() + 1}", cookie)))
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
