"""DuckDB connections that can read the lake, on a folder or on object storage."""

from __future__ import annotations

import os

import duckdb

from accesslake.storage.backend import LakePath, storage_for

__all__ = ["connect"]


def connect(lake: LakePath | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection that can read ``lake``.

    DuckDB never downloads extensions here (no network calls the user did not configure):
    s3:// goes through the lake's registered fsspec filesystem, not httpfs.
    ``ACCESSLAKE_THREADS`` caps DuckDB's threads (set per Dask worker by flows/runners.py).
    """
    config: dict[str, str | bool | int | float | list[str]] = {"autoinstall_known_extensions": False}
    threads = os.environ.get("ACCESSLAKE_THREADS", "").strip()
    if threads.isdigit() and int(threads) > 0:
        config["threads"] = int(threads)
    con = duckdb.connect(config=config)
    if lake is not None:
        storage_for(lake).register(con, lake)
    return con
