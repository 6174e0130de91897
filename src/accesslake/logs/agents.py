"""Who sent a request: a person, a crawler, a feed reader, a monitor, a scanner or a script.

:func:`groups` names the ``agent_group`` of each distinct user-agent string
(one of :data:`GROUPS`); every group but ``person`` is automated (``is_bot``).
Nothing here is a hand-kept list: the rules come from two maintained sources,
read from their installed packages when first needed (no download, nothing
generated from them is stored in this repository):

* Matomo Device Detector's ``regexes/bots.yml`` (a ``category`` per bot),
  ``client/feed_readers.yml`` and ``client/libraries.yml``, as shipped unmodified
  by the PyPI package ``device-detector`` (LGPL-3.0-or-later; only its data
  files are read, its parser is not used: 3-13 ms per string);
* ``crawler-user-agents`` (PyPI, MIT): ``crawler-user-agents.json``, each
  pattern with ``tags``.

Matching follows Matomo: case-insensitive (ASCII), and a pattern must start at
the beginning of the string or after a character that is not ``[A-Z0-9_-]``
(Matomo's ``BOUNDED_REGEX``, applied to both lists). Speed: every pattern branch
is reduced at load time to literals one of which each match contains
(:mod:`accesslake.logs.literals`); one Aho-Corasick pass (``ahocorasick-rs``) over
a lower-cased string names the rules worth trying; they run as ``str.find`` or a
Python regex compiled on first use. About 1 browser string in 100 hits any
literal. Building the tables takes about 0.1 s once per process.

Precedence (:func:`_group`): a named bot (Matomo ``bots.yml`` or
crawler-user-agents) beats a client rule (Matomo feed readers, then libraries),
which beats Matomo's generic rules; when both lists name a bot, the group first
in :data:`_PRECEDENCE` wins (Matomo files Google's feed fetcher under its
all-Google search bot, crawler-user-agents tags it feed reader). ua-parser's
``Spider`` device is the last fallback (``other_bot``).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import ahocorasick_rs
import yaml_rs

from accesslake.errors import ConfigError
from accesslake.logs.literals import exact_strings, plain_literal, required_literals, split_top

__all__ = ["AUTOMATED", "GROUPS", "explain", "groups", "sources"]

#: Values of ``agent_group``; ``person`` is the only one that is not automated.
GROUPS: Final = ("person", "crawler", "feed_reader", "monitor", "scanner", "script", "other_bot")
AUTOMATED: Final = GROUPS[1:]

#: Named groups, first wins; ``other_bot`` only from generic rules (or ua-parser's Spider).
_PRECEDENCE: Final = ("feed_reader", "monitor", "scanner", "crawler", "script", "other_bot")

#: Matomo bots.yml ``category`` -> group. A bot with another or no category is a crawler.
MATOMO_CATEGORY: Final = {
    "Feed Fetcher": "feed_reader", "Feed Reader": "feed_reader", "Feed Parser": "feed_reader",
    "Site Monitor": "monitor", "Network Monitor": "monitor", "Service Agent": "monitor",
    "Validator": "monitor", "Benchmark": "monitor",
    "Security Checker": "scanner", "Security search bot": "scanner",
}

#: crawler-user-agents ``tags`` -> group (with several tags, the first in _PRECEDENCE). Others: crawler.
CUA_TAG: Final = {
    "feed-reader": "feed_reader", "monitoring": "monitor", "scanner": "scanner",
    "http-library": "script", "browser-automation": "script",
}

_MIN_LITERAL: Final = 3
_WORD: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_FEED_WORD: Final = re.compile(r"feed|rss", re.IGNORECASE)


@dataclass(frozen=True)
class Rule:
    group: str
    source: str  # "matomo-bots" | "matomo-feed" | "matomo-lib" | "cua"
    name: str
    pattern: str  # as published
    generic: bool = False


def _package_dir(name: str) -> Path:
    """A package's folder without importing it (importing device_detector costs ~80 ms)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the package {name!r} is not installed; reinstall accesslake's dependencies (uv sync)")
    return Path(next(iter(spec.submodule_search_locations)))


def _entries(path: Path) -> list[dict[str, Any]]:
    entries = yaml_rs.loads(path.read_text("utf-8"))
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: expected a list of agent rules; reinstall the device-detector package")
    return entries


