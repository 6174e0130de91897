"""The lake in a local (or shared POSIX) folder: rename-based atomic writes, fsync, flock."""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import polars as pl
import pyarrow.parquet as pq

from accesslake.errors import LockError
from accesslake.storage.backend import Appendable, FileStat, Storage, last_line

__all__ = ["LOCAL", "LocalStorage", "fsync_file"]

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_PARTITION_PREFIXES = ("date", "site", "incident")


def _write_temp(path: Path, data: bytes, private: bool) -> Path:
    """``data`` in a temp file beside ``path``, whole and fsynced (0600 when private); returns its path."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE if private else 0o644)
    try:
        if private:
            os.fchmod(fd, PRIVATE_FILE_MODE)  # also when the temp file was left by a crash
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return tmp


def _write_all(fd: int, data: bytes) -> None:
    """Write the whole buffer: ``os.write`` may write less than asked."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def fsync_file(path: Path) -> None:
    """Make a local file's content durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage(Storage):
    """A lake in a folder of this machine."""

    kind = "folder"

    # ---------------------------------------------------------------- listing
    def list_files(self, root: Path, suffix: str = ".parquet", *, hidden: bool = False) -> list[Path]:
        return [Path(entry.path) for entry in _sorted(_files(root))
                if entry.name.endswith(suffix) and (hidden or not entry.name.startswith("."))]

    def stats(self, root: Path) -> dict[str, FileStat]:
        out: dict[str, FileStat] = {}
        for entry in _sorted(_files(root)):
            try:
                info = entry.stat()
            except FileNotFoundError:  # removed since it was listed
                continue
            out[entry.path] = (info.st_size, info.st_mtime_ns, "")
        return out

    def partition_folders(self, root: Path) -> set[Path]:
        return {Path(entry.path) for entry in _entries(root) if entry.name.startswith("date=")
                and entry.is_dir()}

    def modes(self, root: Path) -> Iterator[tuple[Path, int]]:
        if not root.exists():
            return
        yield root, stat.S_IMODE(root.lstat().st_mode)
        for entry in _sorted(_entries(root)):
            try:
                yield Path(entry.path), stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode)
            except FileNotFoundError:
                continue

    # ---------------------------------------------------------------- reading
    def read_bytes_or_empty(self, path: Path) -> bytes:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return b""

    def open_read(self, path: Path) -> IO[bytes]:
        return path.open("rb")

    def read_parquet(self, path: Path, columns: list[str] | None = None) -> pl.DataFrame:
        return pl.read_parquet(path, columns=columns)

    def parquet_metadata(self, path: Path) -> pq.FileMetaData:
        return pq.ParquetFile(path).metadata

    def read_partitioned(self, files: list[Path]) -> pl.DataFrame:
        return pl.read_parquet(files, hive_partitioning=True, hive_schema={"site": pl.String, "date": pl.Date})

    def scan_dataset(self, files: list[Path], schema: pl.Schema) -> pl.LazyFrame:
        return pl.scan_parquet(
            files, hive_partitioning=True, hive_schema={"site": pl.String, "date": pl.Date},
            missing_columns="insert", extra_columns="ignore", schema=schema,
        )

    def mtime_ns(self, path: Path) -> int:
        return path.stat().st_mtime_ns

    def local_path(self, path: Path) -> Path:
        return path

    # ---------------------------------------------------------------- writing
    def _ensure_dir(self, path: Path, private: bool) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if private:
            os.chmod(path, PRIVATE_DIR_MODE)

    def write_bytes_atomic(self, path: Path, data: bytes, *, private: bool = False) -> Path:
        self._ensure_dir(path.parent, private)
        os.replace(_write_temp(path, data, private), path)
        self.fsync_dir(path.parent)
        return path

    def create_bytes(self, path: Path, data: bytes, *, private: bool = False) -> Path:
        self._ensure_dir(path.parent, False)
        tmp = _write_temp(path, data, private)
        try:
            os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        self.fsync_dir(path.parent)
        return path

    def write_parquet_atomic(self, frame: pl.DataFrame, path: Path, *, private: bool = False) -> Path:
        self._ensure_dir(path.parent, private)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            frame.write_parquet(tmp, compression="zstd", statistics=True)
            fsync_file(tmp)
            if private:
                os.chmod(tmp, PRIVATE_FILE_MODE)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self.fsync_dir(path.parent)
        return path

    def append_bytes(self, path: Path, data: Appendable, *, private: bool = False) -> bytes:
        if private:
            self.make_private(path.parent, path.parent)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE if private else 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                body = data(last_line(path)) if callable(data) else data
                _write_all(fd, body)
                os.fsync(fd)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        return body

    def move(self, source: Path, target: Path, *, private: bool = False) -> None:
        self._ensure_dir(target.parent, private)
        os.replace(source, target)
        if private:
            os.chmod(target, PRIVATE_FILE_MODE)
        self.fsync_dir(target.parent)
        self.fsync_dir(source.parent)

    def remove_file(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        folder = path.parent
        while folder.name.split("=")[0] in _PARTITION_PREFIXES:
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent

    def remove_tree(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)

    def make_private(self, root: Path, folder: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, PRIVATE_DIR_MODE)
        folder.mkdir(parents=True, exist_ok=True)
        while folder != root and root in folder.parents:
            os.chmod(folder, PRIVATE_DIR_MODE)
            folder = folder.parent

    def publish(self, staged: Path, final: Path, *, root: Path | None = None, private: bool = False) -> None:
        if private and root is not None:
            self.make_private(root, final.parent)
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, final)
        self.fsync_dir(final.parent)

    def fsync_dir(self, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # ---------------------------------------------------------------- staging
    def staging_root(self, lake: Path, *, create: bool = True) -> Path:
        return lake / "_tmp"

    @contextmanager
    def local_copies(self, lake: Path, files: list[Path], name: str) -> Iterator[list[Path]]:
        yield files

    def clean_staging(self, lake: Path) -> int:
        removed = 0
        tmp_root = self.staging_root(lake)
        if tmp_root.exists():
            removed += sum(1 for _ in _files(tmp_root))
            shutil.rmtree(tmp_root)
        strays = [entry.path for entry in _files(lake) if entry.name.startswith(".") and entry.name.endswith(".tmp")]
        for stray in strays:  # what an interrupted write_parquet_atomic left
            Path(stray).unlink(missing_ok=True)
            removed += 1
        return removed

    def leftover_staging(self, lake: Path) -> list[Path]:
        return []  # a local lake stages inside itself (_tmp/), which the audit sees

    # ---------------------------------------------------------------- locks
    @contextmanager
    def lock(self, path: Path, wait_seconds: float, what: str) -> Iterator[None]:
        deadline = time.monotonic() + wait_seconds
        path.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only: lock files sit in private stores too (incidents/, messages/).
        with os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE), "r+") as fh:
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockError(
                            f"{path.parent}: another accesslake run holds the {what} ({path}); "
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


LOCAL = LocalStorage()


def _entries(root: Path) -> Iterator[os.DirEntry[str]]:
    """Every entry under ``root`` (not ``root`` itself), from one ``os.scandir`` per folder: the type of each
    comes with the listing, so a lake of thousands of files is listed without a stat per file (the nightly
    lists its stores every night). Symbolic links to folders are not followed (as ``Path.rglob``)."""
    folders = [os.fspath(root)]
    while folders:
        try:
            listing = os.scandir(folders.pop())
        except (FileNotFoundError, NotADirectoryError):
            continue
        with listing:
            for entry in listing:
                yield entry
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)


def _sorted(entries: Iterator[os.DirEntry[str]]) -> list[os.DirEntry[str]]:
    """``entries`` in the order of their paths as :class:`Path` objects sort (part by part)."""
    return sorted(entries, key=lambda entry: entry.path.split(os.sep))


def _files(root: Path) -> Iterator[os.DirEntry[str]]:
    """The files under ``root`` (a symbolic link to a file counts as one, as ``Path.is_file`` says)."""
    return (entry for entry in _entries(root) if entry.is_file())
