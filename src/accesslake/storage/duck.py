"""DuckDB connections that can read the lake, on a folder or on object storage, within a memory limit.

Every connection gets a ``memory_limit`` (:func:`memory_limit`: ``ACCESSLAKE_MEMORY_LIMIT``, default
:data:`DEFAULT_MEMORY_LIMIT`) and a ``temp_directory`` to spill into when a query needs more: the
folder the caller names (the pipeline passes the lake's local staging, :func:`pipeline_spill`, so a
killed run's spill files are found by the audit and removed by the next run's recovery, like any
staged file), else a folder of this process only (``accesslake-duckdb-*`` under the system's temp
folder, 0700, removed at exit). DuckDB creates its spill files only when it spills and removes them
when the connection closes. Without a temp directory an in-memory DuckDB spills into ``.tmp`` of
the working directory.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import os
import re
import shutil
import tempfile
from pathlib import Path

import duckdb

from accesslake.errors import ConfigError
from accesslake.storage.backend import LakePath, storage_for

__all__ = ["DEFAULT_MEMORY_LIMIT", "MEMORY_ENV", "connect", "memory_limit", "pipeline_spill", "spill_folder"]

#: Environment variable that sets DuckDB's memory limit per connection (``256MiB``, ``1GB`` ...).
MEMORY_ENV = "ACCESSLAKE_MEMORY_LIMIT"
#: DuckDB's working memory per connection when ``ACCESSLAKE_MEMORY_LIMIT`` is not set: with the
#: libraries loaded (~170 MiB) a nightly run of a 2M-line day then stays under 512 MiB (docs/performance.md).
DEFAULT_MEMORY_LIMIT = "256MiB"
_SIZE = re.compile(r"^\s*\d+(?:\.\d+)?\s*(?:[KMGT]i?B|[KMGT]|bytes)?\s*$", re.IGNORECASE)
_COUNTER = itertools.count()


def memory_limit() -> str:
    """DuckDB's memory limit per connection: ``ACCESSLAKE_MEMORY_LIMIT`` or :data:`DEFAULT_MEMORY_LIMIT`."""
    value = os.environ.get(MEMORY_ENV, "").strip() or DEFAULT_MEMORY_LIMIT
    if not _SIZE.fullmatch(value):
        raise ConfigError(f"{MEMORY_ENV}: {value!r} is not a size; write it like 256MiB or 1GB")
    return value


@functools.cache
def _process_spill_root() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="accesslake-duckdb-"))  # 0700
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def spill_folder() -> Path:
    """A fresh folder of this process only (0700, removed at exit) for one connection's spill files."""
    return _process_spill_root() / f"c{next(_COUNTER)}"


def pipeline_spill(lake: LakePath) -> Path:
    """Where a pipeline step on ``lake`` (run under the writer lock) spills: the lake's local staging."""
    return storage_for(lake).staging_root(lake) / f"duckdb-{os.getpid()}-{next(_COUNTER)}"


def connect(lake: LakePath | None = None, *, spill: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection that can read ``lake``, within :func:`memory_limit`, spilling into
    ``spill`` (default: :func:`spill_folder`).

    DuckDB never downloads extensions here (no network calls the user did not configure):
    s3:// goes through the lake's registered fsspec filesystem, not httpfs.
    ``ACCESSLAKE_THREADS`` caps DuckDB's threads (set per Dask worker by flows/runners.py).
    """
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False, "memory_limit": memory_limit(),
        "temp_directory": str(spill if spill is not None else spill_folder()),
        # insertion order is kept by ORDER BY where a model needs it; without it DuckDB can stream and spill more
        "preserve_insertion_order": False,
    }
    threads = os.environ.get("ACCESSLAKE_THREADS", "").strip()
    if threads.isdigit() and int(threads) > 0:
        config["threads"] = int(threads)
    con = duckdb.connect(config=config)
    if lake is not None:
        storage_for(lake).register(con, lake)
    return con
