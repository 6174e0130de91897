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

Object storage. The lake may also live at ``s3://bucket/prefix`` (credentials
and endpoint from the environment: ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ``AWS_REGION``). The lake root
is then a :class:`upath.UPath` over fsspec's ``s3fs`` instead of a
:class:`pathlib.Path`; every module reaches storage through the functions here,
which keep one contract on both:

- a single object PUT is atomic (a reader sees the old or the new object), so
  :func:`write_parquet_atomic` writes the final key directly; there is no
  rename, and no multi-file operation relies on one: ingest lists its targets
  in an intent before publishing them, and the anonymiser journals every
  main/held move (see :mod:`accesslake.anonymize`), so recovery after a crash
  works from what is listed, not from a rename;
- staging (ingest's ``_tmp``) is a local temporary folder, uploaded by
  :func:`publish`;
- locks are objects created with a conditional PUT (``If-None-Match: *``),
  holding host, pid and time; a lock left by a dead process on the same host
  is broken, one from another host is reported with its holder;
- permissions (0700/0600 on held/) are the bucket's access policy, not file
  modes; :func:`make_private` is a no-op there (docs/lake.md).
"""

from __future__ import annotations

import fcntl
import io
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow.parquet as pq

from accesslake.errors import ConfigError, LockError

__all__ = [
    "LakePath",
    "Partition",
    "append_text",
    "as_lake",
    "create_bytes",
    "exclusive",
    "is_remote",
    "local_copies",
    "local_staging_files",
    "lake_root",
    "make_private",
    "mtime_ns",
    "mtimes_ns",
    "parquet_metadata",
    "publish",
    "read_bytes_or_empty",
    "read_dataset",
    "read_parquet",
    "read_partitioned",
    "relative",
    "remove_tree",
    "staging_dir",
    "uri",
    "write_bytes_atomic",
    "write_text_atomic",
    "check_site",
    "clean_tmp",
    "connect",
    "fsync_dir",
    "list_files",
    "list_partitions",
    "partition_dir",
    "partition_of",
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
_URL = re.compile(r"^(?P<protocol>[A-Za-z][A-Za-z0-9+.-]*)://")
REMOTE_PROTOCOLS = ("s3", "s3a")
LOCK_NAME = ".lock"

# A path in the lake: pathlib.Path for a local folder, upath.UPath for object storage.
LakePath = Any


def check_site(site: str) -> str:
    if not _SITE.match(site):
        raise ConfigError(f"--site: {site!r} is not a valid site name (letters, digits, '.', '_', '-')")
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
    from upath import UPath  # imported only for object storage

    # No listing cache: DuckDB and Polars write beside this filesystem object, and a
    # stale listing would hide a file from the anonymiser.
    return UPath(text.rstrip("/"), use_listings_cache=False)


def is_remote(path: LakePath) -> bool:
    """True for a path on object storage (anything that is not a local pathlib.Path)."""
    return not isinstance(path, Path)


def uri(path: LakePath) -> str:
    """The string DuckDB, Polars and people use for ``path`` (resolved for local paths)."""
    return str(path) if is_remote(path) else str(Path(path).resolve())


def as_lake(lake: str | os.PathLike[str] | LakePath) -> LakePath:
    """A lake root from what a notebook or caller passes: a string or path, or an existing root."""
    return lake_root(lake) if isinstance(lake, str) else lake


def relative(path: LakePath, root: LakePath) -> str:
    """``path`` relative to ``root`` with '/' separators (the form kept in intents, journals, audit)."""
    return "/".join(str(part).strip("/") for part in path.relative_to(root).parts)


def _key(path: LakePath) -> str:
    return str(path.path)


@dataclass(frozen=True, order=True)
class Partition:
    """One ``site=/date=`` folder of a dataset (``incident`` set under held/)."""

    site: str
    day: date
    path: LakePath
    incident: str | None = None

    def files(self) -> list[LakePath]:
        if is_remote(self.path):
            return [f for f in list_files(self.path) if f.parent == self.path]
        return sorted(p for p in self.path.glob("*.parquet") if not p.name.startswith("."))


def partition_of(path: LakePath) -> tuple[str, date]:
    """(site, day) of a file inside a ``site=/date=`` partition folder."""
    site = path.parent.parent.name.split("=", 1)[1]
    return site, date.fromisoformat(path.parent.name.split("=", 1)[1])


def partition_dir(root: LakePath, site: str, day: date, incident: str | None = None) -> LakePath:
    base = root / f"incident={incident}" if incident else root
    return base / f"site={site}" / f"date={day.isoformat()}"


def _partition_keys(folder: LakePath, root: LakePath) -> dict[str, str]:
    keys: dict[str, str] = {}
    for part in folder.relative_to(root).parts:
        match = _PART.match(str(part).strip("/"))
        if match:
            keys[match["key"]] = match["value"]
    return keys


def list_partitions(root: LakePath) -> list[Partition]:
    """Every partition folder under ``root`` (requests/, rejects/, held/ or a mart)."""
    found: list[Partition] = []
    if is_remote(root):
        folders = {f.parent for f in list_files(root)}
    elif root.exists():
        folders = {f for f in root.rglob("date=*") if f.is_dir()}
    else:
        return found
    for folder in folders:
        keys = _partition_keys(folder, root)
        if "site" in keys and "date" in keys:
            found.append(Partition(keys["site"], date.fromisoformat(keys["date"]), folder, keys.get("incident")))
    return sorted(found, key=lambda p: (p.site, p.day, p.incident or "", str(p.path)))


def list_files(root: LakePath, pattern: str = ".parquet", *, hidden: bool = False) -> list[LakePath]:
    """Every visible (or, with ``hidden``, every) file under ``root`` whose name ends with ``pattern``."""
    if is_remote(root):
        try:
            keys = root.fs.find(_key(root), withdirs=False, detail=False)
        except FileNotFoundError:
            return []
        base = _key(root).rstrip("/") + "/"
        found = [root / k[len(base):] for k in keys if k.startswith(base)]
    else:
        if not root.exists():
            return []
        found = [p for p in root.rglob(f"*{pattern}") if p.is_file()]
    return sorted(p for p in found if p.name.endswith(pattern) and (hidden or not p.name.startswith(".")))


def fsync_dir(path: LakePath) -> None:
    if is_remote(path):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ensure_dir(path: LakePath, private: bool) -> None:
    if is_remote(path):
        return
    path.mkdir(parents=True, exist_ok=True)
    if private:
        os.chmod(path, PRIVATE_DIR_MODE)


def make_private(root: LakePath, folder: LakePath) -> None:
    """Create ``folder`` and its parents up to ``root`` (included), each 0700; nothing on object storage."""
    if is_remote(root):
        return
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, PRIVATE_DIR_MODE)
    folder.mkdir(parents=True, exist_ok=True)
    while folder != root and root in folder.parents:
        os.chmod(folder, PRIVATE_DIR_MODE)
        folder = folder.parent


# ---------------------------------------------------------------- reading and writing


def read_parquet(path: LakePath, columns: list[str] | None = None) -> pl.DataFrame:
    """One Parquet file of the lake as a DataFrame."""
    if is_remote(path):
        with path.open("rb") as fh:
            return pl.read_parquet(io.BytesIO(fh.read()), columns=columns)
    return pl.read_parquet(path, columns=columns)


def read_partitioned(files: list[LakePath]) -> pl.DataFrame:
    """Parquet files of ``site=/date=`` partitions as one DataFrame with ``site`` and ``date`` columns."""
    if not files:
        return pl.DataFrame(schema={"site": pl.String, "date": pl.Date})
    if not is_remote(files[0]):
        return pl.read_parquet(files, hive_partitioning=True, hive_schema={"site": pl.String, "date": pl.Date})
    frames = []
    for file in files:
        site, day = partition_of(file)
        frames.append(read_parquet(file).with_columns(pl.lit(site).alias("site"), pl.lit(day).alias("date")))
    return pl.concat(frames, how="vertical_relaxed")


def parquet_metadata(path: LakePath) -> pq.FileMetaData:
    """The footer of one Parquet file (statistics, row counts) without reading its data."""
    if is_remote(path):
        with path.open("rb") as fh:
            return pq.ParquetFile(fh).metadata
    return pq.ParquetFile(path).metadata


def write_bytes_atomic(path: LakePath, data: bytes, *, private: bool = False) -> LakePath:
    """Write ``data`` crash-safely: temp file, fsync, rename, fsync dir (one PUT on object storage)."""
    if is_remote(path):
        path.fs.pipe_file(_key(path), data)
        return path
    _ensure_dir(path.parent, private)
    os.replace(_write_temp(path, data, private), path)
    fsync_dir(path.parent)
    return path


def _write_temp(path: Path, data: bytes, private: bool) -> Path:
    """``data`` in a temp file beside ``path``, whole and fsynced (0600 when private); returns its path."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE if private else 0o644)
    try:
        if private:
            os.fchmod(fd, PRIVATE_FILE_MODE)  # also when the temp file was left by a crash
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    return tmp


def create_bytes(path: LakePath, data: bytes, *, private: bool = False) -> LakePath:
    """Write a new file; FileExistsError when ``path`` is taken (hard link locally, conditional PUT remotely)."""
    if is_remote(path):
        try:
            path.fs.pipe_file(_key(path), data, mode="create")
        except FileExistsError:
            raise
        except OSError as exc:
            if path.exists():
                raise FileExistsError(str(path)) from exc
            raise
        return path
    _ensure_dir(path.parent, False)
    tmp = _write_temp(path, data, private)
    try:
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return path


def write_text_atomic(path: LakePath, text: str, *, private: bool = False) -> LakePath:
    return write_bytes_atomic(path, text.encode("utf-8"), private=private)


def write_parquet_atomic(frame: pl.DataFrame, path: LakePath, *, private: bool = False) -> LakePath:
    """Write ``frame`` to ``path`` crash-safely: temp file, fsync, rename, fsync dir.

    On object storage the file is built in memory and sent as one PUT, which is atomic.
    """
    if is_remote(path):
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd", statistics=True)
        return write_bytes_atomic(path, buffer.getvalue())
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


def read_bytes_or_empty(path: LakePath) -> bytes:
    """The file's bytes, or b"" when it does not exist (one request on object storage, not two)."""
    try:
        # One GET on object storage: a small object rewritten meanwhile (a lock's lease) is read
        # whole, old or new, where a ranged file read would fail on the changed ETag.
        return path.fs.cat_file(_key(path)) if is_remote(path) else path.read_bytes()
    except FileNotFoundError:
        return b""


def append_text(path: LakePath, text: str) -> None:
    """Append ``text`` durably (fsync). Object storage has no appends: the object is read and
    rewritten under a lock object of its own (parallel ingests on Dask append to one ledger)."""
    if is_remote(path):
        with exclusive(path.with_name(f".{path.name}.lock"), wait_seconds=300, what=f"{path.name} lock"):
            old = read_bytes_or_empty(path)
            write_bytes_atomic(path, old + text.encode("utf-8"))
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def publish(staged: Path, final: LakePath, *, root: LakePath | None = None, private: bool = False) -> None:
    """Move a locally staged file to its place in the lake (rename, or upload then delete)."""
    if is_remote(final):
        final.fs.put_file(str(staged), _key(final))
        staged.unlink()
        return
    if private and root is not None:
        make_private(root, final.parent)
    else:
        final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, final)
    fsync_dir(final.parent)


