"""DuckDB connections that can read the lake, on a folder or on object storage, within a memory limit.

Every connection gets a ``temp_directory`` to spill into when a query needs more memory than it may
use: the folder the caller names (the pipeline's steps pass the lake's local staging,
:func:`pipeline_spill`, so a killed run's spill files are found by the audit and removed by the next
run's recovery, like any staged file), else a folder of this process only (``accesslake-duckdb-*``
under the system's temp folder, 0700, removed at exit). DuckDB creates spill files only when it
spills and removes them when the connection closes. (Without a temp directory an in-memory DuckDB
spills into ``.tmp`` of the working directory.)

The pipeline's connections (marts, detection, audit: those given ``spill``) may use
:func:`memory_limit` (``ACCESSLAKE_MEMORY_LIMIT``, default :data:`DEFAULT_MEMORY_LIMIT`), so that a
nightly run stays within a small worker's memory whatever the size of the day; other connections (the
analyst and forensic views) keep DuckDB's own limit unless ``ACCESSLAKE_MEMORY_LIMIT`` is set. An
operator DuckDB cannot spill may still run out: :func:`with_more_memory` runs a query again with the
limit raised, step by step (docs/performance.md, "Memory").
"""

from __future__ import annotations

import atexit
import functools
import itertools
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

from accesslake.errors import ConfigError
from accesslake.storage.backend import LakePath, storage_for

__all__ = ["DEFAULT_MEMORY_LIMIT", "MEMORY_ENV", "connect", "memory_limit", "pipeline_spill", "raised_limits",
           "spill_folder", "with_more_memory"]

R = TypeVar("R")

#: Environment variable that sets DuckDB's memory limit per connection (``256MiB``, ``1GB`` ...).
MEMORY_ENV = "ACCESSLAKE_MEMORY_LIMIT"
#: The pipeline's DuckDB working memory per connection when ``ACCESSLAKE_MEMORY_LIMIT`` is not set: with the
#: libraries loaded (~170 MiB) a nightly run of a 2M-line day then peaks under 512 MiB (docs/performance.md).
DEFAULT_MEMORY_LIMIT = "256MiB"
_SIZE = re.compile(r"\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>(?P<prefix>[KMGT]?)(?P<binary>i?)B?|bytes)\s*",
                   re.IGNORECASE)
_COUNTER = itertools.count()


def memory_limit() -> str:
    """DuckDB's memory limit per pipeline connection: ``ACCESSLAKE_MEMORY_LIMIT`` or :data:`DEFAULT_MEMORY_LIMIT`."""
    value = os.environ.get(MEMORY_ENV, "").strip() or DEFAULT_MEMORY_LIMIT
    if not _SIZE.fullmatch(value):
        raise ConfigError(f"{MEMORY_ENV}: {value!r} is not a size; write it like 256MiB or 1GB")
    return value


def raised_limits(times: int = 3) -> list[str]:
    """:func:`memory_limit` doubled ``times`` times (``320MiB``, ``640MiB`` ... as KiB): what a query that ran
    out of memory in an operator DuckDB cannot spill is run again with, one after the other."""
    match = _SIZE.fullmatch(memory_limit())
    assert match is not None  # checked by memory_limit
    power = 0 if match["unit"].lower() == "bytes" else "KMGT".find(match["prefix"].upper()) + 1
    base = float(match["number"]) * (1024 if match["binary"] or not match["prefix"] else 1000) ** power
    return [f"{int(base * 2 ** n) // 1024}KiB" for n in range(1, times + 1)]


def with_more_memory(con: duckdb.DuckDBPyConnection, call: Callable[[], R]) -> R:
    """``call()`` on ``con``; when DuckDB runs out of memory (an operator it cannot spill), again with each of
    :func:`raised_limits` in turn, then the error. The connection's limit is set back afterwards."""
    limits = raised_limits()
    try:
        for limit in [None, *limits]:
            if limit is not None:
                con.execute("set memory_limit = $limit", {"limit": limit}).fetchall()
            try:
                return call()
            except duckdb.OutOfMemoryException:
                if limit == limits[-1]:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
    finally:
        con.execute("set memory_limit = $limit", {"limit": memory_limit()}).fetchall()


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
    """An in-memory DuckDB connection that can read ``lake``, spilling into ``spill`` (a pipeline step's
    connection, within :func:`memory_limit`) or into a :func:`spill_folder`.

    DuckDB never downloads extensions here (no network calls the user did not configure):
    s3:// goes through the lake's registered fsspec filesystem, not httpfs.
    ``ACCESSLAKE_THREADS`` caps DuckDB's threads (set per Dask worker by flows/runners.py).
    """
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "temp_directory": str(spill if spill is not None else spill_folder()),
        # give memory back after each task, not only past 128 MiB: the nightly runs ingest, marts,
        # detection and the audit one after another in one process
        "allocator_flush_threshold": "32MiB", "allocator_background_threads": True,
    }
    if spill is not None or os.environ.get(MEMORY_ENV, "").strip():
        config["memory_limit"] = memory_limit()
    threads = os.environ.get("ACCESSLAKE_THREADS", "").strip()
    if threads.isdigit() and int(threads) > 0:
        config["threads"] = int(threads)
    con = duckdb.connect(config=config)
    if lake is not None:
        storage_for(lake).register(con, lake)
    return con
