"""Analyst views: IP-free requests, one view per mart, empty lake, plain DuckDB, headline stats."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from accesslake.analytics import headline_stats, marts, views
from accesslake.config import Settings
from accesslake.errors import QueryError
from accesslake.policy import PERSONAL_COLUMNS
from accesslake.schema import REQUEST_SCHEMA, conform
from accesslake.sqlfiles import read_sql
from accesslake.storage import write_parquet_atomic

SITE = "blog"
DAY = date(2026, 11, 20)
BUILT = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)


def row(n: int, minute: int, ip: str, path: str, status: int, size: int, **extra: Any) -> dict[str, Any]:
    return {
        "row_id": f"v:{n}", "ts": datetime(2026, 11, 20, 10, minute, tzinfo=UTC), "client_ip": ip,
        "session_id": None, "method": "GET", "path": path, "protocol": "HTTP/1.1", "status": status,
        "bytes": size, "user_agent": "Mozilla/5.0", "browser": "Firefox", "is_bot": False,
        "is_page": True, "received_at": BUILT, **extra,
    }


# 10.0.0.1: one visit of two pages; 10.0.0.2: a bounce; 10.0.0.3 (held): one bot visit, a 404 and a 500
ROWS = [
    row(1, 0, "10.0.0.1", "/", 200, 1000),
    row(2, 1, "10.0.0.1", "/logo.png", 200, 500, is_page=False),
    row(3, 2, "10.0.0.1", "/about", 200, 2000),
    row(4, 3, "10.0.0.2", "/", 304, 0),
    row(5, 4, "10.0.0.3", "/wp-login.php", 404, 100, is_bot=True),
    row(6, 5, "10.0.0.3", "/cgi-bin/x", 500, 0, is_bot=True),
]


def write_rows(lake: Path, rows: list[dict[str, Any]], name: str, incident: str | None = None) -> None:
    root = lake / "held" / f"incident={incident}" if incident else lake / "requests"
    frame = conform(pl.DataFrame(rows, infer_schema_length=None), REQUEST_SCHEMA)
    write_parquet_atomic(frame, root / f"site={SITE}" / f"date={DAY.isoformat()}" / name,
                         private=incident is not None)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake with four rows in requests/, two in held/, and the marts of the day (read only)."""
    lake = tmp_path_factory.mktemp("views") / "lake"
    write_rows(lake, ROWS[:4], name="part-main.parquet")
    write_rows(lake, ROWS[4:], name="part-held.parquet", incident="INC-1")
    marts.build_marts(Settings(lake=lake), BUILT)
    return lake


def columns(con: duckdb.DuckDBPyConnection, view: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in con.sql(f"describe {view}").fetchall()]


def test_requests_view_has_no_identifying_columns_and_no_held_rows(built: Path) -> None:
    con = views.connect(built)
    names = [name for name, _ in columns(con, "requests")]
    assert not set(names) & set(PERSONAL_COLUMNS)
    assert set(PERSONAL_COLUMNS) <= set(views.HIDDEN_COLUMNS)
    assert {"user_agent", "query", "referrer"} <= set(views.HIDDEN_COLUMNS)
    assert set(names) == (set(REQUEST_SCHEMA.names()) - set(views.HIDDEN_COLUMNS)) | {"site", "date"}
    assert con.sql("select count(*), min(site), min(date) from requests").fetchall() == [(4, SITE, DAY)]


def test_every_mart_has_a_view(built: Path) -> None:
    con = views.connect(built)
    for name in marts.MART_NAMES:
        count = con.sql(f"select count(*) from {name}").fetchall()[0][0]
        assert count == marts.read_mart(built, name).height, name
        assert [c for c, _ in columns(con, name)][:2] == ["site", "date"]
    assert con.sql("select count_requests from daily_traffic").fetchall() == [(6,)]


def test_views_work_on_an_empty_lake_with_the_same_columns(lake: Path, built: Path) -> None:
    empty = views.connect(lake.parent / "nothing-here")
    full = views.connect(built)
    for view in ("requests", *marts.MART_NAMES):
        assert empty.sql(f"select count(*) from {view}").fetchall() == [(0,)], view
        assert columns(empty, view) == columns(full, view), view


