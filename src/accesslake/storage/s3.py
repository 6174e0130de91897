"""The lake on S3-compatible object storage (``s3://bucket/prefix``): single-PUT writes, lease locks.

Credentials and endpoint come from the environment (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ``AWS_REGION``); paths are
:class:`upath.UPath` objects over fsspec's ``s3fs``. Object stores have no
rename, no appends and no file modes:

- a single object PUT is atomic (a reader sees the old or the new object), so a
  file is replaced by writing its final key directly;
- an append reads the object and rewrites it under a lock object of its own;
- staging is a local folder, fixed per lake, uploaded by :meth:`S3Storage.publish`;
- a lock is a lease: an object created with a conditional PUT (``If-None-Match: *``)
  holding host, pid and times, renewed every :data:`LEASE_RENEW_SECONDS` while held;
  one left by a dead process on this host, or not renewed for
  :data:`LEASE_STALE_SECONDS`, is taken over by the next run;
- privacy (held/, incidents/ ...) is the bucket policy's (docs/lake.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import duckdb
import polars as pl
import pyarrow.parquet as pq

from accesslake.errors import LockError
from accesslake.storage.backend import Appendable, FileStat, LakePath, Storage

__all__ = ["LEASE_RENEW_SECONDS", "LEASE_STALE_SECONDS", "S3", "S3Storage", "describe_error"]

PRIVATE_DIR_MODE = 0o700

# A lock object is a lease: its holder rewrites ``renewed`` every LEASE_RENEW_SECONDS; one
# not renewed for LEASE_STALE_SECONDS (wall clock) belongs to a dead run on some machine (a
# killed pod, a lost VM) and is broken by the next run.
LEASE_RENEW_SECONDS = 60.0
LEASE_STALE_SECONDS = 600.0


def _key(path: LakePath) -> str:
    return str(path.path)


def _holder(since: str | None = None) -> dict[str, object]:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return {"host": socket.gethostname(), "pid": os.getpid(), "since": since or now, "renewed": now}


def _lease_expired(holder: dict[str, object]) -> bool:
    try:
        renewed = datetime.fromisoformat(str(holder.get("renewed") or holder.get("since")))
    except ValueError:
        return True
    return (datetime.now(UTC) - renewed).total_seconds() > LEASE_STALE_SECONDS


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: botocore/aiohttp exceptions by class name -> what the user should check (no import of botocore needed).
_REMOTE_ERRORS = {
    "NoCredentialsError": "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    "PartialCredentialsError": "incomplete credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    "EndpointConnectionError": "cannot reach the object store: check AWS_ENDPOINT_URL and the network",
    "ConnectTimeoutError": "the object store did not answer in time: check AWS_ENDPOINT_URL",
    "ClientConnectorError": "cannot reach the object store: check AWS_ENDPOINT_URL and the network",
    "InvalidAccessKeyId": "the object store does not know this access key: check AWS_ACCESS_KEY_ID",
    "SignatureDoesNotMatch": "the secret key does not match: check AWS_SECRET_ACCESS_KEY",
    "NoSuchBucket": "no such bucket: check the bucket in --lake s3://BUCKET/prefix",
}


def describe_error(exc: BaseException) -> str | None:
    """A one-line explanation when ``exc`` (or what caused it) is an object-store access error, else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = getattr(current, "response", {}).get("Error", {}).get("Code") if hasattr(current, "response") else None
        for name in (type(current).__name__, str(code or "")):
            if name in _REMOTE_ERRORS:
                return f"{_REMOTE_ERRORS[name]} ({type(current).__name__})"
        current = current.__cause__ or current.__context__
    return None


