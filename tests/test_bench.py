"""The benchmark harness runs end to end at a tiny size (``bench/run.py --smoke``).

A smoke test, not a timed one: it checks that every step ran, counted the
same lines, left a passing audit and wrote its results; it asserts no time.
GoAccess and anonip are optional references: when missing, the harness says
so in a note instead of failing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OUR_STEPS = ("ingest", "marts", "detect", "anonymize", "floor", "nightly")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, Path]:  # type: ignore[type-arg]
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--smoke", "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "results-5000.json").read_text()), proc.stdout, out


def test_every_step_ran_on_the_same_lines(smoke: tuple[dict, str, Path]) -> None:  # type: ignore[type-arg]
    results, _, _ = smoke
    steps = results["steps"]
    assert set(OUR_STEPS) <= set(steps)
    assert steps["ingest"]["items"] == steps["nightly"]["items"] == 5000
    rows = steps["ingest"]["extra"]["rows"]
    assert rows + steps["ingest"]["extra"]["rejects"] == 5000
    assert steps["anonymize"]["items"] == steps["floor"]["items"] == rows  # six days on, every row is due
    assert steps["nightly"]["extra"]["audit_ok"] is True
    for name in OUR_STEPS:
        assert steps[name]["seconds"] > 0 and steps[name]["peak_mib"] > 0


def test_references_ran_or_are_explained(smoke: tuple[dict, str, Path]) -> None:  # type: ignore[type-arg]
    results, _, _ = smoke
    for tool, step in (("goaccess", "goaccess"), ("anonip", "anonip")):
        if results["machine"][tool]:
            assert results["steps"][step]["items"] == 5000
        else:
            assert any(note.startswith(f"{tool}:") for note in results["notes"])


def test_the_report_has_the_table_and_the_targets(smoke: tuple[dict, str, Path]) -> None:  # type: ignore[type-arg]
    results, stdout, out = smoke
    report = (out / "results-5000.md").read_text()
    assert report in stdout
    for label in ("| ingest |", "| marts of the day", "| abuse detection", "| anonymisation", "| PyArrow floor",
                  "| nightly run"):
        assert label in report
    names = [t["target"] for t in results["targets"]]
    assert any("GoAccess lines/s" in n for n in names)
    assert any("PyArrow rewrite floor" in n for n in names)
    assert any("peak memory" in n for n in names)
    assert all(t["met"] in (True, False, None) for t in results["targets"])
    assert not list(out.glob("run-*")), "the run's lakes are cleaned up"


def run_script(script: str, out: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, str(REPO / "bench" / script), "--smoke", "--out", str(out), *args],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_the_shapes_benchmark_ingests_every_shape(tmp_path: Path) -> None:
    """``bench/shapes.py --smoke``: every shape generated, ingested, and GoAccess beside it when installed."""
    run_script("shapes.py", tmp_path)
    report = json.loads((tmp_path / "shapes.json").read_text())
    assert set(report["shapes"]) == {"demo-1day", "combined-1day", "combined-3days-returning", "combined-many-agents",
                                     "combined-many-paths", "common-1day"}
    for shape in report["shapes"].values():
        assert shape["lines"] >= 5000 and shape["ingest_peak_mib"] > 0
        assert ("ratio" in shape) == bool(report["machine"]["goaccess"])
    assert report["shapes"]["combined-3days-returning"]["distinct"]["hosts"] <= 5000


def test_the_year_benchmark_counts_what_each_night_reads(tmp_path: Path) -> None:
    """``bench/year.py --smoke``: two nights of a four-day lake; the audit of the later night skips what the
    earlier ones verified, and the files it opened are counted per store (with strace, when installed)."""
    run_script("year.py", tmp_path)
    nights = json.loads((tmp_path / "year.json").read_text())["nights"]
    assert set(nights) == {"2", "4"}
    for night in nights.values():
        assert night["audit_ok"] is True and night["failures"] == 0 and night["audit_skipped"] > 0
        if shutil.which("strace"):
            assert night["opened_parquet"]["requests"] >= 1


@pytest.mark.integration
def test_the_s3_benchmark_runs_the_same_steps_on_a_folder_and_on_s3(tmp_path: Path) -> None:
    """``bench/s3.py --smoke``: a SeaweedFS server of its own, every step on both, the same counts."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "s3.py"), "--smoke", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    steps = json.loads((tmp_path / "s3-results-5000.json").read_text())["steps"]
    assert set(steps) == {"ingest", "marts", "anonymize", "nightly"}
    for step in steps.values():
        assert step["items_s3"] == step["items_local"] and step["items_local"][0] > 0
    assert steps["ingest"]["items_local"] == steps["nightly"]["items_local"] == [5000]
    assert "| nightly |" in proc.stdout