def staging_dir(lake: LakePath, name: str) -> Path:
    """A local folder to stage ``name`` in: ``<lake>/_tmp/<name>``, or a temp folder for a remote lake."""
    if is_remote(lake):
        return _local_staging(lake) / name
    return lake / TMP / name


def local_staging_files(lake: LakePath) -> list[Path]:
    """Files left in a remote lake's local staging (by a killed run); none for a local lake."""
    if not is_remote(lake):
        return []
    return sorted(p for p in _local_staging_path(lake).rglob("*") if p.is_file())


def _local_staging_path(lake: LakePath) -> Path:
    """Where a remote lake stages on this machine: fixed per lake, so recovery (and the
    audit) find what a killed run left there (P1 covers temporary files too)."""
    import hashlib

    return Path(tempfile.gettempdir()) / "accesslake-staging" / hashlib.sha256(uri(lake).encode()).hexdigest()[:16]


def _local_staging(lake: LakePath) -> Path:
    """:func:`_local_staging_path`, created 0700."""
    folder = _local_staging_path(lake)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder.parent, PRIVATE_DIR_MODE)
    os.chmod(folder, PRIVATE_DIR_MODE)
    return folder


@contextmanager
def local_copies(lake: LakePath, files: list[LakePath], name: str) -> Iterator[list[LakePath]]:
    """``files`` readable at local speed: themselves for a local lake; for object storage,
    copies downloaded once into the lake's local staging (removed on exit, and by the next
    run's recovery after a crash). DuckDB reads a registered fsspec filesystem through
    Python callbacks, so a day read by 16 marts is fetched once instead of 16 times."""
    if not files or not is_remote(lake):
        yield files
        return
    folder = staging_dir(lake, name)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        local = [folder / f"{index:05d}-{file.name}" for index, file in enumerate(files)]
        files[0].fs.get([_key(f) for f in files], [str(p) for p in local])
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def mtimes_ns(root: LakePath) -> dict[str, int]:
    """Modification time (ns) of every visible Parquet file under ``root``, by ``str(path)``;
    one listing on object storage instead of a request per file."""
    if not is_remote(root):
        return {str(p): p.stat().st_mtime_ns for p in list_files(root)}
    try:
        found = root.fs.find(_key(root), withdirs=False, detail=True)
    except FileNotFoundError:
        return {}
    base = _key(root).rstrip("/") + "/"
    out = {}
    for key, info in found.items():
        name = key.rsplit("/", 1)[-1]
        if key.startswith(base) and name.endswith(".parquet") and not name.startswith("."):
            stamp = info.get("LastModified") or info.get("mtime")
            out[str(root / key[len(base):])] = int(stamp.timestamp() * 1_000_000_000) if stamp else 0
    return out


