"""``notebooks/02-incident-forensics.ipynb``: committed stripped, and it runs end to end on a demo lake.

The run goes candidate -> hold -> timeline -> export -> verify on a small demo lake in ``tmp_path``, with the
clock the demo lake was built for, in a kernel of this interpreter (``sys.executable``, the
project's venv) through a kernel spec written for the test. The notebook's evidence folder lands
in its ``tempfile.mkdtemp()``: ``TMPDIR`` points into ``tmp_path`` so the test finds it (through
the disclosure record and the manifest hash) and nothing is left behind.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest
from notebook_kit import kernel_manager, output_text

from accesslake import holds
from accesslake.config import Settings
from accesslake.demo import run_demo
from accesslake.forensics import candidates, export
from accesslake.forensics.verify import verify_export
from accesslake.storage import auditlog

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "02-incident-forensics.ipynb"
NOW = datetime(2026, 11, 29, 2, 30, tzinfo=UTC)


def test_forensics_notebook_is_committed_with_outputs_stripped() -> None:
    text = NOTEBOOK.read_text(encoding="utf-8")
    raw = json.loads(text)
    nbformat.validate(nbformat.reads(text, as_version=4))
    code = [cell for cell in raw["cells"] if cell["cell_type"] == "code"]
    assert code
    for index, cell in enumerate(code):
        assert cell.get("outputs") == [], f"code cell {index} has outputs (they would carry IPs); clear them"
        assert cell.get("execution_count") is None, f"code cell {index} has an execution count"
    assert all("attachments" not in cell for cell in raw["cells"])
    assert "widgets" not in raw["metadata"]


@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A small demo lake built for ``NOW`` (its last nights are fresh: candidates, IPs), and the demo's hold."""
    lake = tmp_path_factory.mktemp("forensics-notebook") / "lake"
    demo = run_demo(Settings(lake=lake), NOW, lines=6000, days=3)
    assert demo.hold_id
    return lake, demo.hold_id


@pytest.mark.integration
@pytest.mark.parametrize("found", ["stored", "detected-by-the-notebook"])
def test_forensics_notebook_runs_candidate_to_verified_export(
    demo_lake: tuple[Path, str], found: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbclient import NotebookClient

    lake = tmp_path / "lake"
    shutil.copytree(demo_lake[0], lake)
    if found == "detected-by-the-notebook":
        shutil.rmtree(candidates.candidates_root(lake))
        assert candidates.read_candidates(lake).is_empty()
    holds_before = {h.id for h in holds.list_holds(lake)}
    assert holds_before == {demo_lake[1]}

    work = tmp_path / "work"  # the notebook's working directory: must stay empty
    work.mkdir()
    scratch = tmp_path / "scratch"  # TMPDIR: where the notebook's mkdtemp puts the evidence
    scratch.mkdir()
    monkeypatch.setenv("ACCESSLAKE_LAKE", str(lake))
    monkeypatch.setenv("ACCESSLAKE_NOW", NOW.isoformat())
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.delenv("ACCESSLAKE_CANDIDATE", raising=False)
    monkeypatch.delenv("ACCESSLAKE_POLICY", raising=False)

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook, km=kernel_manager(tmp_path), timeout=180, resources={"metadata": {"path": str(work)}}
    )
    client.execute()  # raises CellExecutionError naming the failing cell

    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert list(work.iterdir()) == [], "the notebook wrote into its working directory"
    text = output_text(notebook)
    assert "audit chain intact" in text
    if found == "detected-by-the-notebook":
        assert "abuse candidates in" in text  # candidates.detect ran and printed its summary
    assert any(
        o.get("data", {}).get("image/png") for c in notebook.cells for o in c.get("outputs", [])
    ), "no requests-per-minute plot"

    # the hold: a new one, opened from a candidate, on the planted brute-forcer
    new = [h for h in holds.list_holds(lake) if h.id not in holds_before]
    assert len(new) == 1
    hold = new[0]
    assert hold.is_active(NOW)
    assert hold.source_candidate and hold.source_candidate.startswith("AC-")
    assert hold.legal_basis == ("Art. 6(1)(f) GDPR",)
    assert hold.authorized_by and hold.case_reference and hold.purpose
    assert hold.scope.ips and hold.scope.ips[0].startswith("198.51.100."), "expected the planted brute-forcer"
    assert hold.case_reference not in (hold.source_candidate, *hold.scope.ips)

    # the incident timeline of the planted attack: its requests in time order, with gaps
    assert f"incident timeline of hold {hold.id} ({hold.case_reference})" in text
    assert re.search(rf"client {re.escape(hold.scope.ips[0])}: \d+ requests", text)
    assert re.search(r"^\s+2\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\+\d", text, re.M), "no gap on the second request"
    assert "gaps between requests: median" in text

    # the export: one disclosure record, its folder found by its manifest hash, verified
    records = export.read_disclosures(lake)
    assert len(records) == 1
    record = records[0]
    assert record["hold_id"] == hold.id
    assert record["legal_basis"] == ["§24 BDSG"]
    assert record["recipient"] and record["reference"] and record["operator"]
    assert record["row_count"] > 0
    folders = [
        p.parent for p in scratch.rglob("manifest.json")
        if json.loads(p.read_text(encoding="utf-8"))["export_id"] == record["export_id"]
    ]
    assert len(folders) == 1, f"export {record['export_id']} not found under TMPDIR"
    verified = verify_export(folders[0])
    assert verified.manifest_sha256 == record["manifest_sha256"]
    assert verified.hold_id == hold.id and verified.row_count == record["row_count"]

    assert not candidates.read_candidates(lake).is_empty()

    events = {e["event"] for e in auditlog.read_events(lake) if e.get("hold_id") == hold.id}
    assert {"hold.open", "export", "incident.timeline"} <= events
    assert auditlog.verify_chain(lake) == []
