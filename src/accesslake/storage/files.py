"""Files, partitions and locks of the lake, on whichever storage the path is (see :mod:`.backend`)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO

import polars as pl
import pyarrow.parquet as pq

from accesslake.errors import ConfigError
from accesslake.storage.backend import Appendable, FileStat, LakePath, storage_for
from accesslake.storage.layout import Layout, partition_keys

__all__ = [
    "Partition",
    "append_bytes",
    "append_text",
    "as_lake",
    "check_site",
    "clean_tmp",
    "create_bytes",
    "exclusive",
    "fsync_dir",
    "lake_root",
    "leftover_staging",
    "list_files",
    "list_partitions",
    "local_copies",
    "local_path",
    "make_private",
    "modes",
    "move",
    "mtime_ns",
    "mtimes_ns",
    "open_read",
    "parquet_metadata",
    "partition_dir",
    "partition_of",
    "publish",
    "read_bytes_or_empty",
    "read_dataset",
    "read_parquet",
    "read_partitioned",
    "relative",
    "remove_file",
    "remove_tree",
    "sha256_file",
    "staging_dir",
    "stats",
    "uri",
    "write_bytes_atomic",
    "write_parquet_atomic",
    "write_text_atomic",
    "writer_lock",
]

_SITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_URL = re.compile(r"^(?P<protocol>[A-Za-z][A-Za-z0-9+.-]*)://")
REMOTE_PROTOCOLS = ("s3", "s3a")


def check_site(site: str, *, option: str = "--site") -> str:
    """``site`` when it is a valid site name (it becomes a folder name), else a ConfigError."""
    if not isinstance(site, str) or not _SITE.fullmatch(site):
        raise ConfigError(f"{option}: {site!r} is not a valid site name (1-100 of letters, digits, '.', '_', '-', "
                          "starting with a letter or digit)")
    return site


# ---------------------------------------------------------------- where the lake lives


def lake_root(spec: str | os.PathLike[str], *, option: str = "--lake") -> LakePath:
    """The lake root for ``spec``: a local folder, or ``s3://bucket/prefix`` on object storage."""
    text = os.fspath(spec) if not isinstance(spec, str) else spec
    match = _URL.match(text)
    if not match:
        return Path(text)
    protocol = match["protocol"].lower()
    if protocol not in REMOTE_PROTOCOLS:
        raise ConfigError(f"{option}: {text!r}: unsupported storage {protocol}://; use a folder or s3://bucket/prefix")
    if not text[match.end():].strip("/"):
        raise ConfigError(f"{option}: {text!r} names no bucket; write s3://bucket/prefix")
    import fsspec
    from upath import UPath  # imported only for object storage

    # fsspec reuses a filesystem object made with the same arguments, which would keep the endpoint and
    # credentials an earlier lake of this process was opened with (a notebook, a test session): the lake
    # gets one made from the environment as it is now. (Passing the keys as arguments would also do, but
    # would put them into every pickled path: Dask, Prefect.) No listing cache: DuckDB and Polars write
    # beside this filesystem object, and a stale listing would hide a file from the anonymiser.
    fsspec.get_filesystem_class(protocol).clear_instance_cache()
    return UPath(text.rstrip("/"), use_listings_cache=False)


def uri(path: LakePath) -> str:
    """The string DuckDB, Polars and people use for ``path`` (absolute for local paths)."""
    local = local_path(path)
    return str(local.resolve()) if local is not None else str(path)


def as_lake(lake: str | os.PathLike[str] | LakePath) -> LakePath:
    """A lake root from what a notebook or caller passes: a string or path, or an existing root."""
    return lake_root(lake) if isinstance(lake, str) else lake


def relative(path: LakePath, root: LakePath) -> str:
    """``path`` relative to ``root`` with '/' separators (the form kept in intents, journals, audit)."""
    return "/".join(str(part).strip("/") for part in path.relative_to(root).parts)


# ---------------------------------------------------------------- partitions


@dataclass(frozen=True, order=True)
class Partition:
    """One ``site=/date=`` folder of a dataset (``incident`` set under held/)."""

    site: str
    day: date
    path: LakePath
    incident: str | None = None

    def files(self) -> list[LakePath]:
        """The partition's visible Parquet files (directly in its folder)."""
        return [f for f in list_files(self.path) if f.parent == self.path]