def mtime_ns(path: LakePath) -> int:
    """Modification time in nanoseconds (object storage: the upload time, to the second)."""
    if is_remote(path):
        return int(path.stat().st_mtime * 1_000_000_000)
    return path.stat().st_mtime_ns


def remove_file(path: LakePath) -> None:
    """Delete a file and prune its now-empty partition folders."""
    if is_remote(path):
        try:
            path.fs.rm_file(_key(path))
        except FileNotFoundError:
            pass
        return  # object stores have no folders to prune
    path.unlink(missing_ok=True)
    folder = path.parent
    while folder.name.split("=")[0] in ("date", "site", "incident"):
        try:
            folder.rmdir()
        except OSError:
            break
        folder = folder.parent


def remove_tree(path: LakePath) -> None:
    """Delete a folder and everything under it (missing is fine)."""
    if is_remote(path):
        if path.fs.exists(_key(path)):
            path.fs.rm(_key(path), recursive=True)
        return
    shutil.rmtree(path, ignore_errors=True)


def read_dataset(root: LakePath, schema: pl.Schema) -> pl.LazyFrame:
    """The dataset under ``root`` with its ``site``/``date`` partition columns."""
    files = list_files(root)
    if not files:
        empty = pl.DataFrame(schema=schema).with_columns(
            pl.lit(None, pl.String).alias("site"), pl.lit(None, pl.Date).alias("date")
        )
        return empty.lazy()
    if is_remote(root):
        frame = read_partitioned(files)
        missing = [pl.lit(None, dtype).alias(name) for name, dtype in schema.items() if name not in frame.columns]
        return frame.with_columns(missing).select(
            [pl.col(name).cast(dtype) for name, dtype in schema.items()] + ["site", "date"]
        ).lazy()
    return pl.scan_parquet(
        files,
        hive_partitioning=True,
        hive_schema={"site": pl.String, "date": pl.Date},
        missing_columns="insert",
        extra_columns="ignore",
        schema=schema,
    )