def test_views_sql_runs_in_a_plain_duckdb_connection(built: Path) -> None:
    """What the DuckDB shell does: SET VARIABLE lake, then run sql/views.sql."""
    con = duckdb.connect()
    con.execute(f"SET VARIABLE lake = '{built}'").fetchall()  # the shell has no bound parameters
    for script in ("empty_tables", "views"):
        for statement in con.extract_statements(read_sql(script)):
            con.execute(statement).fetchall()
    assert con.sql("select sum(count_requests) from daily_traffic").fetchall() == [(6,)]
    assert con.sql("select count(*) from requests").fetchall() == [(4,)]


def test_run_sql(built: Path) -> None:
    frame = views.run_sql(built, "select path, count_page_views from pages order by count_page_views desc limit 1")
    assert frame.to_dicts() == [{"path": "/", "count_page_views": 2}]
    with pytest.raises(QueryError, match="query failed"):
        views.run_sql(built, "select client_ip from requests")


def test_headline_stats(built: Path) -> None:
    stats = headline_stats(built, site=SITE, start=DAY, end=DAY)
    assert {k: v for k, v in stats.items() if k != "per_day"} == {
        "site": SITE, "start": DAY, "end": DAY, "first_day": DAY, "last_day": DAY, "days": 1,
        "requests": 6, "page_views": 3, "visits": 2,  # page views: 2xx/304 of people (rows 1, 3, 4)
        "unique_visitors": 3, "bytes": 3600, "status": {"2xx": 3, "3xx": 1, "4xx": 1, "5xx": 1},
        "error_rate": pytest.approx(2 / 6), "bot_share": pytest.approx(2 / 6), "is_approximate": False,
        "visitor_days_unknown": 0,
    }
    assert [(d["site"], d["date"], d["requests"]) for d in stats["per_day"]] == [(SITE, DAY, 6)]
    assert headline_stats(built, site="other")["requests"] == 0
    assert headline_stats(built, start=date(2026, 11, 21))["days"] == 0


def test_headline_stats_on_an_empty_lake(lake: Path) -> None:
    stats = headline_stats(lake)
    assert (stats["requests"], stats["days"], stats["per_day"], stats["error_rate"]) == (0, 0, [], None)


def test_the_empty_tables_are_generated_from_the_code_that_writes_the_datasets() -> None:
    """sql/empty_tables.sql is what the generator makes now (regenerate: python -m accesslake.analytics.tables)."""
    from accesslake.analytics.tables import empty_tables_sql
    from accesslake.sqlfiles import read_sql

    assert read_sql("empty_tables") == empty_tables_sql()


def test_the_connection_itself_is_locked(built: Path) -> None:
    """Notebooks and the report get the same boundary as `accesslake sql`: no file opens by path."""
    con = views.connect(built)
    held = next((built / "held").rglob("*.parquet"))
    for statement in (f"select * from read_parquet('{held}')", f"select * from glob('{built}/**')",
                      "select * from read_text('/etc/hostname')", "set enable_external_access = true"):
        with pytest.raises(duckdb.Error):
            con.sql(statement).fetchall()
    assert con.sql("select count(*) from requests").fetchall() == [(4,)]  # the views still work


def test_filters_and_projections_reach_the_registered_dataset(built: Path) -> None:
    """The lake is never read whole: DuckDB pushes the query's filters and columns into the PyArrow scan."""
    con = views.connect(built)
    plan = con.sql(f"explain select path from requests where date = DATE '{DAY}' and status = 404").fetchall()[0][1]
    scan = plan[plan.index("Arrow Scan"):]
    assert "date" in scan.split("Filters:")[1] and "status" in scan.split("Filters:")[1]
    assert "Projections:" in scan and "client_ip" not in scan


def test_run_sql_runs_one_read_statement(built: Path) -> None:
    assert views.run_sql(built, "describe requests").height > 10
    assert views.run_sql(built, "select * from requests", limit=2).height == 2
    for text, message in (("copy (select 1) to 'x.csv'", "COPY statements are not allowed"),
                          ("attach 'x.duckdb'", "ATTACH statements are not allowed"),
                          ("select 1; select 2", "exactly one query")):
        with pytest.raises(QueryError, match=message):
            views.run_sql(built, text)