def partition_of(path: LakePath) -> tuple[str, date]:
    """(site, day) of a file inside a ``site=/date=`` partition folder."""
    site = path.parent.parent.name.split("=", 1)[1]
    return site, date.fromisoformat(path.parent.name.split("=", 1)[1])


def partition_dir(root: LakePath, site: str, day: date, incident: str | None = None) -> LakePath:
    base = root / f"incident={incident}" if incident else root
    return base / f"site={site}" / f"date={day.isoformat()}"


def list_partitions(root: LakePath) -> list[Partition]:
    """Every partition folder under ``root`` (requests/, rejects/, held/ or a mart)."""
    found: list[Partition] = []
    for folder in storage_for(root).partition_folders(root):
        keys = partition_keys(folder.relative_to(root).parts)
        if "site" not in keys or "date" not in keys:
            continue
        try:
            day = date.fromisoformat(keys["date"])
        except ValueError:
            continue  # not a partition this lake wrote; the audit names files in odd places
        found.append(Partition(keys["site"], day, folder, keys.get("incident")))
    return sorted(found, key=lambda p: (p.site, p.day, p.incident or "", str(p.path)))


# ---------------------------------------------------------------- delegation to the storage


def list_files(root: LakePath, suffix: str = ".parquet", *, hidden: bool = False) -> list[LakePath]:
    """Every visible (or, with ``hidden``, every) file under ``root`` whose name ends with ``suffix``."""
    return storage_for(root).list_files(root, suffix, hidden=hidden)


def stats(root: LakePath) -> dict[str, FileStat]:
    """Size, modification time (ns) and ETag of every file under ``root`` (one listing)."""
    return storage_for(root).stats(root)


def modes(root: LakePath) -> Iterator[tuple[LakePath, int]]:
    """Permission bits of ``root`` and everything under it (nothing on object storage)."""
    return storage_for(root).modes(root)


def local_path(path: LakePath) -> Path | None:
    """``path`` on this machine's file system, or None when it is on object storage."""
    return storage_for(path).local_path(path)


def open_read(path: LakePath) -> IO[bytes]:
    return storage_for(path).open_read(path)


def read_parquet(path: LakePath, columns: list[str] | None = None) -> pl.DataFrame:
    """One Parquet file of the lake as a DataFrame."""
    return storage_for(path).read_parquet(path, columns)


def parquet_metadata(path: LakePath) -> pq.FileMetaData:
    """The footer of one Parquet file (statistics, row counts) without reading its data."""
    return storage_for(path).parquet_metadata(path)


def read_bytes_or_empty(path: LakePath) -> bytes:
    """The file's bytes, or b"" when it does not exist (one request on object storage)."""
    return storage_for(path).read_bytes_or_empty(path)


def write_bytes_atomic(path: LakePath, data: bytes, *, private: bool = False) -> LakePath:
    """Replace ``path`` with ``data`` crash-safely (temp file, fsync, rename; one PUT remotely)."""
    return storage_for(path).write_bytes_atomic(path, data, private=private)


def write_text_atomic(path: LakePath, text: str, *, private: bool = False) -> LakePath:
    return write_bytes_atomic(path, text.encode("utf-8"), private=private)


def create_bytes(path: LakePath, data: bytes, *, private: bool = False) -> LakePath:
    """Write a new file; FileExistsError when ``path`` is taken."""
    return storage_for(path).create_bytes(path, data, private=private)


def write_parquet_atomic(frame: pl.DataFrame, path: LakePath, *, private: bool = False) -> LakePath:
    """Write ``frame`` to ``path`` crash-safely (zstd, statistics)."""
    return storage_for(path).write_parquet_atomic(frame, path, private=private)


def append_bytes(path: LakePath, data: Appendable, *, private: bool = False) -> bytes:
    """The lake's one durable append (see :meth:`Storage.append_bytes`)."""
    return storage_for(path).append_bytes(path, data, private=private)


def append_text(path: LakePath, text: str, *, private: bool = False) -> None:
    append_bytes(path, text.encode("utf-8"), private=private)


