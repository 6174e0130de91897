"""The on-disk lake: paths, partitions, atomic writes and the writer lock.

Layout (a public interface, documented in ``docs/lake.md``)::

    <lake>/requests/site=<site>/date=<YYYY-MM-DD>/part-*.parquet   main dataset
    <lake>/held/incident=<id>/site=<site>/date=<day>/part-*.parquet  holds (0700)
    <lake>/rejects/site=<site>/date=<day>/part-*.parquet           unparsed lines
    <lake>/marts/<table>/site=<site>/date=<day>/part-0.parquet      aggregates
    <lake>/incidents/<id>.json                                     hold records
    <lake>/ledger/ingest.jsonl                                     ingest ledger
    <lake>/audit/audit.jsonl                                       audit log
    <lake>/landing/                                                raw files to ingest
    <lake>/_tmp/                                                   staging; empty after a run

Every Parquet file is written beside its final name, fsynced, then renamed
over it (:func:`write_parquet_atomic`), so a reader sees the old or the new
file, never half of one. One writer at a time holds :func:`writer_lock`.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from accesslake.errors import ConfigError, LockError

__all__ = [
    "Partition",
    "check_site",
    "clean_tmp",
    "fsync_dir",
    "list_files",
    "list_partitions",
    "partition_dir",
    "partition_of",
    "read_dataset",
    "remove_file",
    "write_parquet_atomic",
    "writer_lock",
]

REQUESTS = "requests"
HELD = "held"
REJECTS = "rejects"
MARTS = "marts"
INCIDENTS = "incidents"
LANDING = "landing"
TMP = "_tmp"
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600

_SITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_PART = re.compile(r"^(?P<key>site|date|incident)=(?P<value>[^/]+)$")


def check_site(site: str) -> str:
    if not _SITE.match(site):
        raise ConfigError(f"--site: {site!r} is not a valid site name (letters, digits, '.', '_', '-')")
    return site


@dataclass(frozen=True, order=True)
class Partition:
    """One ``site=/date=`` folder of a dataset (``incident`` set under held/)."""

    site: str
    day: date
    path: Path
    incident: str | None = None

    def files(self) -> list[Path]:
        return sorted(p for p in self.path.glob("*.parquet") if not p.name.startswith("."))


def partition_of(path: Path) -> tuple[str, date]:
    """(site, day) of a file inside a ``site=/date=`` partition folder."""
    site = path.parent.parent.name.split("=", 1)[1]
    return site, date.fromisoformat(path.parent.name.split("=", 1)[1])


def partition_dir(root: Path, site: str, day: date, incident: str | None = None) -> Path:
    base = root / f"incident={incident}" if incident else root
    return base / f"site={site}" / f"date={day.isoformat()}"


def list_partitions(root: Path) -> list[Partition]:
    """Every partition folder under ``root`` (requests/, rejects/, held/ or a mart)."""
    found: list[Partition] = []
    if not root.exists():
        return found
    for folder in root.rglob("date=*"):
        keys: dict[str, str] = {}
        for part in folder.relative_to(root).parts:
            match = _PART.match(part)
            if match:
                keys[match["key"]] = match["value"]
        if "site" in keys and "date" in keys and folder.is_dir():
            found.append(Partition(keys["site"], date.fromisoformat(keys["date"]), folder, keys.get("incident")))
    return sorted(found)


def list_files(root: Path) -> list[Path]:
    """Every visible Parquet file under ``root``."""
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*.parquet") if not p.name.startswith("."))


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ensure_dir(path: Path, private: bool) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if private:
        os.chmod(path, PRIVATE_DIR_MODE)


def write_parquet_atomic(frame: pl.DataFrame, path: Path, *, private: bool = False) -> Path:
    """Write ``frame`` to ``path`` crash-safely: temp file, fsync, rename, fsync dir."""
    _ensure_dir(path.parent, private)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.write_parquet(tmp, compression="zstd", statistics=True)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    if private:
        os.chmod(tmp, PRIVATE_FILE_MODE)
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return path


def remove_file(path: Path) -> None:
    """Delete a file and prune its now-empty partition folders."""
    path.unlink(missing_ok=True)
    folder = path.parent
    while folder.name.split("=")[0] in ("date", "site", "incident"):
        try:
            folder.rmdir()
        except OSError:
            break
        folder = folder.parent


def read_dataset(root: Path, schema: pl.Schema) -> pl.LazyFrame:
    """The dataset under ``root`` with its ``site``/``date`` partition columns."""
    files = list_files(root)
    if not files:
        empty = pl.DataFrame(schema=schema).with_columns(
            pl.lit(None, pl.String).alias("site"), pl.lit(None, pl.Date).alias("date")
        )
        return empty.lazy()
    return pl.scan_parquet(
        files,
        hive_partitioning=True,
        hive_schema={"site": pl.String, "date": pl.Date},
        missing_columns="insert",
        extra_columns="ignore",
        schema=schema,
    )


def clean_tmp(lake: Path) -> int:
    """Remove staging left by an interrupted run; returns the number of files removed."""
    removed = 0
    tmp_root = lake / TMP
    if tmp_root.exists():
        removed += sum(1 for p in tmp_root.rglob("*") if p.is_file())
        shutil.rmtree(tmp_root)
    for pattern in (".*.tmp",):
        for stray in lake.rglob(pattern):
            stray.unlink(missing_ok=True)
            removed += 1
    return removed


@contextmanager
def writer_lock(lake: Path, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the lake's single-writer lock; wait up to ``wait_seconds`` for it."""
    lake.mkdir(parents=True, exist_ok=True)
    lock_path = lake / ".lock"
    with lock_path.open("a+") as fh:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockError(
                        f"{lake}: another accesslake run holds the writer lock ({lock_path}); "
                        "wait for it to finish, or pass --wait SECONDS"
                    ) from None
                time.sleep(0.2)
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()}\n")
            fh.flush()
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