def sources() -> dict[str, str]:
    """Where the rules come from: the data files read, by source name."""
    matomo = _package_dir("device_detector") / "regexes" / "upstream"
    return {"matomo-bots": str(matomo / "bots.yml"), "matomo-feed": str(matomo / "client" / "feed_readers.yml"),
            "matomo-lib": str(matomo / "client" / "libraries.yml"),
            "cua": str(_package_dir("crawleruseragents") / "crawler-user-agents.json")}


def _rules() -> list[Rule]:
    files = {name: Path(path) for name, path in sources().items()}
    rules: list[Rule] = []
    for entry in _entries(files["matomo-bots"]):
        name = str(entry.get("name", ""))
        generic = name == "Generic Bot"
        group = "other_bot" if generic else MATOMO_CATEGORY.get(str(entry.get("category") or ""), "crawler")
        rules.append(Rule(group, "matomo-bots", name, str(entry["regex"]), generic))
    for source, group in (("matomo-feed", "feed_reader"), ("matomo-lib", "script")):
        rules += [Rule(group, source, str(e.get("name", "")), str(e["regex"])) for e in _entries(files[source])]
    for entry in json.loads(files["cua"].read_text("utf-8")):
        tagged = [CUA_TAG.get(tag, "crawler") for tag in entry.get("tags") or ["crawler"]]
        rules.append(Rule(min(tagged, key=_PRECEDENCE.index), "cua", entry["pattern"], entry["pattern"]))
    return rules


def _fixed_lookbehind(pattern: str) -> str:
    """Python wants fixed-width look-behind: ``(?<!a|bc)`` -> ``(?<!a)(?<!bc)`` (Matomo writes the former)."""

    def split(match: re.Match[str]) -> str:
        return "".join(f"(?<{match.group(1)}{a})" for a in split_top(match.group(2)))

    return re.sub(r"\(\?<([!=])((?:[^()]|\([^()]*\))*)\)", split, pattern)


def _python_regex(branch: str) -> tuple[re.Pattern[str], bool]:
    """The branch as a Python regex (ASCII, case-insensitive, as PHP's preg without /u), and whether
    Matomo's left boundary applies. The boundary is checked by :func:`_bound_ok`: compiled into each
    of ~2,700 patterns it made compiling 3-9 times slower."""
    body = _fixed_lookbehind(branch)
    # "[a-z0-9_-]*X" after the boundary matches wherever X does: drop both (re would go quadratic).
    bounded = not (body.startswith("[a-z0-9_-]*") or body.startswith("^"))
    return re.compile(body.removeprefix("[a-z0-9_-]*"), re.IGNORECASE | re.ASCII), bounded


def _bound_ok(ua: str, i: int) -> bool:
    """Matomo's boundary before position i: the start, a character not in [A-Z0-9_-], "_" after a
    character not in [A-Z0-9-], or "sprd-" / "MZ-" (case-insensitive)."""
    return (i == 0 or ua[i - 1] not in _WORD
            or (ua[i - 1] == "_" and i >= 2 and (ua[i - 2] not in _WORD or ua[i - 2] == "_"))
            or ua[max(0, i - 5):i].lower() == "sprd-" or ua[max(0, i - 3):i].lower() == "mz-")


def _bounded_match(regex: re.Pattern[str], bounded: bool, ua: str) -> int | None:
    """Length of the first match of ``regex`` in ``ua`` that starts where the boundary allows."""
    pos = 0
    while (match := regex.search(ua, pos)) is not None:
        if not bounded or _bound_ok(ua, match.start()):
            return match.end() - match.start()
        pos = match.start() + 1
    return None


@dataclass
class _Branch:
    group: str
    generic: bool
    source: str
    pattern: str
    literal: str | None  # lower case, when the pattern is a plain string
    regex: tuple[re.Pattern[str], bool] | None = field(default=None, repr=False)

    def match_length(self, ua: str, ua_lower: str) -> int | None:
        if self.literal is not None:
            i = ua_lower.find(self.literal)
            while i >= 0:
                if _bound_ok(ua_lower, i):
                    return len(self.literal)
                i = ua_lower.find(self.literal, i + 1)
            return None
        if self.regex is None:  # compiled on first use: the few a batch needs
            self.regex = _python_regex(self.pattern)
        return _bounded_match(*self.regex, ua)


