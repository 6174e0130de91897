"""Literal strings a regular expression needs: the pre-filter of :mod:`accesslake.logs.agents`.

The agent lists hold about 2,700 patterns. Trying each on every distinct user
agent would cost milliseconds per string; instead every pattern is reduced, once,
to a set of lower-case literals one of which each of its matches must contain
(9 in 10 patterns are a plain string anyway). One Aho-Corasick pass over a user
agent then names the few patterns worth trying.

Works on Python's own parse tree of a pattern (``re._parser``, Python 3.11+),
case-insensitively. Conservative: where a construct is not understood, the
literals found before and after it are kept and nothing is guessed.

- :func:`split_top`: a pattern's top-level ``|`` branches;
- :func:`plain_literal`: the pattern itself, when it has no regex syntax;
- :func:`required_literals`: literals one of which every match contains;
- :func:`exact_strings`: for ``^...$`` over a small finite set, that set.
"""

from __future__ import annotations

import re
import re._constants as sre  # type: ignore[import-not-found]
import re._parser as sre_parse  # type: ignore[import-not-found]
from typing import Any, Final

__all__ = ["exact_strings", "plain_literal", "required_literals", "split_top"]

_LIMIT: Final = 64  # most strings in one finite set
_ZERO_WIDTH: Final = (sre.AT, sre.ASSERT_NOT, sre.ASSERT)
_PLAIN: Final = re.compile(r"(?:[^.^$*+?{}\[\]|()\\]|\\[^A-Za-z0-9])+")
_ESCAPED: Final = re.compile(r"\\(.)")



def _exact(op: Any, av: Any) -> set[str] | None:
    """The finite set of strings this node matches (lower case), or None when unbounded or too big."""
    if op is sre.LITERAL:
        return {chr(av).lower()}
    if op is sre.IN:
        chars: set[str] = set()
        for kind, value in av:
            if kind is sre.LITERAL:
                chars.add(chr(value).lower())
            elif kind is sre.RANGE and value[1] - value[0] < 16:
                chars |= {chr(x).lower() for x in range(value[0], value[1] + 1)}
            else:
                return None
        return chars
    if op is sre.SUBPATTERN:
        return _exact_seq(av[-1])
    if op is sre.BRANCH:
        out: set[str] = set()
        for branch in av[1]:
            found = _exact_seq(branch)
            if found is None:
                return None
            out |= found
        return out if len(out) <= _LIMIT else None
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and av[0] == 0 and av[1] == 1:
        found = _exact_seq(av[2])
        return None if found is None else found | {""}
    if op in _ZERO_WIDTH:
        return {""}
    return None


def _exact_seq(nodes: Any) -> set[str] | None:
    acc = {""}
    for op, av in nodes:
        found = _exact(op, av)
        if found is None:
            return None
        acc = {a + b for a in acc for b in found}
        if len(acc) > _LIMIT:
            return None
    return acc


def _score(found: set[str] | None) -> int:
    return -1 if not found else min(map(len, found))


def _required_seq(nodes: Any) -> set[str] | None:
    """The best set of literals one of which every match of this sequence contains."""
    best: set[str] | None = None
    window: set[str] = {""}

    def consider(found: set[str] | None) -> None:
        nonlocal best
        if found and "" not in found and _score(found) > _score(best):
            best = found

    for op, av in nodes:
        if op in _ZERO_WIDTH:
            continue
        found = _exact(op, av)
        if found is not None:
            grown = {a + b for a in window for b in found}
            if len(grown) <= _LIMIT:
                window = grown
                consider(window)
                continue
            consider(window)
            window = set(found)
            consider(window)
            continue
        consider(window)
        window = {""}
        if op is sre.SUBPATTERN:
            consider(_required_seq(av[-1]))
        elif op is sre.BRANCH:
            alternatives = [_required_seq(branch) for branch in av[1]]
            if all(alternatives):
                consider(set().union(*(a for a in alternatives if a)))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and av[0] >= 1:
            consider(_required_seq(av[2]))
    consider(window)
    return best


def _unescape(pattern: str) -> str:
    return (_ESCAPED.sub(lambda m: m.group(1), pattern) if "\\" in pattern else pattern).lower()


def plain_literal(pattern: str) -> str | None:
    """The pattern as a lower-case string when it has no regex syntax (escaped punctuation aside)."""
    return _unescape(pattern) if _PLAIN.fullmatch(pattern) else None


def required_literals(pattern: str) -> set[str] | None:
    """Lower-case literals, one of which occurs in every case-insensitive match of ``pattern``."""
    if _PLAIN.fullmatch(pattern):
        return {_unescape(pattern)}
    return _required_seq(list(sre_parse.parse(pattern, re.IGNORECASE)))


def split_top(pattern: str) -> list[str]:
    """Split a pattern at its top-level ``|`` (not inside a group or a character class)."""
    parts: list[str] = []
    depth, in_class, current, i = 0, False, "", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            current += pattern[i:i + 2]
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1:i + 2] == "]":  # "[]...]": the first "]" is a member
                current += ch
                i += 1
                ch = pattern[i]
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(current)
            current, i = "", i + 1
            continue
        current += ch
        i += 1
    parts.append(current)
    return parts


def exact_strings(pattern: str) -> set[str] | None:
    """For ``^...$`` over a finite set of strings, that set (lower case); else None."""
    if not (pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$")):
        return None
    return _exact_seq(list(sre_parse.parse(pattern[1:-1], re.IGNORECASE)))