def clean_tmp(lake: LakePath) -> int:
    """Remove staging left by an interrupted run; returns the number of files removed."""
    if is_remote(lake):  # writes there are single PUTs: no temp files beside their targets
        stray = list_files(lake / TMP, "", hidden=True)
        for path in stray:
            remove_file(path)
        left = local_staging_files(lake)
        shutil.rmtree(_local_staging_path(lake), ignore_errors=True)
        return len(stray) + len(left)
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


def connect(lake: LakePath | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection that can read the lake (object storage registered if remote).

    DuckDB never downloads extensions here (no network calls the user did not configure):
    s3:// goes through the registered fsspec filesystem, not httpfs.
    """
    config: dict[str, object] = {"autoinstall_known_extensions": False}
    threads = os.environ.get("ACCESSLAKE_THREADS", "").strip()
    if threads.isdigit() and int(threads) > 0:  # e.g. set per Dask worker (flows/runners.py)
        config["threads"] = int(threads)
    con = duckdb.connect(config=config)
    if lake is not None and is_remote(lake):
        con.register_filesystem(lake.fs)
    return con


# ---------------------------------------------------------------- locks


# A lock object on object storage is a lease: its holder rewrites ``renewed`` every
# LEASE_RENEW_SECONDS; one not renewed for LEASE_STALE_SECONDS (wall clock) belongs to a
# dead run on some machine (a killed pod, a lost VM) and is broken by the next run.
LEASE_RENEW_SECONDS = 60.0
LEASE_STALE_SECONDS = 600.0


def _holder(since: str | None = None) -> dict[str, object]:
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return {"host": socket.gethostname(), "pid": os.getpid(), "since": since or now, "renewed": now}


def _lease_expired(holder: dict[str, object]) -> bool:
    try:
        renewed = datetime.fromisoformat(str(holder.get("renewed") or holder.get("since")))
    except ValueError:
        return True
    return (datetime.now(timezone.utc) - renewed).total_seconds() > LEASE_STALE_SECONDS


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _try_remote_lock(lock: LakePath) -> dict[str, object] | None:
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
            raise LockError(f"{lock}: cannot create the lock object ({exc}); the credentials need write access "
                            "to the lake's prefix") from exc
        except OSError:  # FileExistsError, or S3's 412 Precondition Failed: it exists
            return False

    if create():
        return None
    unknown: dict[str, object] = {"host": "?", "pid": "?", "since": "?"}
    try:
        body = read_bytes_or_empty(lock)
    except OSError:
        return unknown  # cannot read it now: retry, never break it blind
    try:
        holder = json.loads(body) if body else {}
    except ValueError:
        holder = None
    if not isinstance(holder, dict) or not holder:
        # Gone meanwhile, or not a lock written here (a local lake's flock file copied to the bucket).
        stale = True
    else:
        dead_here = holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int) \
            and not _pid_alive(holder["pid"])
        stale = dead_here or _lease_expired(holder)
    if stale:
        # Left by a dead process here, or its lease ran out: break it if it is still the one
        # read (a lock just taken by another run survives), then retry once.
        try:
            still_there = read_bytes_or_empty(lock) == body
        except OSError:
            still_there = False
        if still_there and body:
            remove_file(lock)
        if create():
            return None
    return holder if isinstance(holder, dict) and holder else unknown


@contextmanager
def exclusive(lock: LakePath, wait_seconds: float = 0.0, *, what: str = "lock") -> Iterator[None]:
    """Hold the lock file ``lock`` (flock locally, a conditional-PUT object on object storage)."""
    deadline = time.monotonic() + wait_seconds
    if is_remote(lock):
        while (holder := _try_remote_lock(lock)) is not None:
            if time.monotonic() >= deadline:
                raise LockError(
                    f"{lock.parent}: another accesslake run holds the {what} ({lock}); "
                    "wait for it to finish, or pass --wait SECONDS"
                    f" (held by pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}, "
                    f"renewed {holder.get('renewed', '?')}; a lock not renewed for {LEASE_STALE_SECONDS / 60:g} "
                    f"minutes is taken over, or delete {lock} if that run is dead)"
                )
            time.sleep(0.2)
        since = json.loads(read_bytes_or_empty(lock)).get("since")
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(LEASE_RENEW_SECONDS):
                try:
                    write_bytes_atomic(lock, json.dumps(_holder(since)).encode("utf-8"))
                except Exception as exc:  # noqa: BLE001 - retried next minute; LEASE_STALE_SECONDS allows ten misses
                    logging.getLogger(__name__).warning(
                        "%s: could not renew the lock (%s); another run may take it over after %g minutes "
                        "without renewal", lock, exc, LEASE_STALE_SECONDS / 60)

        renewer = threading.Thread(target=renew, name="accesslake-lease", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()
            remove_file(lock)
        return
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a+") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockError(
                        f"{lock.parent}: another accesslake run holds the {what} ({lock}); "
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


@contextmanager
def writer_lock(lake: LakePath, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the lake's single-writer lock; wait up to ``wait_seconds`` for it."""
    if not is_remote(lake):
        lake.mkdir(parents=True, exist_ok=True)
    with exclusive(lake / LOCK_NAME, wait_seconds, what="writer lock"):
        yield

