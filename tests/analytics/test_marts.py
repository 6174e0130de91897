"""Statistics marts: given/expect per model, late data, idempotence, GoAccess parity, no personal data."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from accesslake.analytics import marts
from accesslake.audit.stores import FORBIDDEN_MART_COLUMNS
from accesslake.config import Settings
from accesslake.errors import NotFoundError
from accesslake.policy import Policy, anonymize_exprs
from accesslake.schema import REQUEST_SCHEMA, conform
from accesslake.sqlfiles import SQL_ROOT
from accesslake.storage import write_parquet_atomic

SITE = "blog"
DAY = date(2026, 11, 20)  # a Friday; Europe/Berlin is UTC+1
RECEIVED = datetime(2026, 11, 21, 0, 30, tzinfo=UTC)
BUILT = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)

FIREFOX = {"user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
           "browser": "Firefox", "browser_version": "120", "os": "Linux", "os_version": None,
           "device": "Other", "is_bot": False}
CHROME = {"user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/119.0 Safari/537.36",
          "browser": "Chrome", "browser_version": "119", "os": "Windows", "os_version": "10",
          "device": "Other", "is_bot": False}
GOOGLEBOT = {"user_agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
             "browser": "Googlebot", "browser_version": "2", "os": "Other", "os_version": None,
             "device": "Spider", "is_bot": True}


def request(
    n: int, hms: str, ip: str | None, agent: dict[str, Any], path: str, status: int, size: int, *,
    is_page: bool = True, query: str | None = None, referrer: str | None = None, method: str = "GET",
    rt: float | None = None, received_at: datetime = RECEIVED, source: str = "base",
) -> dict[str, Any]:
    """One row of requests/ on DAY (time ``hms`` UTC), as ingest would store it."""
    return {
        "row_id": f"{source}:{n}",
        "ts": datetime.fromisoformat(f"{DAY.isoformat()}T{hms}+00:00"),
        "client_ip": ip,
        "method": method,
        "path": path,
        "query": query,
        "protocol": "HTTP/1.1",
        "status": status,
        "bytes": size,
        "referrer": referrer,
        "referrer_host": urlsplit(referrer).hostname if referrer else None,
        **agent,
        "is_page": is_page,
        "response_time_ms": rt,
        "received_at": received_at,
        "source_file": f"{source}.log",
        "source_line": n,
    }


# A = 10.0.0.1 Firefox: two visits (gap of 55 min); B = 10.0.0.2 Chrome: follows a broken
# internal link, then lands from a newsletter; C = Googlebot; D = 10.0.0.4 Chrome: one 503.
BASE_ROWS = [
    request(1, "10:00:00", "10.0.0.1", FIREFOX, "/", 200, 1000, referrer="https://www.google.com/", rt=10),
    request(2, "10:00:01", "10.0.0.1", FIREFOX, "/style.css", 200, 500, is_page=False,
            referrer="https://blog.example/", rt=20),
    request(3, "10:05:00", "10.0.0.1", FIREFOX, "/about", 200, 2000, referrer="https://blog.example/", rt=30),
    request(4, "11:00:00", "10.0.0.1", FIREFOX, "/", 304, 0, method="HEAD", rt=40),
    request(5, "10:10:00", "10.0.0.2", CHROME, "/missing", 404, 100,
            referrer="https://blog.example/about?ref=nav", rt=50),
    request(6, "10:20:00", "10.0.0.2", CHROME, "/", 200, 1000,
            query="utm_source=Newsletter&utm_medium=email&utm_campaign=Nov+Sale%21", rt=60),
    request(7, "12:00:00", "10.0.0.3", GOOGLEBOT, "/", 200, 1000, rt=70),
    request(8, "12:00:05", "10.0.0.3", GOOGLEBOT, "/old", 404, 100, referrer="https://other.example/links",
            rt=80),
    request(9, "23:59:00", "10.0.0.4", CHROME, "/api", 503, 0, rt=1000),
]


def write_rows(lake: Path, rows: list[dict[str, Any]], name: str = "part-base.parquet",
               incident: str | None = None) -> Path:
    root = lake / "held" / f"incident={incident}" if incident else lake / "requests"
    path = root / f"site={SITE}" / f"date={DAY.isoformat()}" / name
    frame = conform(pl.DataFrame(rows, infer_schema_length=None), REQUEST_SCHEMA)
    return write_parquet_atomic(frame, path, private=incident is not None)


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = marts.connect_build()
    yield connection
    connection.close()


@pytest.fixture
def base_files(lake: Path) -> list[Path]:
    return [write_rows(lake, BASE_ROWS)]


def run(name: str, files: list[Path], con: duckdb.DuckDBPyConnection, *, tz: str = "Europe/Berlin",
        previous: dict[str, Any] | None = None) -> pl.DataFrame:
    params = marts.model_params(files, site=SITE, day=DAY, tz=tz, built_at=BUILT, previous=previous)
    return marts.run_model(name, params, con)


def records(frame: pl.DataFrame, *columns: str) -> list[dict[str, Any]]:
    return frame.select(columns).to_dicts()


# ---------------------------------------------------------------- given/expect per model


def test_daily_traffic(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    row = run("daily_traffic", base_files, con).to_dicts()
    assert len(row) == 1
    assert row[0] == {
        "count_requests": 9,
        "count_page_views": 8,
        "count_visits": 5,  # A: 2 (55 min gap), B: 1, C: 1, D: 1
        "count_unique_visitors": 4,  # (ip, UA) of A, B, C, D; 4xx rows not counted (GoAccess)
        "sum_bytes": 5700,
        "count_2xx": 5,
        "count_3xx": 1,
        "count_4xx": 2,
        "count_5xx": 1,
        "count_other_status": 0,
        "error_rate": pytest.approx(3 / 9),
        "count_bot_requests": 2,
        "bot_share": pytest.approx(2 / 9),
        "count_not_modified": 1,
        "not_modified_share": pytest.approx(1 / 9),
        "p50_response_ms": pytest.approx(50.0),
        "p95_response_ms": pytest.approx(80 + 0.6 * 920),
        "p99_response_ms": pytest.approx(80 + 0.92 * 920),
        "count_bounces": 2,
        "bounce_rate": pytest.approx(0.4),
        "count_visit_page_views": 8,
        "pages_per_visit": pytest.approx(1.6),
        "sum_visit_duration_s": pytest.approx(905.0),  # 300 + 0 + 600 + 5 + 0
        "avg_visit_duration_s": pytest.approx(181.0),
        "is_approximate": False,
        "last_received_at": RECEIVED,
        "built_at": BUILT,
    }


def test_daily_traffic_without_response_times(lake: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [{**r, "response_time_ms": None} for r in BASE_ROWS]
    row = run("daily_traffic", [write_rows(lake, rows)], con).row(0, named=True)
    assert (row["p50_response_ms"], row["p95_response_ms"], row["p99_response_ms"]) == (None, None, None)


def test_unique_visitors_ignore_blanks_in_user_agent_and_4xx(lake: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [
        request(1, "10:00:00", "10.0.0.1", {**FIREFOX, "user_agent": "Mozilla/5.0  Firefox"}, "/", 200, 1),
        request(2, "10:01:00", "10.0.0.1", {**FIREFOX, "user_agent": "Mozilla/5.0 Firefox"}, "/", 200, 1),
        request(3, "10:02:00", "10.0.0.9", FIREFOX, "/x", 404, 1),  # only a 404: not a visitor
        request(4, "10:03:00", "10.0.0.1", {**FIREFOX, "user_agent": None}, "/", 200, 1),
    ]
    row = run("daily_traffic", [write_rows(lake, rows)], con).row(0, named=True)
    assert row["count_unique_visitors"] == 2


def test_visits_use_the_session_id_when_logged(lake: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [  # one session across two IPs (mobile network), then a second session on the first IP
        {**request(1, "10:00:00", "10.0.0.1", FIREFOX, "/", 200, 1), "session_id": "s1"},
        {**request(2, "10:01:00", "10.0.0.2", FIREFOX, "/a", 200, 1), "session_id": "s1"},
        {**request(3, "10:02:00", "10.0.0.1", FIREFOX, "/b", 200, 1), "session_id": "s2"},
    ]
    row = run("daily_traffic", [write_rows(lake, rows)], con).row(0, named=True)
    assert (row["count_visits"], row["count_bounces"], row["count_unique_visitors"]) == (2, 1, 2)


def test_visits(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    frame = run("visits", base_files, con)
    assert records(frame, "is_bot", "duration_bucket", "duration_from_s", "count_visits", "count_bounces",
                   "count_page_views", "sum_duration_s", "avg_duration_s", "is_approximate") == [
        {"is_bot": False, "duration_bucket": "0-10 s", "duration_from_s": 0, "count_visits": 2,
         "count_bounces": 2, "count_page_views": 2, "sum_duration_s": 0.0, "avg_duration_s": 0.0,
         "is_approximate": False},
        {"is_bot": False, "duration_bucket": "3-10 min", "duration_from_s": 181, "count_visits": 2,
         "count_bounces": 0, "count_page_views": 4, "sum_duration_s": 900.0, "avg_duration_s": 450.0,
         "is_approximate": False},
        {"is_bot": True, "duration_bucket": "0-10 s", "duration_from_s": 0, "count_visits": 1,
         "count_bounces": 0, "count_page_views": 2, "sum_duration_s": 5.0, "avg_duration_s": 5.0,
         "is_approximate": False},
    ]
    assert frame["bounce_rate"].to_list() == [1.0, 0.0, 0.0]
    assert frame["pages_per_visit"].to_list() == [1.0, 2.0, 2.0]


def test_entry_exit_pages(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    frame = run("entry_exit_pages", base_files, con).sort("path", "is_bot")
    assert records(frame, "path", "is_bot", "count_entries", "count_exits", "count_bounces") == [
        {"path": "/", "is_bot": False, "count_entries": 2, "count_exits": 2, "count_bounces": 1},
        {"path": "/", "is_bot": True, "count_entries": 1, "count_exits": 0, "count_bounces": 0},
        {"path": "/about", "is_bot": False, "count_entries": 0, "count_exits": 1, "count_bounces": 0},
        {"path": "/api", "is_bot": False, "count_entries": 1, "count_exits": 1, "count_bounces": 1},
        {"path": "/missing", "is_bot": False, "count_entries": 1, "count_exits": 0, "count_bounces": 0},
        {"path": "/old", "is_bot": True, "count_entries": 0, "count_exits": 1, "count_bounces": 0},
    ]


def test_hourly_traffic(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    frame = run("hourly_traffic", base_files, con)
    assert [t.hour for t in frame["hour_at"]] == [10, 11, 12, 23]
    assert frame["hour_at"][0] == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert records(frame, "count_requests", "count_page_views", "sum_bytes", "count_2xx", "count_3xx",
                   "count_4xx", "count_5xx", "count_not_modified", "count_bot_requests") == [
        {"count_requests": 5, "count_page_views": 4, "sum_bytes": 4600, "count_2xx": 4, "count_3xx": 0,
         "count_4xx": 1, "count_5xx": 0, "count_not_modified": 0, "count_bot_requests": 0},
        {"count_requests": 1, "count_page_views": 1, "sum_bytes": 0, "count_2xx": 0, "count_3xx": 1,
         "count_4xx": 0, "count_5xx": 0, "count_not_modified": 1, "count_bot_requests": 0},
        {"count_requests": 2, "count_page_views": 2, "sum_bytes": 1100, "count_2xx": 1, "count_3xx": 0,
         "count_4xx": 1, "count_5xx": 0, "count_not_modified": 0, "count_bot_requests": 2},
        {"count_requests": 1, "count_page_views": 1, "sum_bytes": 0, "count_2xx": 0, "count_3xx": 0,
         "count_4xx": 0, "count_5xx": 1, "count_not_modified": 0, "count_bot_requests": 0},
    ]
    assert frame["error_rate"].to_list() == [0.2, 0.0, 0.5, 1.0]


def test_weekday_hours_in_the_site_time_zone(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    berlin = run("weekday_hours", base_files, con, tz="Europe/Berlin")
    assert records(berlin, "local_weekday", "weekday_name", "local_hour", "count_requests",
                   "count_page_views", "count_human_page_views") == [
        {"local_weekday": 5, "weekday_name": "Friday", "local_hour": 11, "count_requests": 5,
         "count_page_views": 4, "count_human_page_views": 4},
        {"local_weekday": 5, "weekday_name": "Friday", "local_hour": 12, "count_requests": 1,
         "count_page_views": 1, "count_human_page_views": 1},
        {"local_weekday": 5, "weekday_name": "Friday", "local_hour": 13, "count_requests": 2,
         "count_page_views": 2, "count_human_page_views": 0},
        {"local_weekday": 6, "weekday_name": "Saturday", "local_hour": 0, "count_requests": 1,
         "count_page_views": 1, "count_human_page_views": 1},
    ]
    tokyo = run("weekday_hours", base_files, con, tz="Asia/Tokyo")  # UTC+9
    assert records(tokyo, "weekday_name", "local_hour")[0] == {"weekday_name": "Friday", "local_hour": 19}


def test_pages(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    frame = run("pages", base_files, con)
    assert records(frame, "path", "count_page_views", "count_human_page_views", "count_bot_page_views",
                   "count_errors", "sum_bytes") == [
        {"path": "/", "count_page_views": 4, "count_human_page_views": 3, "count_bot_page_views": 1,
         "count_errors": 0, "sum_bytes": 3000},
        {"path": "/about", "count_page_views": 1, "count_human_page_views": 1, "count_bot_page_views": 0,
         "count_errors": 0, "sum_bytes": 2000},
        {"path": "/api", "count_page_views": 1, "count_human_page_views": 1, "count_bot_page_views": 0,
         "count_errors": 1, "sum_bytes": 0},
        {"path": "/missing", "count_page_views": 1, "count_human_page_views": 1, "count_bot_page_views": 0,
         "count_errors": 1, "sum_bytes": 100},
        {"path": "/old", "count_page_views": 1, "count_human_page_views": 0, "count_bot_page_views": 1,
         "count_errors": 1, "sum_bytes": 100},
    ]


def test_referrers_leave_out_the_sites_own_host(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    frame = run("referrers", base_files, con)
    # blog.example is the referrer of the asset /style.css: the site's own host
    assert records(frame, "referrer_host", "count_requests", "count_page_views", "count_bot_requests") == [
        {"referrer_host": "other.example", "count_requests": 1, "count_page_views": 1, "count_bot_requests": 1},
        {"referrer_host": "www.google.com", "count_requests": 1, "count_page_views": 1, "count_bot_requests": 0},
    ]


def test_referrers_treat_the_virtual_host_and_www_as_own(lake: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [
        {**request(1, "10:00:00", "10.0.0.1", FIREFOX, "/", 200, 1, referrer="https://www.shop.example/a"),
         "vhost": "shop.example:443"},
        {**request(2, "10:00:01", "10.0.0.1", FIREFOX, "/", 200, 1, referrer="https://news.example/"),
         "vhost": "shop.example:443"},
    ]
    frame = run("referrers", [write_rows(lake, rows)], con)
    assert frame["referrer_host"].to_list() == ["news.example"]


def test_search_engines(lake: Path, con: duckdb.DuckDBPyConnection) -> None:
    hosts = ["www.google.com", "www.google.co.uk", "google.de", "www.bing.com", "duckduckgo.com",
             "de.search.yahoo.com", "yandex.ru", "www.baidu.com", "www.ecosia.org", "www.qwant.com",
             "mail.google.com", "www.yahoo.com", "bingo.example"]
    rows = [request(i, "10:00:00", "10.0.0.1", FIREFOX, "/", 200, 1, referrer=f"https://{h}/search?q=x")
            for i, h in enumerate(hosts)]
    frame = run("search_engines", [write_rows(lake, rows)], con)
    assert dict(zip(frame["search_engine"], frame["count_requests"], strict=True)) == {
        "Google": 3, "Bing": 1, "DuckDuckGo": 1, "Yahoo": 1, "Yandex": 1, "Baidu": 1, "Ecosia": 1, "Qwant": 1,
    }
    assert frame.filter(pl.col("search_engine") == "Google")["count_referrer_hosts"].item() == 3


def test_campaigns(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    frame = run("campaigns", base_files, con)
    assert records(frame, "utm_source", "utm_medium", "utm_campaign", "count_requests", "count_page_views",
                   "count_bot_requests", "is_approximate") == [
        {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "Nov Sale!", "count_requests": 1,
         "count_page_views": 1, "count_bot_requests": 0, "is_approximate": False},
    ]


def test_campaigns_keep_partial_tags_and_bad_escapes(lake: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [
        request(1, "10:00:00", "10.0.0.1", FIREFOX, "/", 200, 1, query="a=1&utm_source=feed%FF"),
        request(2, "10:00:00", "10.0.0.1", FIREFOX, "/", 200, 1, query="xutm_source=no&q=1"),
    ]
    frame = run("campaigns", [write_rows(lake, rows)], con)
    assert records(frame, "utm_source", "utm_medium", "utm_campaign", "count_requests") == [
        {"utm_source": "feed%ff", "utm_medium": None, "utm_campaign": None, "count_requests": 1},
    ]


def test_clients(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    frame = run("clients", base_files, con)
    assert records(frame, "browser", "browser_version", "os", "device", "is_bot", "count_requests",
                   "count_page_views", "sum_bytes") == [
        {"browser": "Firefox", "browser_version": "120", "os": "Linux", "device": "Other", "is_bot": False,
         "count_requests": 4, "count_page_views": 3, "sum_bytes": 3500},
        {"browser": "Chrome", "browser_version": "119", "os": "Windows", "device": "Other", "is_bot": False,
         "count_requests": 3, "count_page_views": 3, "sum_bytes": 1100},
        {"browser": "Googlebot", "browser_version": "2", "os": "Other", "device": "Spider", "is_bot": True,
         "count_requests": 2, "count_page_views": 2, "sum_bytes": 1100},
    ]


def test_status_codes(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    frame = run("status_codes", base_files, con)
    assert [(t.hour, s, c, n) for t, s, c, n in frame.select("hour_at", "status", "status_class",
                                                             "count_requests").iter_rows()] == [
        (10, 200, "2xx", 4), (10, 404, "4xx", 1), (11, 304, "3xx", 1), (12, 200, "2xx", 1), (12, 404, "4xx", 1),
        (23, 503, "5xx", 1),
    ]


def test_status_paths(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    frame = run("status_paths", base_files, con)
    assert records(frame, "status", "status_class", "path", "count_requests", "count_bot_requests",
                   "max_response_ms") == [
        {"status": 304, "status_class": "3xx", "path": "/", "count_requests": 1, "count_bot_requests": 0,
         "max_response_ms": 40.0},
        {"status": 404, "status_class": "4xx", "path": "/missing", "count_requests": 1, "count_bot_requests": 0,
         "max_response_ms": 50.0},
        {"status": 404, "status_class": "4xx", "path": "/old", "count_requests": 1, "count_bot_requests": 1,
         "max_response_ms": 80.0},
        {"status": 503, "status_class": "5xx", "path": "/api", "count_requests": 1, "count_bot_requests": 0,
         "max_response_ms": 1000.0},
    ]


def test_broken_links(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    frame = run("broken_links", base_files, con)
    assert records(frame, "path", "referrer_kind", "referrer_host", "referrer_path", "count_requests",
                   "count_bot_requests", "is_approximate") == [
        {"path": "/missing", "referrer_kind": "internal", "referrer_host": "blog.example",
         "referrer_path": "/about", "count_requests": 1, "count_bot_requests": 0, "is_approximate": False},
        {"path": "/old", "referrer_kind": "inbound", "referrer_host": "other.example", "referrer_path": None,
         "count_requests": 1, "count_bot_requests": 1, "is_approximate": False},
    ]


def test_resources(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    frame = run("resources", base_files, con)
    assert records(frame, "path", "content_type", "is_page", "count_requests", "sum_bytes", "max_bytes",
                   "count_timed", "p50_response_ms", "max_response_ms")[:3] == [
        {"path": "/", "content_type": "page", "is_page": True, "count_requests": 4, "sum_bytes": 3000,
         "max_bytes": 1000, "count_timed": 4, "p50_response_ms": 50.0, "max_response_ms": 70.0},
        {"path": "/about", "content_type": "page", "is_page": True, "count_requests": 1, "sum_bytes": 2000,
         "max_bytes": 2000, "count_timed": 1, "p50_response_ms": 30.0, "max_response_ms": 30.0},
        {"path": "/style.css", "content_type": "css", "is_page": False, "count_requests": 1, "sum_bytes": 500,
         "max_bytes": 500, "count_timed": 1, "p50_response_ms": 20.0, "max_response_ms": 20.0},
    ]


def test_content_types(lake: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [*BASE_ROWS, request(10, "13:00:00", "10.0.0.5", CHROME, "/files/tool-1.2.JAR", 200, 9000)]
    frame = run("content_types", [write_rows(lake, rows)], con)
    assert records(frame, "content_type", "count_requests", "sum_bytes", "max_bytes") == [
        {"content_type": "jar", "count_requests": 1, "sum_bytes": 9000, "max_bytes": 9000},
        {"content_type": "page", "count_requests": 8, "sum_bytes": 5200, "max_bytes": 2000},
        {"content_type": "css", "count_requests": 1, "sum_bytes": 500, "max_bytes": 500},
    ]


def test_methods(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    frame = run("methods", base_files, con)
    assert records(frame, "method", "protocol", "count_requests", "count_errors", "sum_bytes") == [
        {"method": "GET", "protocol": "HTTP/1.1", "count_requests": 8, "count_errors": 3, "sum_bytes": 5700},
        {"method": "HEAD", "protocol": "HTTP/1.1", "count_requests": 1, "count_errors": 0, "sum_bytes": 0},
    ]


# ---------------------------------------------------------------- building the lake


def test_build_writes_every_mart_per_site_and_day(settings: Settings) -> None:
    lake = settings.lake
    write_rows(lake, BASE_ROWS)
    result = marts.build_marts(settings, BUILT)
    assert result.built == [(SITE, DAY)]
    assert result.files_written == len(marts.MART_NAMES)
    for name in marts.MART_NAMES:
        assert marts.mart_path(lake, name, SITE, DAY).is_file()
    daily = marts.read_mart(lake, "daily_traffic")
    assert daily.select("site", "date", "count_requests").to_dicts() == [
        {"site": SITE, "date": DAY, "count_requests": 9}
    ]
    assert marts.days_touched(lake) == []
    assert marts.build_marts(settings, BUILT).built == []  # nothing stale


def test_held_rows_are_counted(settings: Settings) -> None:
    write_rows(settings.lake, BASE_ROWS[:5])
    write_rows(settings.lake, BASE_ROWS[5:], name="part-held.parquet", incident="INC-1")
    marts.build_marts(settings, BUILT)
    daily = marts.read_mart(settings.lake, "daily_traffic").row(0, named=True)
    assert (daily["count_requests"], daily["count_unique_visitors"]) == (9, 4)


def test_rebuild_is_idempotent(settings: Settings) -> None:
    write_rows(settings.lake, BASE_ROWS)
    marts.build_marts(settings, BUILT)
    first = {name: marts.read_mart(settings.lake, name) for name in marts.MART_NAMES}
    result = marts.build_marts(settings, BUILT, days=[(SITE, DAY)])
    assert result.built == [(SITE, DAY)]
    for name in marts.MART_NAMES:
        again = marts.read_mart(settings.lake, name)
        assert again.equals(first[name]), name
        assert len(list((settings.lake / "marts" / name).rglob("*.parquet"))) == 1


def test_days_touched_sees_new_input(settings: Settings) -> None:
    write_rows(settings.lake, BASE_ROWS)
    marts.build_marts(settings, BUILT)
    write_rows(settings.lake, [request(20, "15:00:00", "10.0.0.7", CHROME, "/", 200, 1, source="late")],
               name="part-late.parquet")
    assert marts.days_touched(settings.lake) == [(SITE, DAY)]


def test_explicit_day_without_input_is_skipped(settings: Settings) -> None:
    result = marts.build_marts(settings, BUILT, days=[(SITE, date(2026, 1, 1))])
    assert (result.built, result.skipped) == ([], [(SITE, date(2026, 1, 1))])


def test_unknown_mart_is_refused(lake: Path) -> None:
    with pytest.raises(NotFoundError, match="unknown mart 'nope'"):
        marts.read_mart(lake, "nope")


def anonymize_day(lake: Path, now: datetime) -> None:
    """What the nightly anonymisation does to every row of the day (rules A1-A3)."""
    for path in (lake / "requests").rglob("*.parquet"):
        frame = pl.read_parquet(path)
        write_parquet_atomic(frame.with_columns(anonymize_exprs(Policy(), now, pl.lit(True))), path)


LATE_RECEIVED = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
LATE_ROWS = [  # received after the day was anonymised
    request(1, "16:00:00", "10.0.0.8", CHROME, "/", 200, 700, received_at=LATE_RECEIVED, source="late"),
    request(2, "16:10:00", "10.0.0.1", FIREFOX, "/about", 200, 300, received_at=LATE_RECEIVED, source="late",
            query="utm_source=feed"),
    request(3, "16:20:00", "10.0.0.9", CHROME, "/missing", 404, 100, received_at=LATE_RECEIVED, source="late",
            referrer="https://blog.example/contact"),
]


def test_late_data_on_an_anonymised_day(settings: Settings) -> None:
    lake = settings.lake
    write_rows(lake, BASE_ROWS)
    marts.build_marts(settings, BUILT)  # nightly: ingest -> marts -> (later) anonymise
    anonymize_day(lake, datetime(2026, 11, 26, 3, 0, tzinfo=UTC))

    # rebuilding with nothing new keeps the exact figures: carried over, not recomputed
    rebuilt = marts.build_marts(settings, datetime(2026, 11, 26, 4, 0, tzinfo=UTC))
    assert rebuilt.built == [(SITE, DAY)]  # the anonymised files are newer than the marts
    daily = marts.read_mart(lake, "daily_traffic").row(0, named=True)
    assert (daily["count_unique_visitors"], daily["count_visits"], daily["is_approximate"]) == (4, 5, False)

    write_rows(lake, LATE_ROWS, name="part-late.parquet")
    result = marts.build_marts(settings, datetime(2026, 11, 27, 3, 0, tzinfo=UTC))
    assert result.approximate == [(SITE, DAY)]
    daily = marts.read_mart(lake, "daily_traffic").row(0, named=True)
    assert daily["count_requests"] == 12  # recomputed exactly from every row
    assert daily["sum_bytes"] == 5700 + 1100
    assert (daily["count_2xx"], daily["count_4xx"]) == (7, 3)
    assert daily["count_unique_visitors"] == 4 + 2  # old + new; A came back and is counted twice
    assert daily["count_visits"] == 5 + 3
    assert daily["count_bounces"] == 2 + 3
    assert daily["is_approximate"] is True
    assert daily["last_received_at"] == LATE_RECEIVED

    visits = marts.read_mart(lake, "visits")
    assert visits["count_visits"].sum() == 8
    assert visits["is_approximate"].all()
    entries = marts.read_mart(lake, "entry_exit_pages")
    assert entries.filter((pl.col("path") == "/") & ~pl.col("is_bot"))["count_entries"].item() == 3
    campaigns = marts.read_mart(lake, "campaigns").sort("utm_source")
    assert records(campaigns, "utm_source", "count_requests") == [  # the old query strings are gone
        {"utm_source": "feed", "count_requests": 1}, {"utm_source": "newsletter", "count_requests": 1},
    ]
    links = marts.read_mart(lake, "broken_links").filter(pl.col("referrer_kind") == "internal").sort("referrer_path")
    assert records(links, "referrer_path", "count_requests") == [
        {"referrer_path": "/about", "count_requests": 1}, {"referrer_path": "/contact", "count_requests": 1},
    ]
    pages = marts.read_mart(lake, "pages")
    assert pages["count_page_views"].sum() == 11  # exact

    # and again: the same figures, no double counting of the late rows
    marts.build_marts(settings, datetime(2026, 11, 27, 4, 0, tzinfo=UTC), days=[(SITE, DAY)])
    again = marts.read_mart(lake, "daily_traffic").row(0, named=True)
    assert {k: v for k, v in again.items() if k != "built_at"} == {k: v for k, v in daily.items() if k != "built_at"}


def test_late_rows_anonymised_on_write_count_only_as_traffic(settings: Settings) -> None:
    lake = settings.lake
    write_rows(lake, BASE_ROWS)
    marts.build_marts(settings, BUILT)
    anonymize_day(lake, datetime(2026, 11, 26, 3, 0, tzinfo=UTC))
    late = pl.DataFrame(LATE_ROWS[:1], infer_schema_length=None)
    write_parquet_atomic(
        conform(late, REQUEST_SCHEMA).with_columns(anonymize_exprs(Policy(), LATE_RECEIVED, pl.lit(True))),
        lake / "requests" / f"site={SITE}" / f"date={DAY.isoformat()}" / "part-late.parquet",
    )
    marts.build_marts(settings, datetime(2026, 11, 27, 3, 0, tzinfo=UTC))
    daily = marts.read_mart(lake, "daily_traffic").row(0, named=True)
    assert (daily["count_requests"], daily["count_unique_visitors"], daily["is_approximate"]) == (10, 4, True)


def test_first_build_of_an_anonymised_day_is_approximate(settings: Settings) -> None:
    write_rows(settings.lake, BASE_ROWS)
    anonymize_day(settings.lake, datetime(2026, 11, 26, 3, 0, tzinfo=UTC))
    marts.build_marts(settings, datetime(2026, 11, 26, 4, 0, tzinfo=UTC))
    daily = marts.read_mart(settings.lake, "daily_traffic").row(0, named=True)
    assert (daily["count_requests"], daily["count_unique_visitors"], daily["count_visits"]) == (9, 0, 0)
    assert daily["is_approximate"] is True


# ---------------------------------------------------------------- privacy and house style


def test_no_mart_has_a_personal_column(settings: Settings) -> None:
    write_rows(settings.lake, [{**r, "session_id": "s", "remote_user": "u", "forwarded_for": "1.2.3.4"}
                               for r in BASE_ROWS])
    marts.build_marts(settings, BUILT)
    files = list((settings.lake / "marts").rglob("*.parquet"))
    assert len(files) == len(marts.MART_NAMES)
    for path in files:
        names = set(pq.read_schema(path).names)
        assert not names & FORBIDDEN_MART_COLUMNS, path
        assert not {"site", "date"} & names, path  # partition columns live in the path


def test_every_model_file_is_a_mart_in_house_shape() -> None:
    files = sorted(p.stem for p in (SQL_ROOT / "marts").glob("*.sql"))
    assert files == sorted(marts.MART_NAMES)
    for name in marts.MART_NAMES:
        text = (SQL_ROOT / "marts" / f"{name}.sql").read_text()
        assert "-- Grain:" in text, name
        assert text.rstrip().endswith("select * from final"), name
        # the day's files, read directly or through the shared visit macros (sql/staging/day_visits.sql)
        assert re.search(r"(read_parquet|day_build_mode|identified_requests|visit_page_views)\(\$files", text), name
        assert name.endswith("s") or name == "daily_traffic" or name == "hourly_traffic", name


# ---------------------------------------------------------------- a real log against GoAccess


@pytest.fixture(scope="module")
def elastic_lake(tmp_path_factory: pytest.TempPathFactory, real_logs: Path) -> Path:
    from accesslake.ingest import ingest_file

    lake = tmp_path_factory.mktemp("elastic") / "lake"
    settings = Settings(lake=lake)
    now = datetime(2015, 5, 21, tzinfo=UTC)  # close to the log: IPs are kept
    ingest_file(real_logs / "elastic_apache_combined.log", settings, now, site="elastic")
    marts.build_marts(settings, now)
    return lake


def test_elastic_log_agrees_with_goaccess(elastic_lake: Path, real_logs: Path) -> None:
    report = json.loads((real_logs / "elastic_apache_combined.log.goaccess.json").read_text())
    daily = marts.read_mart(elastic_lake, "daily_traffic")
    assert daily["count_requests"].sum() == report["general"]["total_requests"] == 10000
    assert daily["sum_bytes"].sum() == report["general"]["bandwidth"] == 2747282740
    # GoAccess: distinct (IP, date, user agent) per day, 4xx not counted, summed over days
    assert daily["count_unique_visitors"].sum() == report["general"]["unique_visitors"] == 2095
    per_day = {row["data"]: row["visitors"]["count"] for row in report["visitors"]["data"]}
    assert {d.strftime("%Y%m%d"): n for d, n in zip(daily["date"], daily["count_unique_visitors"],
                                                     strict=True)} == per_day
    classes = {row["data"][:3]: row["hits"]["count"] for row in report["status_codes"]["data"]}
    assert classes == {"2xx": 9171, "3xx": 609, "4xx": 217, "5xx": 3}
    for cls, count in classes.items():
        assert daily[f"count_{cls}"].sum() == count
    assert not daily["is_approximate"].any()


def test_every_mart_column_is_documented(settings: Settings) -> None:
    doc = (SQL_ROOT.parent / "docs" / "marts.md").read_text(encoding="utf-8")
    write_rows(settings.lake, BASE_ROWS)
    marts.build_marts(settings, BUILT)
    for name in marts.MART_NAMES:
        assert f"### `{name}`" in doc, name
        section = doc.split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
        for column in marts.read_mart(settings.lake, name).columns:
            if column not in ("site", "date", "built_at"):
                assert f"`{column}`" in section, f"{name}.{column} is not in docs/marts.md"
