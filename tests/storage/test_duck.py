"""DuckDB connections within a memory limit (storage.duck): the pipeline's connections are capped and spill
into the lake's staging; a query that runs out of memory anyway runs again with more; the locked analyst
connection can still spill, into its own folder only."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from accesslake.analytics import views
from accesslake.storage import Layout
from accesslake.storage.duck import (
    DEFAULT_MEMORY_LIMIT,
    MEMORY_ENV,
    connect,
    memory_limit,
    pipeline_spill,
    raised_limits,
    with_more_memory,
)

#: A hash aggregate that needs far more than 24 MiB of DuckDB's memory (it spills).
BIG_GROUPING = "select count(*) from (select md5(i::varchar) as s from range(1500000) t(i) group by s)"


def setting(con: duckdb.DuckDBPyConnection, name: str) -> str:
    found = con.execute("select current_setting($name)", {"name": name}).fetchone()
    assert found is not None
    return str(found[0])


def test_a_pipeline_connection_is_capped_and_spills_into_the_lakes_staging(lake: Path) -> None:
    spill = pipeline_spill(lake)
    assert spill.parent == Layout(lake).tmp  # staging: the audit names leftovers, recovery removes them
    con = connect(lake, spill=spill)
    try:
        assert setting(con, "memory_limit") == "256.0 MiB"  # DEFAULT_MEMORY_LIMIT, as DuckDB shows it
        assert setting(con, "temp_directory") == str(spill)
    finally:
        con.close()
    assert not spill.exists()  # DuckDB removes its spill files with the connection


def test_other_connections_keep_duckdbs_limit_unless_one_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    con = connect()
    assert setting(con, "memory_limit") != "256.0 MiB" and "accesslake-duckdb-" in setting(con, "temp_directory")
    monkeypatch.setenv(MEMORY_ENV, "64MiB")
    assert setting(connect(), "memory_limit") == "64.0 MiB"


def test_the_limit_is_a_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    assert memory_limit() == DEFAULT_MEMORY_LIMIT and raised_limits() == ["524288KiB", "1048576KiB", "2097152KiB"]
    monkeypatch.setenv(MEMORY_ENV, "1GB")
    assert raised_limits(1) == ["1953125KiB"]
    monkeypatch.setenv(MEMORY_ENV, "lots")
    with pytest.raises(Exception, match="ACCESSLAKE_MEMORY_LIMIT: 'lots' is not a size"):
        memory_limit()


def test_a_query_out_of_memory_runs_again_with_more(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_ENV, "1MiB")  # too little for quantile_cont, which cannot spill; 4 MiB is enough
    con = connect(spill=tmp_path / "spill")
    quantile = "select quantile_cont(i, 0.5) from range(100000) t(i)"  # holistic: every value in memory
    with pytest.raises(duckdb.OutOfMemoryException):
        con.execute(quantile).fetchall()
    assert with_more_memory(con, lambda: con.execute(quantile).fetchall()) == [(49999.5,)]
    assert setting(con, "memory_limit") == "1.0 MiB"  # set back


def test_the_locked_analyst_connection_spills_into_its_own_folder_only(
    lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MEMORY_ENV, "24MiB")
    con = views.connect(lake)
    try:
        assert con.execute(BIG_GROUPING).fetchall() == [(1500000,)]  # spilled: more than 24 MiB
        outside = tmp_path / "outside.parquet"
        pl.DataFrame({"a": [1]}).write_parquet(outside)
        with pytest.raises(duckdb.PermissionException):
            con.execute("select * from read_parquet($path)", {"path": str(outside)}).fetchall()
        with pytest.raises(duckdb.Error):
            con.execute("set allowed_directories = ['/']").fetchall()
    finally:
        con.close()
