"""The docs are part of the interface: every column and every command is documented."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from accesslake.cli import build_parser
from accesslake.schema import REJECT_COLUMNS, REQUEST_COLUMNS

REPO = Path(__file__).resolve().parents[1]

LAKE_DOC = (REPO / "docs" / "lake.md").read_text(encoding="utf-8")
README = (REPO / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("column", [c[0] for c in REQUEST_COLUMNS + REJECT_COLUMNS])
def test_every_stored_column_is_documented(column: str) -> None:
    assert f"| `{column}` |" in LAKE_DOC


def _commands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)  # type: ignore[union-attr]


@pytest.mark.parametrize("name", _commands())
def test_every_cli_command_is_in_the_readme(name: str) -> None:
    assert re.search(rf"accesslake (\[[^\]]*\] )*{name}\b", README), f"README does not show `accesslake {name}`"


def test_readme_opens_with_the_two_setup_commands() -> None:
    first_block = README.split("```")[1]
    commands = [line for line in first_block.splitlines()[1:] if line.strip() and not line.startswith("#")]
    assert len(commands) == 2
    assert "accesslake demo" in commands[0]
    assert "pytest" in commands[1]


# ----------------------------------------------------------------- every `accesslake ...` named anywhere exists

GLOBAL_WITH_VALUE = {"--lake", "--now", "--policy", "--wait"}


def _mentions() -> list[tuple[str, str]]:
    """(where, command line) of every backquoted `accesslake ...` in src/, docs/*.md and README.md."""
    found = []
    sources = [*sorted((REPO / "src").rglob("*.py")), *sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]
    for path in sources:
        for match in re.finditer(r"`accesslake( [^`\n]*)?`", path.read_text(encoding="utf-8")):
            found.append((str(path.relative_to(REPO)), "accesslake" + (match.group(1) or "")))
    return found


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _placeholder(token: str) -> bool:
    """A word that stands for a value: FILE, ID, DIR, "...", {x}, <x>."""
    return token.isupper() or token.startswith(("{", "<", '"', "'", "...")) or not token[:1].isalnum()


def _problems(line: str) -> list[str]:
    """What in ``accesslake ...`` the parser does not know (an empty list when all is known)."""
    tokens = [t.strip("[]") for t in line.split(" | ")[0].split()[1:]]
    parser: argparse.ArgumentParser = build_parser()
    problems: list[str] = []
    index = 0
    while index < len(tokens) and tokens[index].startswith("--"):  # global options
        flag = tokens[index].split("=")[0]
        if flag not in _options(parser):
            problems.append(f"unknown global option {flag}")
        index += 2 if flag in GLOBAL_WITH_VALUE and "=" not in tokens[index] else 1
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token or token == "...":
            continue
        if token.startswith("--"):
            flag = token.split("=")[0]
            if flag not in _options(parser):
                problems.append(f"{parser.prog}: unknown option {flag}")
            continue
        choices = _subcommands(parser)
        if choices and not _placeholder(token):
            if token not in choices:
                problems.append(f"{parser.prog}: no command {token!r}")
                break
            parser = choices[token]
    return problems


MENTIONS = _mentions()


def test_the_docs_and_messages_name_commands() -> None:
    assert len(MENTIONS) > 20
    assert any(line == "accesslake sql --forensic" for _, line in MENTIONS)


@pytest.mark.parametrize(("where", "line"), MENTIONS, ids=[f"{w}:{line}" for w, line in MENTIONS])
def test_every_accesslake_command_named_exists(where: str, line: str) -> None:
    assert _problems(line) == [], f"{where} names `{line}`"


@pytest.mark.parametrize("line", ["accesslake candidates", "accesslake export --verfy", "accesslake incident opne",
                                  "accesslake --lak x stats"])
def test_the_command_check_finds_what_does_not_exist(line: str) -> None:
    assert _problems(line) != []
