"""One storage interface, two implementations: a local folder and S3-compatible object storage.

Every module reaches storage through the functions of :mod:`accesslake.storage`,
which hand each call to the :class:`Storage` of the path (:func:`storage_for`):
:class:`~accesslake.storage.local.LocalStorage` for a :class:`pathlib.Path`,
:class:`~accesslake.storage.s3.S3Storage` for an ``s3://`` :class:`upath.UPath`.
Callers never ask which one they have; both keep one contract:

- a file is replaced atomically (a reader sees the old or the new file, never
  half of one): temp file, fsync, rename locally; one PUT on object storage;
- an append is durable (fsync; or read-extend-rewrite under a lock object);
- multi-file operations never rely on a rename: ingest lists its targets in
  an intent, the anonymiser journals its moves, and recovery works from those;
- staging happens in a local folder (:meth:`Storage.staging_root`);
- privacy of a store is file modes locally (0700/0600) and the bucket policy on
  object storage (:meth:`Storage.modes` yields nothing there).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path
from typing import IO, Any

import duckdb
import polars as pl
import pyarrow.parquet as pq

__all__ = ["Appendable", "FileStat", "LakePath", "Storage", "last_line", "storage_for"]

# A path in the lake: pathlib.Path for a local folder, upath.UPath for object storage.
LakePath = Any

#: (size in bytes, modification time in ns; on object storage also the ETag)
FileStat = tuple[int, int, str]

#: What an append writes: bytes, or a function of the last line that returns them.
Appendable = bytes | Callable[[bytes], bytes]


def last_line(path: LakePath) -> bytes:
    """The last non-empty line of a local file (without its newline), read from the end."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return b""
    with fh:
        fh.seek(0, 2)
        size = fh.tell()
        step = min(size, 65536)
        while step:
            fh.seek(size - step)
            lines = fh.read(step).rstrip(b"\n").split(b"\n")
            if len(lines) > 1 or step == size:
                return lines[-1]
            step = min(size, step * 2)
    return b""


