"""Where the personal values of a log line are, even when the line does not parse: a tolerant split.

A rejected line past the limit loses every value its format says is personal (rule A4). For that,
:func:`scrub_split` turns a format into one regular expression over a whole line in which every
piece of the format (literal text included) is a named group, so the line can be put together
again with each personal value replaced:

- ``a<i>``: from the start, as many of the format's pieces as the line still matches (junk after a
  valid prefix, a broken quote or a missing field ends the match there);
- ``b<i>``: from the end, as many pieces as match backwards (the cookie at the end of a line broken
  in the middle is still found);
- ``mid``: what lies between them; ``trail``: extra quoted fields the format tolerates (nginx).

Each group comes with its treatment: a placeholder (``[host]`` for the client, ``[user]``,
``[session]``, ``[ip]``) for a personal directive, :data:`IPS` (IP-like tokens scrubbed) for the
other directives, :data:`ANY` (IP-like and host-like tokens scrubbed) for ``mid`` and ``trail``,
:data:`KEEP` for the format's literal text. :func:`accesslake.ingest.scrub.scrub_split_expr` applies it.
"""

from __future__ import annotations

import re
from functools import lru_cache

from accesslake.errors import FormatError
from accesslake.logs.formats import QUOTED, Piece, format_pieces

__all__ = ["ANY", "IPS", "KEEP", "Split", "scrub_split"]

KEEP, IPS, ANY = "keep", "ips", "any"

#: (regular expression, (group, treatment) in line order)
Split = tuple[str, tuple[tuple[str, str], ...]]


def _literal(text: str) -> str:
    return " +".join(re.escape(chunk) for chunk in text.split(" "))


def _tolerant(pieces: list[Piece]) -> list[tuple[str, str]]:
    """(pattern, treatment) per piece, each value pattern loose enough for a damaged line."""
    out: list[tuple[str, str]] = []
    for index, (literal, directive) in enumerate(pieces):
        if directive is None:
            out.append((_literal(literal), KEEP))
            continue
        prev_lit = pieces[index - 1][0] if index and pieces[index - 1][1] is None else ""
        next_lit = pieces[index + 1][0] if index + 1 < len(pieces) and pieces[index + 1][1] is None else ""
        treatment = directive.personal or IPS
        if directive.brackets:
            out += [(r"\[", KEEP), (r"[^\]]*", treatment), (r"\]", KEEP)]
        elif prev_lit.endswith('"') and next_lit.startswith('"'):
            out.append((QUOTED, treatment))
        elif directive.field in ("time", "request"):  # their values may hold spaces
            out.append((directive.pattern, treatment))
        else:  # a token, up to the literal text that follows it (as in "%v:%p")
            stop = re.escape(next_lit[0]) if next_lit[:1].strip() else ""
            out.append((rf"[^\s{stop}]+", treatment))
    return out


@lru_cache(maxsize=64)
def scrub_split(fmt: str) -> Split | None:
    """The tolerant split of format ``fmt`` (a preset name or a format string); None if it does not compile."""
    try:
        pieces, trailing = format_pieces(fmt)
    except FormatError:
        return None
    parts = _tolerant(pieces)
    prefix = ""
    for index in reversed(range(len(parts))):
        prefix = f"(?:(?P<a{index}>{parts[index][0]}){prefix})?"
    suffix = ""
    for index, (pattern, _) in enumerate(parts):
        suffix = f"(?:{suffix}(?P<b{index}>{pattern}))?"
    trail = f'(?P<trail>(?: +"{QUOTED}")*)' if trailing else ""
    regex = rf"(?s)^{prefix}(?P<mid>.*?){suffix}{trail}(?P<ws>\s*)$"
    groups = [(f"a{i}", treatment) for i, (_, treatment) in enumerate(parts)] + [("mid", ANY)]
    groups += [(f"b{i}", treatment) for i, (_, treatment) in enumerate(parts)]
    groups += [("trail", ANY)] if trailing else []
    return regex, (*groups, ("ws", KEEP))
