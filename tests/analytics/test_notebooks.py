"""The notebooks: committed without outputs, and each one runs headless against a small demo lake.

The kernel is this interpreter (``sys.executable``, the project's venv) through a kernel spec
written for the test, so a ``python3`` kernel installed elsewhere on the machine is never used.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest
from notebook_kit import kernel_manager, output_text

from accesslake.analytics import headline_stats
from accesslake.config import Settings
from accesslake.demo import run_demo

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NOW = datetime(2026, 11, 29, 2, 30, tzinfo=UTC)


def _notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert [p.name for p in _notebooks()] == ["01-traffic-overview.ipynb", "02-incident-forensics.ipynb"]


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.name)
def test_notebook_is_committed_with_outputs_stripped(path: Path) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))
    notebook = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in raw["cells"] if cell["cell_type"] == "code"]
    assert code, "a notebook without code"
    for index, cell in enumerate(code):
        assert cell.get("outputs") == [], f"{path.name}: code cell {index} has outputs; clear them before committing"
        assert cell.get("execution_count") is None, f"{path.name}: code cell {index} has an execution count"
    for cell in raw["cells"]:
        assert "attachments" not in cell, f"{path.name}: a cell carries attachments"
    assert "widgets" not in raw["metadata"], f"{path.name}: widget state saved"


@pytest.fixture(scope="module")
def small_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("notebooks") / "lake"
    run_demo(Settings(lake=lake), NOW, lines=3000, days=2)
    return lake


@pytest.mark.integration
@pytest.mark.both_storages
def test_traffic_overview_runs_against_a_demo_lake(
    small_lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, storage: str, request: pytest.FixtureRequest,
) -> None:
    """On a folder, and on the same lake copied to S3 (``ACCESSLAKE_LAKE=s3://...``)."""
    from nbclient import NotebookClient
    from retention_kit import copy_lake

    if storage == "s3":
        small_lake = copy_lake(small_lake, "s3", tmp_path, request.getfixturevalue("s3_lake"))
    monkeypatch.setenv("ACCESSLAKE_LAKE", str(small_lake))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    path = NOTEBOOKS / "01-traffic-overview.ipynb"
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, km=kernel_manager(tmp_path), timeout=120,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )

    client.execute()  # raises CellExecutionError on the first failing cell

    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert errors == []
    stderr = [o["text"] for c in notebook.cells for o in c.get("outputs", []) if o.get("name") == "stderr"]
    assert [t for t in stderr if "building the font cache" not in t] == []  # matplotlib's first run says so
    stats = headline_stats(small_lake)
    text = output_text(notebook)
    assert f"lake: {small_lake}" in text
    assert f"        requests: {stats['requests']}" in text
    assert f" unique_visitors: {stats['unique_visitors']}" in text
    images = [o for c in notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 5  # per day, weekday x hour, pages and referrers, status codes, crawlers
    assert path.read_text(encoding="utf-8").count('"outputs": []') == sum(
        1 for c in notebook.cells if c.cell_type == "code"
    ), "the notebook on disk was changed by the run"
