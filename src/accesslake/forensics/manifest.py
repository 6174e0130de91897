"""Folders handed out of the lake with a manifest: written whole or not at all, every file hashed.

Shared by the answers to data-subject requests (:mod:`accesslake.subjects.access`) and meant for
the evidence export too (rule D1). A folder is built beside its final name (0700, files 0600),
each table written as Parquet and CSV, then ``manifest.json`` (which lists every file with its
SHA-256, size and row count) and ``manifest.json.sha256`` (``sha256sum -c`` format), and renamed
into place. Anyone can check such a folder without accesslake: ``sha256sum -c manifest.json.sha256``,
then the hash of every file listed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from accesslake import storage
from accesslake.errors import ExportError

__all__ = ["MANIFEST", "MANIFEST_HASH", "check_out_dir", "put_in_place", "staged_folder", "write_manifest",
           "write_tables"]

MANIFEST = "manifest.json"
MANIFEST_HASH = "manifest.json.sha256"


def check_out_dir(out_dir: Path) -> None:
    """``out_dir`` must be new or an empty folder."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir}: exists and is not a folder; name a new or empty folder (--out)")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise ExportError(f"{out_dir}: folder is not empty; the answer goes into a new or empty folder (--out)")


@contextmanager
def staged_folder(out_dir: Path, tag: str) -> Iterator[Path]:
    """A private folder beside ``out_dir`` to build in, then :func:`write_manifest` and :func:`put_in_place`.

    Left before :func:`put_in_place` (an error), it is removed and ``out_dir`` is untouched.
    """
    check_out_dir(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.{tag}.tmp"
    staging.mkdir(mode=0o700)
    os.chmod(staging, 0o700)
    try:
        yield staging
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _csv_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Times as ISO-8601 UTC text, lists and structs as JSON text (CSV has neither)."""
    nested = [name for name, dtype in frame.schema.items() if isinstance(dtype, (pl.List, pl.Struct))]
    return frame.with_columns(
        pl.col(pl.Datetime).dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"),
        *(pl.col(name).map_elements(lambda v: json.dumps(v.to_list() if isinstance(v, pl.Series) else v,
                                                          default=str), return_dtype=pl.String)
          for name in nested),
    )


def _entry(path: Path, rows: int) -> dict[str, Any]:
    os.chmod(path, 0o600)
    storage.fsync_file(path)
    return {"name": path.name, "sha256": storage.sha256_file(path), "size_bytes": path.stat().st_size,
            "row_count": rows}


def write_tables(folder: Path, tables: dict[str, pl.DataFrame]) -> list[dict[str, Any]]:
    """Each table as ``<name>.parquet`` (zstd) and ``<name>.csv``; the manifest entries of the files."""
    entries = []
    for name, frame in tables.items():
        parquet, csv = folder / f"{name}.parquet", folder / f"{name}.csv"
        frame.write_parquet(parquet, compression="zstd", statistics=True)
        _csv_ready(frame).write_csv(csv)
        entries += [_entry(parquet, frame.height), _entry(csv, frame.height)]
    return entries


def write_manifest(staging: Path, manifest: dict[str, Any]) -> str:
    """Write the manifest and its hash file into ``staging``; returns the manifest's SHA-256."""
    body = (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode()
    digest = hashlib.sha256(body).hexdigest()
    storage.create_bytes(staging / MANIFEST, body, private=True)
    storage.create_bytes(staging / MANIFEST_HASH, f"{digest}  {MANIFEST}\n".encode(), private=True)
    storage.fsync_dir(staging)
    return digest


def put_in_place(staging: Path, out_dir: Path) -> None:
    """Rename the finished ``staging`` folder to ``out_dir`` (record the disclosure first)."""
    check_out_dir(out_dir)
    if out_dir.is_dir():
        out_dir.rmdir()  # empty (checked): the staged folder takes its place
    os.replace(staging, out_dir)
    storage.fsync_dir(out_dir.parent)