def move(source: LakePath, target: LakePath, *, private: bool = False) -> None:
    """Move a file within the lake (0600 when ``private``)."""
    storage_for(source).move(source, target, private=private)


def remove_file(path: LakePath) -> None:
    """Delete a file and prune its now-empty partition folders."""
    storage_for(path).remove_file(path)


def remove_tree(folder: LakePath) -> None:
    """Delete a folder and everything under it (missing is fine)."""
    storage_for(folder).remove_tree(folder)


def make_private(root: LakePath, folder: LakePath) -> None:
    """Create ``folder`` and its parents up to ``root`` (included), each 0700 (nothing on S3)."""
    storage_for(root).make_private(root, folder)


def publish(staged: Path, final: LakePath, *, root: LakePath | None = None, private: bool = False) -> None:
    """Move a locally staged file to its place in the lake."""
    storage_for(final).publish(staged, final, root=root, private=private)


def fsync_dir(path: LakePath) -> None:
    storage_for(path).fsync_dir(path)


def mtime_ns(path: LakePath) -> int:
    return storage_for(path).mtime_ns(path)


def mtimes_ns(root: LakePath) -> dict[str, int]:
    """Modification time (ns) of every visible Parquet file under ``root``, by ``str(path)``."""
    out = {}
    for key, (_, mtime, _) in stats(root).items():
        name = key.rsplit("/", 1)[-1]
        if name.endswith(".parquet") and not name.startswith("."):
            out[key] = mtime
    return out


def staging_dir(lake: LakePath, name: str) -> Path:
    """A local folder to stage ``name`` in (``<lake>/_tmp/<name>``, or a local folder for a remote lake)."""
    return storage_for(lake).staging_root(lake) / name


def local_copies(lake: LakePath, files: list[LakePath], name: str) -> AbstractContextManager[list[LakePath]]:
    """``files`` readable at local speed: themselves, or copies downloaded once (removed on exit)."""
    return storage_for(lake).local_copies(lake, files, name)


def clean_tmp(lake: LakePath) -> int:
    """Remove staging left by an interrupted run; returns the number of files removed."""
    return storage_for(lake).clean_staging(lake)


def leftover_staging(lake: LakePath) -> list[Path]:
    """Files a killed run left in a remote lake's local staging (none for a local lake)."""
    return storage_for(lake).leftover_staging(lake)


def sha256_file(path: LakePath) -> str:
    """SHA-256 of a file's content (hex), read in blocks."""
    digest = hashlib.sha256()
    with open_read(path) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_partitioned(files: list[LakePath]) -> pl.DataFrame:
    """Parquet files of ``site=/date=`` partitions as one DataFrame with ``site`` and ``date`` columns."""
    if not files:
        return pl.DataFrame(schema={"site": pl.String, "date": pl.Date})
    return storage_for(files[0]).read_partitioned(files)


def read_dataset(root: LakePath, schema: pl.Schema) -> pl.LazyFrame:
    """The dataset under ``root`` with its ``site``/``date`` partition columns, conformed to ``schema``."""
    files = list_files(root)
    if not files:
        empty = pl.DataFrame(schema=schema).with_columns(
            pl.lit(None, pl.String).alias("site"), pl.lit(None, pl.Date).alias("date")
        )
        return empty.lazy()
    return storage_for(root).scan_dataset(files, schema)


# ---------------------------------------------------------------- locks


def exclusive(lock: LakePath, wait_seconds: float = 0.0, *, what: str = "lock") -> AbstractContextManager[None]:
    """Hold the lock file ``lock`` (flock locally, a lease object on object storage)."""
    return storage_for(lock).lock(lock, wait_seconds, what)


@contextmanager
def writer_lock(lake: LakePath, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the lake's single-writer lock; wait up to ``wait_seconds`` for it."""
    local = local_path(lake)
    if local is not None:
        if local.exists() and not local.is_dir():
            raise ConfigError(f"--lake: {local} is a file, not a lake folder; pass a folder (or s3://bucket/prefix)")
        local.mkdir(parents=True, exist_ok=True)
    with exclusive(Layout(lake).lock, wait_seconds, what="writer lock"):
        yield
