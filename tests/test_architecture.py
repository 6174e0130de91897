"""The house rules, as tests: which subpackage may import which, faces, sizes, the layout in the docs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from accesslake.storage import STORES

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "accesslake"

#: What each part of the library may import from the others (besides itself). Lower layers know
#: nothing of higher ones: storage knows no policy, retention no CLI, nothing but the CLI knows the CLI.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "faults": set(),
    "schema": set(),
    "policy": {"errors"},
    "storage": {"errors"},
    "config": {"errors", "policy", "storage"},
    "sqlfiles": {"errors", "storage"},
    "logs": {"errors", "schema"},
    "holds": {"errors", "storage"},
    "ingest": {"config", "errors", "faults", "holds", "logs", "policy", "schema", "storage"},
    "retention": {"config", "errors", "faults", "holds", "ingest", "policy", "schema", "storage"},
    "audit": {"config", "errors", "holds", "ingest", "policy", "schema", "sqlfiles", "storage"},
    "analytics": {"__init__", "config", "errors", "schema", "sqlfiles", "storage"},
    "forensics": {"__init__", "config", "errors", "holds", "policy", "schema", "sqlfiles", "storage"},
    # data-subject requests read and change every store: retention's journaled move to held/, ingest's ledger
    "subjects": {"__init__", "config", "errors", "forensics", "holds", "ingest", "policy", "retention", "schema",
                 "storage"},
    "messages": {"config", "errors", "policy", "storage"},
    "pipeline": {"analytics", "audit", "config", "errors", "faults", "forensics", "ingest", "messages",
                 "retention", "storage"},
    "demo": {"analytics", "config", "errors", "holds", "pipeline", "storage"},
    "cli": {"__init__", "analytics", "audit", "config", "demo", "errors", "forensics", "holds", "ingest",
            "messages", "pipeline", "retention", "storage", "subjects"},
    "__init__": set(),
}


def _part(module: Path) -> str:
    """The top-level part of the package a module belongs to (``ingest``, ``policy``, ``__init__`` ...)."""
    first = module.relative_to(PACKAGE).parts[0]
    return first.removesuffix(".py")


def _imports(path: Path) -> set[str]:
    """Every module name ``path`` imports, at any depth (function-local imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_part_of_the_package_has_rules() -> None:
    assert {_part(m) for m in MODULES} == set(ALLOWED)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: str(m.relative_to(PACKAGE)))
def test_imports_follow_the_layers(module: Path) -> None:
    part = _part(module)
    used = {name.split(".")[1] for name in _imports(module)
            if name.startswith("accesslake.") and len(name.split(".")) > 1}
    used = {"__init__" if name == "__version__" else name for name in used}
    used.discard(part)
    assert used <= ALLOWED[part], f"{part} may not import {sorted(used - ALLOWED[part])}"
    third_party = {name.split(".")[0] for name in _imports(module)}
    assert "prefect" not in third_party, "the library never imports Prefect"


def test_the_layers_have_no_cycle() -> None:
    graph = {part: {p for p in allowed if p != "__init__"} for part, allowed in ALLOWED.items()}
    seen: dict[str, int] = {}

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, f"cycle: {' -> '.join((*path, node))}"
        if seen.get(node) == 2:
            return
        for nxt in graph[node]:
            visit(nxt, (*path, node))
        seen[node] = 2

    for part in graph:
        visit(part, ())


@pytest.mark.parametrize("package", sorted(p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()),
                         ids=lambda p: p.name)
def test_each_subpackage_has_a_small_face(package: Path) -> None:
    tree = ast.parse((package / "__init__.py").read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"{package.name}/__init__.py says what the subpackage is for"
    names = [n for n in tree.body if isinstance(n, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets)]
    assert names, f"{package.name}/__init__.py declares its public names in __all__"
    functions = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert not functions, f"{package.name}/__init__.py re-exports; the code lives in its modules"


#: Modules that are mostly data tables may be longer (none today: tables live in data files).
DATA_TABLES: set[str] = set()


@pytest.mark.parametrize("module", MODULES, ids=lambda m: str(m.relative_to(PACKAGE)))
def test_no_module_is_a_house_of_its_own(module: Path) -> None:
    lines = len(module.read_text(encoding="utf-8").splitlines())
    name = str(module.relative_to(PACKAGE))
    assert name in DATA_TABLES or lines <= 420, f"{name} has {lines} lines: split it by concern"


def test_the_lake_layout_in_the_docs_is_the_code_s() -> None:
    """docs/lake.md's layout block names every store of storage.STORES, and no other folder."""
    doc = (REPO / "docs" / "lake.md").read_text(encoding="utf-8")
    block = doc.split("## Layout", 1)[1].split("```")[1]
    folders = set(re.findall(r"^  (?:<lake>/)?([A-Za-z_]+)/", block, flags=re.M))
    assert folders == {store.path for store in STORES}
    entries = re.split(r"\n(?=  \S)", block)  # one entry per store line and its continuation lines
    for store in STORES:
        text = " ".join(e for e in entries if e.startswith(f"  {store.path}/"))
        assert text, f"docs/lake.md does not describe {store.path}/"
        assert store.private == bool(re.search(r"0700|0600", text)), f"{store.path}/: private is {store.private}"
