"""Forged evidence exports: ``export verify`` must not be fooled by a consistent re-hash.

An export folder's own hashes prove nothing against someone who edits the data and recomputes
every hash. The anchor is outside the folder: the manifest hash kept in the lake's disclosure
record (``--lake L export verify DIR``), or one the recipient was given
(``export verify DIR --manifest-sha256 HASH``). Structural forgeries (a symlink for a data file,
a duplicate manifest entry) fail even without an anchor. ``export`` prints the manifest hash and
``export verify`` is a subcommand of its own.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hostile_kit import NOW, at, combined, export_hold, open_hold, run_cli, run_subprocess, write_lines

IPS = [f"203.0.113.{n}" for n in (11, 12)]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("export-template")
    lake = root / "lake"
    lake.mkdir()
    lines = [combined(IPS[n % 2], NOW - timedelta(hours=20 - n), path=f"/login/{n}") for n in range(8)]
    lines += [combined("198.51.100.9", NOW - timedelta(hours=3))]
    assert run_cli(at(lake, NOW, "ingest", write_lines(root / "access.log", lines)))[0] == 0
    code, out, err, hold_id = open_hold(lake, NOW, NOW - timedelta(days=2), NOW, "--cidr", "203.0.113.0/24")
    assert code == 0, err
    code, out, err = export_hold(lake, NOW, hold_id, root / "export")
    assert code == 0, out + err
    return {"lake": lake, "export": root / "export", "hold_id": hold_id, "out": out,
            "manifest_sha256": _sha256(root / "export" / "manifest.json")}


@pytest.fixture
def export(template: dict[str, object], tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    shutil.copytree(template["export"], folder)  # type: ignore[arg-type]
    return folder


def _verify(folder: Path, *args: str, lake: Path | None = None) -> tuple[int, str, str]:
    lake_args = ["--lake", str(lake)] if lake is not None else ["--lake", str(folder.parent / "no-lake-here")]
    return run_cli([*lake_args, "--now", "2026-11-29T04:00:00Z", "export", "verify", str(folder), *args])


def _rehash(folder: Path, edit=None) -> None:
    """Recompute every hash, size and row count in manifest.json and manifest.json.sha256."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        path = folder / entry["name"]
        if path.exists():
            entry["sha256"], entry["size_bytes"] = _sha256(path), path.stat().st_size
            entry["row_count"] = (pq.ParquetFile(path).metadata.num_rows if path.suffix == ".parquet"
                                  else sum(1 for _ in csv.reader(path.open(encoding="utf-8"))) - 1)
    if edit is not None:
        edit(manifest)
    counts = {entry["row_count"] for entry in manifest["files"]}
    if len(counts) == 1:
        manifest["row_count"] = counts.pop()
    body = (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    (folder / "manifest.json").write_bytes(body)
    (folder / "manifest.json.sha256").write_text(f"{hashlib.sha256(body).hexdigest()}  manifest.json\n")


def _cut_rows(folder: Path) -> None:
    table = pq.read_table(folder / "requests.parquet")
    assert table.num_rows >= 4
    pq.write_table(table.slice(0, table.num_rows - 2), folder / "requests.parquet", compression="zstd")
    lines = (folder / "requests.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / "requests.csv").write_text("".join(lines[:-2]), encoding="utf-8")


def _assert_fails(result: tuple[int, str, str], what: str) -> None:
    code, out, err = result
    assert code in (1, 2), f"{what}: verify exit {code}, expected a failure\n{out}\n{err}"


# ---------------------------------------------------------------- controls (pass today)


def test_export_prints_the_manifest_hash(template: dict[str, object]) -> None:
    assert str(template["manifest_sha256"]) in str(template["out"])


def test_an_untouched_export_verifies_with_and_without_the_lake(template: dict[str, object], export: Path) -> None:
    assert _verify(export)[0] == 0
    code, out, err = _verify(export, lake=template["lake"])  # type: ignore[arg-type]
    assert code == 0, out + err


def test_a_cut_without_rehashing_fails(export: Path) -> None:
    _cut_rows(export)
    _assert_fails(_verify(export), "rows cut, hashes left")


# ---------------------------------------------------------------- consistent forgeries


def test_rows_cut_and_every_hash_recomputed_fail_against_the_lake(template: dict[str, object], export: Path) -> None:
    _cut_rows(export)
    _rehash(export)
    _assert_fails(_verify(export, lake=template["lake"]), "rows cut, manifest re-hashed")  # type: ignore[arg-type]


def test_rows_cut_and_rehashed_fail_against_the_given_manifest_hash(template: dict[str, object],
                                                                    export: Path) -> None:
    _cut_rows(export)
    _rehash(export)
    _assert_fails(_verify(export, "--manifest-sha256", str(template["manifest_sha256"])),
                  "rows cut, manifest re-hashed, original hash given")


def test_the_manifest_hash_option_accepts_the_genuine_export(template: dict[str, object], export: Path) -> None:
    code, out, err = _verify(export, "--manifest-sha256", str(template["manifest_sha256"]))
    assert code == 0, out + err


@pytest.mark.parametrize("forgery", ["drop-csv", "recipient", "duplicate-entry"])
def test_a_rehashed_forgery_fails_against_the_lake(template: dict[str, object], export: Path, forgery: str) -> None:
    if forgery == "drop-csv":
        (export / "requests.csv").unlink()
        _rehash(export, lambda m: m.update(files=[f for f in m["files"] if f["name"] != "requests.csv"]))
    elif forgery == "recipient":
        _rehash(export, lambda m: m.update(recipient="Somebody Else GmbH"))
    else:
        _rehash(export, lambda m: m["files"].append(dict(m["files"][0])))
    _assert_fails(_verify(export, lake=template["lake"]), forgery)  # type: ignore[arg-type]


def test_a_duplicate_manifest_entry_fails_even_without_an_anchor(export: Path) -> None:
    _rehash(export, lambda m: m["files"].append(dict(m["files"][0])))
    _assert_fails(_verify(export), "duplicate manifest entry")


@pytest.mark.parametrize("with_lake", [False, True], ids=["no-lake", "lake"])
def test_a_symlink_in_place_of_a_data_file_fails(template: dict[str, object], export: Path, tmp_path: Path,
                                                 with_lake: bool) -> None:
    elsewhere = tmp_path / "elsewhere.parquet"
    shutil.copy2(export / "requests.parquet", elsewhere)
    (export / "requests.parquet").unlink()
    os.symlink(elsewhere, export / "requests.parquet")
    _assert_fails(_verify(export, lake=template["lake"] if with_lake else None), "symlinked data file")  # type: ignore[arg-type]


def test_export_verify_is_a_subcommand_of_its_own() -> None:
    code, out, err = run_subprocess(["export", "verify", "--help"])
    assert code == 0, err
    assert "--manifest-sha256" in out, "export verify has no --manifest-sha256 option"
    assert "--recipient" not in out, "export verify shows the options of export itself"