class S3Storage(Storage):
    """A lake under an ``s3://bucket/prefix``."""

    kind = "object storage"

    # ---------------------------------------------------------------- listing
    def _find(self, root: LakePath, *, detail: bool) -> Any:
        try:
            return root.fs.find(_key(root), withdirs=False, detail=detail)
        except FileNotFoundError:
            return {} if detail else []

    def list_files(self, root: LakePath, suffix: str = ".parquet", *, hidden: bool = False) -> list[LakePath]:
        base = _key(root).rstrip("/") + "/"
        found = [root / k[len(base):] for k in self._find(root, detail=False) if k.startswith(base)]
        return sorted(p for p in found if p.name.endswith(suffix) and (hidden or not p.name.startswith(".")))

    def stats(self, root: LakePath) -> dict[str, FileStat]:
        base = _key(root).rstrip("/") + "/"
        out: dict[str, FileStat] = {}
        for key, info in self._find(root, detail=True).items():
            if not key.startswith(base):
                continue
            stamp = info.get("LastModified") or info.get("mtime")
            mtime = int(stamp.timestamp() * 1_000_000_000) if stamp else 0
            etag = str(info.get("ETag") or info.get("etag") or "").strip('"')
            out[str(root / key[len(base):])] = (int(info.get("size") or 0), mtime, etag)
        return out

    def partition_folders(self, root: LakePath) -> set[LakePath]:
        return {f.parent for f in self.list_files(root, "", hidden=True)}

    def modes(self, root: LakePath) -> Iterator[tuple[LakePath, int]]:
        return iter(())  # no file modes: access is the bucket policy's (docs/lake.md)

    # ---------------------------------------------------------------- reading
    def read_bytes_or_empty(self, path: LakePath) -> bytes:
        try:
            # One GET: a small object rewritten meanwhile (a lock's lease) is read whole, old or
            # new, where a ranged file read would fail on the changed ETag.
            return bytes(path.fs.cat_file(_key(path)))
        except FileNotFoundError:
            return b""

    def open_read(self, path: LakePath) -> IO[bytes]:
        # An fsspec file, given the io interface the readers use (readline(limit), peek, readinto).
        return io.BufferedReader(path.open("rb"), buffer_size=8 << 20)

    def read_parquet(self, path: LakePath, columns: list[str] | None = None) -> pl.DataFrame:
        with path.open("rb") as fh:
            return pl.read_parquet(io.BytesIO(fh.read()), columns=columns)

    def parquet_metadata(self, path: LakePath) -> pq.FileMetaData:
        with path.open("rb") as fh:
            return pq.ParquetFile(fh).metadata

    def mtime_ns(self, path: LakePath) -> int:
        return int(path.stat().st_mtime * 1_000_000_000)

    def local_path(self, path: LakePath) -> Path | None:
        return None

    # ---------------------------------------------------------------- writing
    def write_bytes_atomic(self, path: LakePath, data: bytes, *, private: bool = False) -> LakePath:
        path.fs.pipe_file(_key(path), data)
        return path

    def create_bytes(self, path: LakePath, data: bytes, *, private: bool = False) -> LakePath:
        try:
            path.fs.pipe_file(_key(path), data, mode="create")
        except FileExistsError:
            raise
        except OSError as exc:
            if path.exists():
                raise FileExistsError(str(path)) from exc
            raise
        return path

    def write_parquet_atomic(self, frame: pl.DataFrame, path: LakePath, *, private: bool = False) -> LakePath:
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd", statistics=True)
        return self.write_bytes_atomic(path, buffer.getvalue())

    def append_bytes(self, path: LakePath, data: Appendable, *, private: bool = False) -> bytes:
        # No appends on object storage: read, extend and rewrite under a lock object of the file's
        # own (parallel ingests on Dask append to one ledger).
        with self.lock(path.with_name(f".{path.name}.lock"), 300, f"{path.name} lock"):
            old = self.read_bytes_or_empty(path)
            body = data(old.rstrip(b"\n").rsplit(b"\n", 1)[-1]) if callable(data) else data
            self.write_bytes_atomic(path, old + body)
        return body

    def move(self, source: LakePath, target: LakePath, *, private: bool = False) -> None:
        source.fs.copy(_key(source), _key(target))
        self.remove_file(source)

    def remove_file(self, path: LakePath) -> None:
        with contextlib.suppress(FileNotFoundError):  # object stores have no folders to prune
            path.fs.rm_file(_key(path))

    def remove_tree(self, folder: LakePath) -> None:
        for path in self.list_files(folder, "", hidden=True):
            self.remove_file(path)

    def make_private(self, root: LakePath, folder: LakePath) -> None:
        return None  # the bucket policy's job

    def publish(self, staged: Path, final: LakePath, *, root: LakePath | None = None, private: bool = False) -> None:
        final.fs.put_file(str(staged), _key(final))
        staged.unlink()

    def fsync_dir(self, path: LakePath) -> None:
        return None

    # ---------------------------------------------------------------- staging
    def staging_root(self, lake: LakePath, *, create: bool = True) -> Path:
        """Where a remote lake stages on this machine: fixed per lake, so recovery (and the
        audit) find what a killed run left there (P1 covers temporary files too)."""
        digest = hashlib.sha256(str(lake).encode()).hexdigest()[:16]
        folder = Path(tempfile.gettempdir()) / "accesslake-staging" / digest
        if create:
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder.parent, PRIVATE_DIR_MODE)
            os.chmod(folder, PRIVATE_DIR_MODE)
        return folder

    @contextmanager
    def local_copies(self, lake: LakePath, files: list[LakePath], name: str) -> Iterator[list[LakePath]]:
        """Copies downloaded once into the lake's local staging (removed on exit, and by the next
        run's recovery after a crash). DuckDB reads a registered fsspec filesystem through Python
        callbacks, so a day read by many marts is fetched once instead of once per mart."""
        if not files:
            yield files
            return
        folder = self.staging_root(lake) / name
        folder.mkdir(parents=True, exist_ok=True)
        try:
            local = [folder / f"{index:05d}-{file.name}" for index, file in enumerate(files)]
            files[0].fs.get([_key(f) for f in files], [str(p) for p in local])
            yield local
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def clean_staging(self, lake: LakePath) -> int:
        stray = self.list_files(lake / "_tmp", "", hidden=True)  # writes are single PUTs: no temp files
        for path in stray:
            self.remove_file(path)
        left = self.leftover_staging(lake)
        shutil.rmtree(self.staging_root(lake, create=False), ignore_errors=True)
        return len(stray) + len(left)

    def leftover_staging(self, lake: LakePath) -> list[Path]:
        return sorted(p for p in self.staging_root(lake, create=False).rglob("*") if p.is_file())

    # ---------------------------------------------------------------- locks
    def _try_lock(self, lock: LakePath) -> dict[str, object] | None:
        """Create the lock object if absent (conditional PUT); None when taken, else the holder seen.

        A lock that cannot be read right now is never broken (a network error is not a dead
        holder); missing write access is an error, not a lock held by someone else.
        """
        mine = json.dumps(_holder()).encode("utf-8")

        def create() -> bool:
            try:
                lock.fs.pipe_file(_key(lock), mine, mode="create")
                return True
            except PermissionError as exc:
                raise LockError(f"{lock}: cannot create the lock object ({exc}); the credentials need write "
                                "access to the lake's prefix") from exc
            except OSError:  # FileExistsError, or S3's 412 Precondition Failed: it exists
                return False

        if create():
            return None
        unknown: dict[str, object] = {"host": "?", "pid": "?", "since": "?"}
        try:
            body = self.read_bytes_or_empty(lock)
        except OSError:
            return unknown  # cannot read it now: retry, never break it blind
        try:
            holder = json.loads(body) if body else {}
        except ValueError:
            holder = None
        if not isinstance(holder, dict) or not holder:
            # Gone meanwhile, or not a lock written here (a local lake's flock file copied over).
            stale = True
        else:
            pid = holder.get("pid")
            dead_here = holder.get("host") == socket.gethostname() and isinstance(pid, int) and not _pid_alive(pid)
            stale = dead_here or _lease_expired(holder)
        if stale:
            # Break it if it is still the one read (a lock just taken by another run survives),
            # then retry once.
            try:
                still_there = self.read_bytes_or_empty(lock) == body
            except OSError:
                still_there = False
            if still_there and body:
                self.remove_file(lock)
            if create():
                return None
        return holder if isinstance(holder, dict) and holder else unknown

    @contextmanager
    def lock(self, path: LakePath, wait_seconds: float, what: str) -> Iterator[None]:
        deadline = time.monotonic() + wait_seconds
        while (holder := self._try_lock(path)) is not None:
            if time.monotonic() >= deadline:
                raise LockError(
                    f"{path.parent}: another accesslake run holds the {what} ({path}); "
                    "wait for it to finish, or pass --wait SECONDS"
                    f" (held by pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}, "
                    f"renewed {holder.get('renewed', '?')}; a lock not renewed for {LEASE_STALE_SECONDS / 60:g} "
                    f"minutes is taken over, or delete {path} if that run is dead)"
                )
            time.sleep(0.2)
        since = json.loads(self.read_bytes_or_empty(path)).get("since")
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(LEASE_RENEW_SECONDS):
                try:
                    self.write_bytes_atomic(path, json.dumps(_holder(since)).encode("utf-8"))
                except Exception as exc:  # noqa: BLE001 - retried next minute; LEASE_STALE_SECONDS allows ten misses
                    logging.getLogger(__name__).warning(
                        "%s: could not renew the lock (%s); another run may take it over after %g minutes "
                        "without renewal", path, exc, LEASE_STALE_SECONDS / 60)

        renewer = threading.Thread(target=renew, name="accesslake-lease", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()
            self.remove_file(path)

    def register(self, con: duckdb.DuckDBPyConnection, lake: LakePath) -> None:
        con.register_filesystem(lake.fs)

    def arrow_filesystem(self, path: LakePath) -> tuple[Any, str]:
        from pyarrow.fs import FSSpecHandler, PyFileSystem

        return PyFileSystem(FSSpecHandler(path.fs)), _key(path)


S3 = S3Storage()
