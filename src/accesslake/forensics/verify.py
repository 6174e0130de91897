"""Verification of an evidence export folder (rule D1): every hash, size and row count."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from accesslake import storage
from accesslake.errors import ExportError
from accesslake.forensics.export import MANIFEST, MANIFEST_HASH

__all__ = ["VerifyResult", "verify_export"]


@dataclass
class VerifyResult:
    """A verified export: every hash, size and row count matched."""

    out_dir: str
    export_id: str
    hold_id: str
    row_count: int
    files: list[str] = field(default_factory=list)
    manifest_sha256: str = ""

    def lines(self) -> list[str]:
        return [f"export {self.export_id} (hold {self.hold_id}) in {self.out_dir}: verified, "
                f"{len(self.files)} files, {self.row_count} rows, manifest sha256 {self.manifest_sha256}"]


def _count_rows(path: Path) -> int:
    if path.suffix == ".parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
    if path.suffix == ".csv":
        return pl.read_csv(path, infer_schema=False).height
    raise ValueError(f"unknown file type {path.suffix!r}")


def verify_export(directory: Path) -> VerifyResult:
    """Re-check an export folder; raise :class:`ExportError` listing every problem found."""
    folder = Path(directory)
    if not folder.is_dir():
        raise ExportError(f"{folder}: not an export folder (missing)")
    manifest_path, hash_path = folder / MANIFEST, folder / MANIFEST_HASH
    problems: list[str] = []
    if not manifest_path.is_file():
        raise ExportError(f"{folder}: export verification failed:\n  - {MANIFEST} is missing")
    body = manifest_path.read_bytes()
    actual = hashlib.sha256(body).hexdigest()
    if not hash_path.is_file():
        problems.append(f"{MANIFEST_HASH} is missing")
    else:
        claimed = hash_path.read_text(encoding="utf-8", errors="replace").split()
        if claimed != [actual, MANIFEST]:
            problems.append(
                f"{MANIFEST}: SHA-256 {actual} does not match {MANIFEST_HASH} "
                f"({' '.join(claimed) or 'empty'}): the manifest or its hash file was changed"
            )
    try:
        manifest = json.loads(body)
        entries = [(str(f["name"]), str(f["sha256"]), int(f["size_bytes"]), int(f["row_count"]))
                   for f in manifest["files"]]
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(f"{MANIFEST}: not a valid manifest ({type(exc).__name__}: {exc})")
        raise ExportError(f"{folder}: export verification failed:\n  - " + "\n  - ".join(problems)) from exc
    listed = {name for name, *_ in entries}
    for name, sha256, size, count in entries:
        path = folder / name
        if Path(name).name != name or not path.is_file():
            problems.append(f"{name}: listed in the manifest but missing")
            continue
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
    for extra in sorted(p.name for p in folder.iterdir() if p.name not in listed | {MANIFEST, MANIFEST_HASH}):
        problems.append(f"{extra}: not in the manifest (an extra file)")
    if problems:
        raise ExportError(f"{folder}: export verification failed:\n  - " + "\n  - ".join(problems))
    return VerifyResult(
        out_dir=str(folder), export_id=str(manifest.get("export_id")), hold_id=str(manifest.get("hold_id")),
        row_count=int(manifest.get("row_count", 0)), files=sorted(listed), manifest_sha256=actual,
    )
