"""The docs are part of the interface: every column and every command is documented."""

from __future__ import annotations

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