@dataclass(frozen=True)
class _Tables:
    automaton: ahocorasick_rs.AhoCorasick  # over the lower-case literals
    by_literal: dict[str, tuple[int, ...]]  # literal -> branch ids
    exact: dict[str, int]  # whole lower-case user agent -> branch id (patterns like ^(?:a|b)$)
    branches: tuple[_Branch, ...]


@functools.cache
def _tables() -> _Tables:
    branches: list[_Branch] = []
    by_literal: dict[str, list[int]] = {}
    exact: dict[str, int] = {}
    for rule in _rules():
        for branch in split_top(rule.pattern):
            index = len(branches)
            branches.append(_Branch(rule.group, rule.generic, rule.source, branch, plain_literal(branch)))
            whole = exact_strings(branch)
            if whole is not None:
                for text in whole:
                    exact.setdefault(text, index)
                continue
            literals = required_literals(_fixed_lookbehind(branch))
            if not literals or min(map(len, literals)) < _MIN_LITERAL:
                raise ConfigError(f"{rule.source} rule {rule.name!r}: no literal of {_MIN_LITERAL}+ characters in "
                                  f"{branch!r}; this version of the agent lists is not supported")
            for literal in literals:
                by_literal.setdefault(literal, []).append(index)
    return _Tables(ahocorasick_rs.AhoCorasick(sorted(by_literal)),
                   {k: tuple(v) for k, v in by_literal.items()}, exact, tuple(branches))


def _group(ua: str, ua_lower: str, branch_ids: Iterable[int], branches: tuple[_Branch, ...]) -> str | None:
    """The group of ``ua`` from the rules that match it, or None when none does.

    Each list names the string as it would alone: Matomo by its first matching rule in file order
    (as Matomo does), crawler-user-agents by its longest match (its patterns have no order:
    "Mail.RU_Bot" beats the looser "mail.ru"). A generic hit on a string that says "feed" or "rss"
    is a feed reader ("Digg Feed Fetcher": Matomo's generic rule knows it by "Fetcher" only).
    """
    verdict: dict[str, tuple[tuple[int, ...], str]] = {}
    for i in branch_ids:
        branch = branches[i]
        length = branch.match_length(ua, ua_lower)
        if length is None:
            continue
        family = "cua" if branch.source == "cua" else "generic" if branch.generic else branch.source
        key = (-length, i) if family == "cua" else (i,)
        if family not in verdict or key < verdict[family][0]:
            verdict[family] = (key, branch.group)
    named = [verdict[f][1] for f in ("matomo-bots", "cua") if f in verdict]
    if named:
        return min(named, key=_PRECEDENCE.index)
    for family in ("matomo-feed", "matomo-lib"):
        if family in verdict:
            return verdict[family][1]
    if "generic" in verdict:
        return "feed_reader" if _FEED_WORD.search(ua) else "other_bot"
    return None


def groups(user_agents: Iterable[str], spider: Iterable[bool]) -> list[str]:
    """The ``agent_group`` of each user agent; ``spider``: ua-parser's device is "Spider" (same order)."""
    tables = _tables()
    find, exact, by_literal, branches = (tables.automaton.find_matches_as_strings, tables.exact,
                                         tables.by_literal, tables.branches)
    out = []
    for ua, is_spider in zip(user_agents, spider, strict=True):
        lower = ua.lower()
        found = find(lower, overlapping=True)
        group = None
        if found or lower in exact:  # bots, and a few per cent of people
            ids = {i for literal in found for i in by_literal[literal]}
            if lower in exact:
                ids.add(exact[lower])
            group = _group(ua, lower, ids, branches)
        out.append(group or ("other_bot" if is_spider else "person"))
    return out


def explain(ua: str) -> list[tuple[str, str, str]]:
    """(group, source, rule name) of every rule that matches ``ua``: slow, for tests and questions."""
    out = []
    for rule in _rules():
        if any(_bounded_match(*_python_regex(b), ua) is not None for b in split_top(rule.pattern)):
            out.append(("other_bot" if rule.generic else rule.group, rule.source, rule.name))
    return out