class Storage(abc.ABC):
    """What the lake needs from a file system. Paths are the lake's own path objects."""

    #: how the storage is named in messages ("folder", "object storage")
    kind: str = ""

    # ---------------------------------------------------------------- listing
    @abc.abstractmethod
    def list_files(self, root: LakePath, suffix: str = ".parquet", *, hidden: bool = False) -> list[LakePath]:
        """Every file under ``root`` whose name ends with ``suffix`` (dot-files only with ``hidden``), sorted."""

    @abc.abstractmethod
    def stats(self, root: LakePath) -> dict[str, FileStat]:
        """Size, modification time (ns) and ETag (or "") of every file under ``root``, by ``str(path)``;
        one listing on object storage."""

    @abc.abstractmethod
    def partition_folders(self, root: LakePath) -> set[LakePath]:
        """Every ``date=`` folder under ``root`` that may hold files."""

    @abc.abstractmethod
    def modes(self, root: LakePath) -> Iterator[tuple[LakePath, int]]:
        """``(path, permission bits)`` of ``root`` and everything under it; nothing where the storage
        has no file modes (object storage: privacy is the bucket policy's)."""

    # ---------------------------------------------------------------- reading
    @abc.abstractmethod
    def read_bytes_or_empty(self, path: LakePath) -> bytes:
        """The file's bytes, or b"" when it does not exist."""

    @abc.abstractmethod
    def open_read(self, path: LakePath) -> IO[bytes]:
        """A buffered binary reader (``read``, ``readinto``, ``readline(limit)``, ``seek``)."""

    @abc.abstractmethod
    def read_parquet(self, path: LakePath, columns: list[str] | None = None) -> pl.DataFrame:
        """One Parquet file as a DataFrame."""

    @abc.abstractmethod
    def parquet_metadata(self, path: LakePath) -> pq.FileMetaData:
        """The footer of one Parquet file (statistics, row counts)."""

    def read_partitioned(self, files: list[LakePath]) -> pl.DataFrame:
        """Parquet files of ``site=/date=`` partitions as one frame with ``site`` and ``date`` columns."""
        frames = []
        for file in files:
            site = file.parent.parent.name.split("=", 1)[1]
            day = date.fromisoformat(file.parent.name.split("=", 1)[1])
            frames.append(self.read_parquet(file).with_columns(pl.lit(site).alias("site"), pl.lit(day).alias("date")))
        return pl.concat(frames, how="vertical_relaxed")

    def scan_dataset(self, files: list[LakePath], schema: pl.Schema) -> pl.LazyFrame:
        """``files`` (of one partitioned dataset) conformed to ``schema``, plus ``site`` and ``date``."""
        frame = self.read_partitioned(files)
        missing = [pl.lit(None, dtype).alias(name) for name, dtype in schema.items() if name not in frame.columns]
        return frame.with_columns(missing).select(
            [pl.col(name).cast(dtype) for name, dtype in schema.items()] + ["site", "date"]
        ).lazy()

    @abc.abstractmethod
    def mtime_ns(self, path: LakePath) -> int:
        """Modification time in nanoseconds (object storage: upload time, whole seconds)."""

    @abc.abstractmethod
    def local_path(self, path: LakePath) -> Path | None:
        """``path`` on this machine's file system, or None (object storage)."""

    # ---------------------------------------------------------------- writing
    @abc.abstractmethod
    def write_bytes_atomic(self, path: LakePath, data: bytes, *, private: bool = False) -> LakePath:
        """Replace ``path`` with ``data`` atomically and durably (0600 when ``private``)."""

    @abc.abstractmethod
    def create_bytes(self, path: LakePath, data: bytes, *, private: bool = False) -> LakePath:
        """Write a new file; :class:`FileExistsError` when ``path`` is taken."""

    @abc.abstractmethod
    def write_parquet_atomic(self, frame: pl.DataFrame, path: LakePath, *, private: bool = False) -> LakePath:
        """Write ``frame`` to ``path`` atomically and durably (zstd, with statistics)."""

    @abc.abstractmethod
    def append_bytes(self, path: LakePath, data: Appendable, *, private: bool = False) -> bytes:
        """Append ``data`` durably; concurrent appenders never lose or interleave a record.

        ``data`` may be a function of the file's last line (b"" for an empty or missing file),
        called under the append's lock: a hash chain appends its next link that way. Returns
        the bytes appended. The one durable append of the lake: ledger, audit log, disclosures."""

    @abc.abstractmethod
    def move(self, source: LakePath, target: LakePath, *, private: bool = False) -> None:
        """Move a file within the lake (rename locally; copy then delete on object storage)."""

    @abc.abstractmethod
    def remove_file(self, path: LakePath) -> None:
        """Delete a file (missing is fine) and prune its now-empty partition folders."""

    @abc.abstractmethod
    def remove_tree(self, folder: LakePath) -> None:
        """Delete a folder and everything under it (missing is fine)."""

    @abc.abstractmethod
    def make_private(self, root: LakePath, folder: LakePath) -> None:
        """Create ``folder`` and its parents up to ``root`` (included), each owner-only."""

    @abc.abstractmethod
    def publish(self, staged: Path, final: LakePath, *, root: LakePath | None = None, private: bool = False) -> None:
        """Move a file staged on this machine to its place in the lake."""

    @abc.abstractmethod
    def fsync_dir(self, path: LakePath) -> None:
        """Make a rename in ``path`` durable (nothing to do on object storage)."""

    # ---------------------------------------------------------------- staging and scratch
    @abc.abstractmethod
    def staging_root(self, lake: LakePath, *, create: bool = True) -> Path:
        """The local folder where runs on ``lake`` stage files (fixed per lake, so recovery finds it)."""

    @abc.abstractmethod
    def local_copies(self, lake: LakePath, files: list[LakePath], name: str) -> AbstractContextManager[list[LakePath]]:
        """``files`` readable at local speed (themselves, or copies removed on exit)."""

    @abc.abstractmethod
    def clean_staging(self, lake: LakePath) -> int:
        """Remove staging and temporary files an interrupted run left; how many."""

    @abc.abstractmethod
    def leftover_staging(self, lake: LakePath) -> list[Path]:
        """Staged files a killed run left outside the lake (audit: P1 temporary files)."""

    # ---------------------------------------------------------------- locks and engines
    @abc.abstractmethod
    def lock(self, path: LakePath, wait_seconds: float, what: str) -> AbstractContextManager[None]:
        """Hold the lock ``path`` exclusively, waiting up to ``wait_seconds``."""

    def register(self, con: duckdb.DuckDBPyConnection, lake: LakePath) -> None:
        """Let DuckDB read the paths of ``lake`` (nothing to do for local files)."""
        return None

    def arrow_filesystem(self, path: LakePath) -> tuple[Any, str]:
        """A ``pyarrow.fs`` file system and ``path`` in it, for ``pyarrow.dataset`` (local files here)."""
        from pyarrow.fs import LocalFileSystem

        return LocalFileSystem(), str(Path(path).resolve())


def storage_for(path: LakePath) -> Storage:
    """The :class:`Storage` that holds ``path``."""
    if isinstance(path, Path):
        from accesslake.storage.local import LOCAL

        return LOCAL
    from accesslake.storage.s3 import S3

    return S3
