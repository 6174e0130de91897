"""Verification of an evidence export folder (rule D1), anchored outside the folder.

The folder's own hashes only show that it is consistent: someone who cuts rows
and recomputes every hash keeps it consistent. What anchors it is the manifest's
SHA-256 kept elsewhere: in the lake's disclosure record of the export (found by
the export id in the manifest) and in the cover letter that went with the data
(``--manifest-sha256``). :func:`verify_export` checks

* the folder: exactly the manifest, its hash file and the files the manifest
  lists, each listed once, each a plain file (no symbolic link, no folder, no
  extra or hidden file), with the listed size, SHA-256 and row count;
* the manifest against ``manifest.json.sha256``;
* the manifest against the anchors it is given: ``manifest_sha256``, and the
  lake's disclosure record when the lake exists (a lake without a record of this
  export is a failure: the export was not made there, or its id was changed).

Without any anchor (the recipient has only the folder and no hash) it checks
consistency only, and says so.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from accesslake import storage
from accesslake.errors import ExportError
from accesslake.forensics.export import MANIFEST, MANIFEST_HASH, read_disclosures
from accesslake.storage import LakePath

__all__ = ["VerifyResult", "verify_export"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
UNANCHORED = "none: the folder is only consistent with itself; give --manifest-sha256 from the cover letter"


@dataclass
class VerifyResult:
    """A verified export: every hash, size and row count matched, and the manifest matched its anchors."""

    out_dir: str
    export_id: str
    hold_id: str
    row_count: int
    files: list[str] = field(default_factory=list)
    manifest_sha256: str = ""
    anchors: list[str] = field(default_factory=list)  # what the manifest hash was checked against

    def lines(self) -> list[str]:
        return [f"export {self.export_id} (hold {self.hold_id}) in {self.out_dir}: verified, "
                f"{len(self.files)} files, {self.row_count} rows, manifest sha256 {self.manifest_sha256}",
                f"  anchored by: {'; '.join(self.anchors) if self.anchors else UNANCHORED}"]


def _count_rows(path: Path) -> int:
    if path.suffix == ".parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
    if path.suffix == ".csv":
        return pl.read_csv(path, infer_schema=False).height
    raise ValueError(f"unknown file type {path.suffix!r}")


def _failed(folder: Path, problems: list[str]) -> ExportError:
    return ExportError(f"{folder}: export verification failed:\n  - " + "\n  - ".join(problems))


def _plain_file(path: Path) -> str | None:
    """Why ``path`` is not a plain file of the export (None when it is one)."""
    if path.is_symlink():
        return f"{path.name}: a symbolic link, not a plain file (an export holds its own files)"
    if not path.exists():
        return None
    return None if path.is_file() else f"{path.name}: not a plain file"


def _entries(manifest: Any) -> list[tuple[str, str, int, int]]:
    return [(str(f["name"]), str(f["sha256"]), int(f["size_bytes"]), int(f["row_count"])) for f in manifest["files"]]


def _check_file(folder: Path, entry: tuple[str, str, int, int], row_count: int) -> list[str]:
    name, sha256, size, count = entry
    path = folder / name
    if name in (MANIFEST, MANIFEST_HASH) or Path(name).name != name or name.startswith("."):
        return [f"{name!r}: not a name an export lists"]
    if (odd := _plain_file(path)) is not None:
        return [odd]
    if not path.is_file():
        return [f"{name}: listed in the manifest but missing"]
    problems = []
    if path.stat().st_size != size:
        problems.append(f"{name}: size {path.stat().st_size} bytes, manifest says {size}")
    digest = storage.sha256_file(path)
    if digest != sha256:
        problems.append(f"{name}: SHA-256 {digest} does not match the manifest ({sha256})")
    try:
        found = _count_rows(path)
    except (OSError, ValueError, pa.ArrowException, pl.exceptions.PolarsError) as exc:  # damaged: report it
        problems.append(f"{name}: cannot be read to count rows ({type(exc).__name__}: {exc})")
    else:
        if found != count:
            problems.append(f"{name}: {found} rows, manifest says {count}")
    if count != row_count:
        problems.append(f"{name}: manifest lists {count} rows for it but {row_count} for the export")
    return problems


def _check_manifest_hash(folder: Path, actual: str) -> list[str]:
    hash_path = folder / MANIFEST_HASH
    if (odd := _plain_file(hash_path)) is not None:
        return [odd]
    if not hash_path.is_file():
        return [f"{MANIFEST_HASH} is missing"]
    claimed = hash_path.read_text(encoding="utf-8", errors="replace").split()
    if claimed != [actual, MANIFEST]:
        return [f"{MANIFEST}: SHA-256 {actual} does not match {MANIFEST_HASH} "
                f"({' '.join(claimed) or 'empty'}): the manifest or its hash file was changed"]
    return []


def _given_hash(value: str) -> str:
    digest = value.strip().lower()
    if not _SHA256.match(digest):
        raise ExportError(f"--manifest-sha256: {value!r} is not a SHA-256 (64 hexadecimal digits); copy it from the "
                          "cover letter")
    return digest


def _lake_anchor(lake: LakePath, export_id: str, actual: str, *, required: bool) -> tuple[list[str], list[str]]:
    """(problems, anchors) from the lake's disclosure records; nothing when there is no lake there.

    A lake without a record of the export is a problem only when it is the one anchor (``required``).
    """
    if not lake.exists():
        return [], []
    recorded = [str(r.get("manifest_sha256")) for r in read_disclosures(lake) if r.get("export_id") == export_id]
    if not recorded:
        missing = (f"the lake {lake} has no disclosure record of export {export_id!r}: the export was not made "
                   "from this lake or its manifest was changed; verify with --lake LAKE (the lake that made it) "
                   "or --manifest-sha256 HASH (from the cover letter)")
        return [missing] if required else [], []
    if actual not in recorded:
        return [f"{MANIFEST}: SHA-256 {actual} is not the one recorded in the lake's disclosure record "
                f"({', '.join(recorded)}): the export was changed after it was made"], []
    return [], [f"the disclosure record in {lake}"]


def verify_export(directory: Path, *, lake: LakePath | None = None,
                  manifest_sha256: str | None = None) -> VerifyResult:
    """Re-check an export folder and anchor its manifest; raise :class:`ExportError` listing every problem.

    ``lake``: check against its disclosure record when the lake exists;
    ``manifest_sha256``: the hash the recipient was given with the data.
    """
    folder = Path(directory)
    given = _given_hash(manifest_sha256) if manifest_sha256 is not None else None
    if not folder.is_dir():
        raise ExportError(f"{folder}: not an export folder (missing)")
    manifest_path = folder / MANIFEST
    if (odd := _plain_file(manifest_path)) is not None or not manifest_path.is_file():
        raise _failed(folder, [odd or f"{MANIFEST} is missing"])
    body = manifest_path.read_bytes()
    actual = hashlib.sha256(body).hexdigest()
    problems = _check_manifest_hash(folder, actual)
    try:
        manifest = json.loads(body)
        entries = _entries(manifest)
        row_count = int(manifest["row_count"])
        export_id = str(manifest["export_id"])
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(f"{MANIFEST}: not a valid manifest ({type(exc).__name__}: {exc})")
        raise _failed(folder, problems) from exc
    names = [name for name, *_ in entries]
    problems += [f"{name}: listed {names.count(name)} times in the manifest"
                 for name in sorted(set(names)) if names.count(name) > 1]
    for entry in {e[0]: e for e in entries}.values():
        problems += _check_file(folder, entry, row_count)
    known = set(names) | {MANIFEST, MANIFEST_HASH}
    problems += [f"{extra}: not in the manifest (an extra file)"
                 for extra in sorted(p.name for p in folder.iterdir() if p.name not in known)]
    anchors = []
    if given is not None:
        if given == actual:
            anchors.append("the manifest hash given with --manifest-sha256")
        else:
            problems.append(f"{MANIFEST}: SHA-256 {actual} is not the hash given with --manifest-sha256 "
                            f"({given}): the export was changed after it was made")
    if lake is not None:
        lake_problems, lake_anchors = _lake_anchor(lake, export_id, actual, required=given is None)
        problems += lake_problems
        anchors += lake_anchors
    if problems:
        raise _failed(folder, problems)
    return VerifyResult(
        out_dir=str(folder), export_id=export_id, hold_id=str(manifest.get("hold_id")), row_count=row_count,
        files=sorted(set(names)), manifest_sha256=actual, anchors=anchors,
    )
