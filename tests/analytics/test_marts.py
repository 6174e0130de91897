"""Statistics marts: given/expect per model, late data, idempotence, GoAccess parity, no personal data."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from accesslake.analytics import marts, staging
from accesslake.analytics.paths import decode_path
from accesslake.audit.parquet import personal_columns
from accesslake.config import Settings
from accesslake.errors import NotFoundError
from accesslake.policy import Policy, anonymize_exprs, policy_from_mapping
from accesslake.schema import REQUEST_SCHEMA, conform
from accesslake.sqlfiles import SQL_ROOT
from accesslake.storage import write_parquet_atomic

SITE = "blog"
DAY = date(2026, 11, 20)  # a Friday; Europe/Berlin is UTC+1
RECEIVED = datetime(2026, 11, 21, 0, 30, tzinfo=UTC)
BUILT = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)

FIREFOX = {"user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
           "browser": "Firefox", "browser_version": "120", "os": "Linux", "os_version": None,
           "device": "Other", "agent_group": "person", "is_bot": False}
CHROME = {"user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/119.0 Safari/537.36",
          "browser": "Chrome", "browser_version": "119", "os": "Windows", "os_version": "10",
          "device": "Other", "agent_group": "person", "is_bot": False}
GOOGLEBOT = {"user_agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
             "browser": "Googlebot", "browser_version": "2", "os": "Other", "os_version": None,
             "device": "Spider", "agent_group": "crawler", "is_bot": True}
FEEDPARSER = {"user_agent": "UniversalFeedParser/4.2-pre-314-svn +http://feedparser.org/",
              "browser": "UniversalFeedParser", "browser_version": "4", "os": "Other", "os_version": None,
              "device": "Other", "agent_group": "feed_reader", "is_bot": True}
CURL = {"user_agent": "curl/8.4.0", "browser": "curl", "browser_version": "8", "os": "Other", "os_version": None,
        "device": "Other", "agent_group": "script", "is_bot": True}


def request(
    n: int, hms: str, ip: str | None, agent: dict[str, Any], path: str, status: int, size: int, *,
    is_page: bool = True, query: str | None = None, referrer: str | None = None, method: str = "GET",
    rt: float | None = None, received_at: datetime = RECEIVED, source: str = "base", day: date = DAY,
) -> dict[str, Any]:
    """One row of requests/ on ``day`` (time ``hms`` UTC), as ingest would store it."""
    return {
        "row_id": f"{source}:{n}",
        "ts": datetime.fromisoformat(f"{day.isoformat()}T{hms}+00:00"),
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


# A = 10.0.0.1 Firefox: one visit of two page views (its HEAD 55 min later is no page view);
# B = 10.0.0.2 Chrome: follows a broken internal link, then lands from a newsletter; C = Googlebot;
# D = 10.0.0.4 Chrome: one 503 (no page view). Page views of people: rows 1, 3 and 6.
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
               incident: str | None = None, day: date = DAY) -> Path:
    root = lake / "held" / f"incident={incident}" if incident else lake / "requests"
    path = root / f"site={SITE}" / f"date={day.isoformat()}" / name
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


def run(name: str, files: list[Path], con: duckdb.DuckDBPyConnection, *, tz: str = "UTC",
        own_hosts: tuple[str, ...] = (), day: date = DAY) -> pl.DataFrame:
    """One model over ``files`` for the day ``day`` in ``tz`` (UTC by default: the day of the rows)."""
    params = marts.model_params(files, site=SITE, day=day, tz=tz, built_at=BUILT, own_hosts=own_hosts)
    return marts.run_model(name, params, con)


def records(frame: pl.DataFrame, *columns: str) -> list[dict[str, Any]]:
    return frame.select(columns).to_dicts()


# ---------------------------------------------------------------- given/expect per model


def test_daily_traffic(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    row = run("daily_traffic", base_files, con).to_dicts()
    assert len(row) == 1
    assert row[0] == {
        "time_zone": "UTC",
        "count_requests": 9,
        "count_page_views": 3,  # rows 1, 3, 6: not the HEAD, the 404, the 503, the asset or Googlebot's view
        "count_bot_page_views": 1,
        "count_visits": 2,  # of people: A (2 page views), B (1)
        "count_unique_visitors": 4,  # (ip, UA) of A, B, C, D; 4xx rows not counted (GoAccess)
        "count_human_visitors": 3,  # A, B, D
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
        "count_bounces": 1,
        "bounce_rate": pytest.approx(0.5),
        "count_visit_page_views": 3,
        "pages_per_visit": pytest.approx(1.5),
        "sum_visit_duration_s": pytest.approx(300.0),
        "avg_visit_duration_s": pytest.approx(150.0),
        "is_approximate": False,
        "last_received_at": RECEIVED,
        "built_at": BUILT,
    }


def test_daily_traffic_without_response_times(lake: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [{**r, "response_time_ms": None} for r in BASE_ROWS]
    row = run("daily_traffic", [write_rows(lake, rows)], con).row(0, named=True)
    assert (row["p50_response_ms"], row["p95_response_ms"], row["p99_response_ms"]) == (None, None, None)


def test_a_day_without_requests_has_no_headline_row(lake: Path, con: duckdb.DuckDBPyConnection) -> None:
    frame = run("daily_traffic", [write_rows(lake, BASE_ROWS)], con, day=date(2026, 11, 22))
    assert frame.height == 0 and "count_requests" in frame.columns


def test_page_views_leave_out_head_errors_redirects_assets_and_automated_clients(
    lake: Path, con: duckdb.DuckDBPyConnection
) -> None:
    rows = [
        request(1, "10:00:00", "10.0.0.1", FIREFOX, "/a", 200, 1),
        request(2, "10:00:01", "10.0.0.1", FIREFOX, "/b", 304, 0),
        request(3, "10:00:02", "10.0.0.1", FIREFOX, "/form", 201, 1, method="POST"),
        request(4, "10:00:03", "10.0.0.1", FIREFOX, "/a", 200, 0, method="HEAD"),
        request(5, "10:00:04", "10.0.0.1", FIREFOX, "/moved", 301, 0),
        request(6, "10:00:05", "10.0.0.1", FIREFOX, "/gone", 404, 0),
        request(7, "10:00:06", "10.0.0.1", FIREFOX, "/broken", 500, 0),
        request(8, "10:00:07", "10.0.0.1", FIREFOX, "/a.css", 200, 1, is_page=False),
        request(9, "10:00:08", "10.0.0.1", FIREFOX, "/a", 200, 1, method="OPTIONS"),
        request(10, "10:00:09", "10.0.0.2", FEEDPARSER, "/feed", 200, 1),
        request(11, "10:00:10", "10.0.0.3", CURL, "/a", 200, 1),
    ]
    files = [write_rows(lake, rows)]
    daily = run("daily_traffic", files, con).row(0, named=True)
    assert (daily["count_requests"], daily["count_page_views"], daily["count_bot_page_views"]) == (11, 3, 2)
    pages = run("pages", files, con)
    assert records(pages, "path", "count_page_views", "count_bot_page_views") == [
        {"path": "/a", "count_page_views": 1, "count_bot_page_views": 1},
        {"path": "/b", "count_page_views": 1, "count_bot_page_views": 0},
        {"path": "/form", "count_page_views": 1, "count_bot_page_views": 0},
        {"path": "/feed", "count_page_views": 0, "count_bot_page_views": 1},
    ]


def test_unique_visitors_follow_goaccess_agent_key_and_leave_out_4xx(
    lake: Path, con: duckdb.DuckDBPyConnection
) -> None:
    rows = [  # GoAccess 1.7 keys a visitor on the URL-decoded, trimmed user agent
        request(1, "10:00:00", "10.0.0.1", {**FIREFOX, "user_agent": "Mozilla/5.0 Firefox"}, "/", 200, 1),
        request(2, "10:01:00", "10.0.0.1", {**FIREFOX, "user_agent": "Mozilla/5.0%20Firefox"}, "/", 200, 1),
        request(3, "10:01:30", "10.0.0.1", {**FIREFOX, "user_agent": " Mozilla/5.0 Firefox "}, "/", 200, 1),
        request(4, "10:01:40", "10.0.0.1", {**FIREFOX, "user_agent": "Mozilla/5.0  Firefox"}, "/", 200, 1),
        request(5, "10:02:00", "10.0.0.9", FIREFOX, "/x", 404, 1),  # only a 404: not a visitor
        request(6, "10:03:00", "10.0.0.1", {**FIREFOX, "user_agent": None}, "/", 200, 1),
    ]
    row = run("daily_traffic", [write_rows(lake, rows)], con).row(0, named=True)
    assert row["count_unique_visitors"] == 3


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
        {"is_bot": False, "duration_bucket": "0-10 s", "duration_from_s": 0, "count_visits": 1,
         "count_bounces": 1, "count_page_views": 1, "sum_duration_s": 0.0, "avg_duration_s": 0.0,
         "is_approximate": False},
        {"is_bot": False, "duration_bucket": "3-10 min", "duration_from_s": 181, "count_visits": 1,
         "count_bounces": 0, "count_page_views": 2, "sum_duration_s": 300.0, "avg_duration_s": 300.0,
         "is_approximate": False},
        {"is_bot": True, "duration_bucket": "0-10 s", "duration_from_s": 0, "count_visits": 1,
         "count_bounces": 1, "count_page_views": 1, "sum_duration_s": 0.0, "avg_duration_s": 0.0,
         "is_approximate": False},
    ]
    assert frame["bounce_rate"].to_list() == [1.0, 0.0, 1.0]
    assert frame["pages_per_visit"].to_list() == [1.0, 2.0, 1.0]


def test_entry_exit_pages(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    frame = run("entry_exit_pages", base_files, con).sort("path", "is_bot")
    # visits are made of page views: the 404, the 503 and the HEAD never start or end one
    assert records(frame, "path", "is_bot", "count_entries", "count_exits", "count_bounces", "count_entry_visitors",
                   "count_exit_visitors") == [
        {"path": "/", "is_bot": False, "count_entries": 2, "count_exits": 1, "count_bounces": 1,
         "count_entry_visitors": 2, "count_exit_visitors": 1},
        {"path": "/", "is_bot": True, "count_entries": 1, "count_exits": 1, "count_bounces": 1,
         "count_entry_visitors": 1, "count_exit_visitors": 1},
        {"path": "/about", "is_bot": False, "count_entries": 0, "count_exits": 1, "count_bounces": 0,
         "count_entry_visitors": 0, "count_exit_visitors": 1},
    ]


def test_a_404_is_never_a_top_page_or_an_exit_page(lake: Path, con: duckdb.DuckDBPyConnection) -> None:
    """What the zanbil log showed: a polyfill URL answered 404 85 times was the second "page" and an exit page."""
    missing = "/amp_preconnect_polyfill_404_or_other_error_expected._Do_not_worry_about_it"
    rows = [request(n, f"10:{n:02d}:00", f"10.0.1.{n}", CHROME, "/product/1", 200, 1) for n in range(1, 4)]
    rows += [request(10 + n, f"10:{n:02d}:05", f"10.0.1.{n}", CHROME, missing, 404, 1) for n in range(1, 4)]
    files = [write_rows(lake, rows)]
    assert missing not in run("pages", files, con)["path"].to_list()
    assert missing not in run("entry_exit_pages", files, con)["path"].to_list()
    assert run("status_paths", files, con).filter(pl.col("path") == missing)["count_requests"].item() == 3


def test_hourly_traffic(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    frame = run("hourly_traffic", base_files, con)
    assert frame["local_hour"].to_list() == [10, 11, 12, 23]
    assert frame["hour_at"][0] == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert records(frame, "count_requests", "count_page_views", "sum_bytes", "count_2xx", "count_3xx",
                   "count_4xx", "count_5xx", "count_not_modified", "count_bot_requests", "count_visitors") == [
        {"count_requests": 5, "count_page_views": 3, "sum_bytes": 4600, "count_2xx": 4, "count_3xx": 0,
         "count_4xx": 1, "count_5xx": 0, "count_not_modified": 0, "count_bot_requests": 0, "count_visitors": 2},
        {"count_requests": 1, "count_page_views": 0, "sum_bytes": 0, "count_2xx": 0, "count_3xx": 1,
         "count_4xx": 0, "count_5xx": 0, "count_not_modified": 1, "count_bot_requests": 0, "count_visitors": 1},
        {"count_requests": 2, "count_page_views": 0, "sum_bytes": 1100, "count_2xx": 1, "count_3xx": 0,
         "count_4xx": 1, "count_5xx": 0, "count_not_modified": 0, "count_bot_requests": 2, "count_visitors": 1},
        {"count_requests": 1, "count_page_views": 0, "sum_bytes": 0, "count_2xx": 0, "count_3xx": 0,
         "count_4xx": 0, "count_5xx": 1, "count_not_modified": 0, "count_bot_requests": 0, "count_visitors": 1},
    ]
    assert frame["error_rate"].to_list() == [0.2, 0.0, 0.5, 1.0]
    berlin = run("hourly_traffic", base_files, con, tz="Europe/Berlin")  # UTC+1: the 23:59 row is the next day
    assert berlin["local_hour"].to_list() == [11, 12, 13]


def test_weekday_hours_in_the_site_time_zone(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    berlin = run("weekday_hours", base_files, con, tz="Europe/Berlin")
    assert records(berlin, "local_weekday", "weekday_name", "local_hour", "count_requests",
                   "count_page_views") == [
        {"local_weekday": 5, "weekday_name": "Friday", "local_hour": 11, "count_requests": 5, "count_page_views": 3},
        {"local_weekday": 5, "weekday_name": "Friday", "local_hour": 12, "count_requests": 1, "count_page_views": 0},
        {"local_weekday": 5, "weekday_name": "Friday", "local_hour": 13, "count_requests": 2, "count_page_views": 0},
    ]
    saturday = run("weekday_hours", base_files, con, tz="Europe/Berlin", day=date(2026, 11, 21))
    assert records(saturday, "weekday_name", "local_hour", "count_requests") == [
        {"weekday_name": "Saturday", "local_hour": 0, "count_requests": 1},
    ]
    tokyo = run("weekday_hours", base_files, con, tz="Asia/Tokyo")  # UTC+9
    assert records(tokyo, "weekday_name", "local_hour")[0] == {"weekday_name": "Friday", "local_hour": 19}


def test_pages(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    frame = run("pages", base_files, con)
    assert records(frame, "path", "count_page_views", "count_bot_page_views", "count_visitors", "sum_bytes") == [
        {"path": "/", "count_page_views": 2, "count_bot_page_views": 1, "count_visitors": 2, "sum_bytes": 3000},
        {"path": "/about", "count_page_views": 1, "count_bot_page_views": 0, "count_visitors": 1, "sum_bytes": 2000},
    ]


def test_paths_are_decoded_for_reading(lake: Path, con: duckdb.DuckDBPyConnection) -> None:
    persian = "/%D9%85%D8%AD%D8%B5%D9%88%D9%84%D8%A7%D8%AA/%DA%A9%D9%81%D8%B4"  # /محصولات/کفش
    rows = [
        request(1, "10:00:00", "10.0.0.1", FIREFOX, persian, 200, 1),
        request(2, "10:00:10", "10.0.0.2", FIREFOX, persian.lower(), 200, 1),  # same page, other case of hex
        request(3, "10:00:20", "10.0.0.1", FIREFOX, "/blog/tags/jquery%20mobile", 200, 1),
        request(4, "10:00:30", "10.0.0.1", FIREFOX, "/bad%FF%D8", 200, 1),  # not UTF-8: kept as written
        request(5, "10:00:40", "10.0.0.1", FIREFOX, "/line%0Abreak", 200, 1),  # a control character stays encoded
    ]
    path = write_rows(lake, rows)
    frame = run("pages", [path], con)
    assert dict(zip(frame["path"], frame["count_page_views"], strict=True)) == {
        "/محصولات/کفش": 2, "/blog/tags/jquery mobile": 1, "/bad%FF%D8": 1, "/line%0Abreak": 1,
    }
    assert pl.read_parquet(path)["path"].to_list() == [r["path"] for r in rows]  # the lake keeps the raw path


def test_referrers_leave_out_the_sites_own_host(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    frame = run("referrers", base_files, con)
    # blog.example is the referrer of the asset /style.css: the site's own host (inferred, nothing configured)
    assert records(frame, "referrer_host", "referrer_kind", "referrer_name", "count_requests", "count_page_views",
                   "count_bot_requests", "count_visitors") == [
        {"referrer_host": "other.example", "referrer_kind": "website", "referrer_name": None, "count_requests": 1,
         "count_page_views": 0, "count_bot_requests": 1, "count_visitors": 0},
        {"referrer_host": "www.google.com", "referrer_kind": "search", "referrer_name": "Google",
         "count_requests": 1, "count_page_views": 1, "count_bot_requests": 0, "count_visitors": 1},
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


def test_own_hosts_come_from_the_policy_and_are_inferred_only_without_it(
    lake: Path, con: duckdb.DuckDBPyConnection
) -> None:
    """basjes: howto.basjes.nl and niels.basjes.nl were listed as other sites (no asset to infer them from)."""
    rows = [
        request(1, "10:00:00", "10.0.0.1", FIREFOX, "/logo.png", 200, 1, is_page=False,
                referrer="https://partner.example/"),  # the busiest asset referrer: the inferred own host
        request(2, "10:00:01", "10.0.0.1", FIREFOX, "/a", 200, 1, referrer="https://howto.basjes.nl/x"),
        request(3, "10:00:02", "10.0.0.1", FIREFOX, "/b", 200, 1, referrer="https://niels.basjes.nl/"),
        request(4, "10:00:03", "10.0.0.1", FIREFOX, "/c", 200, 1, referrer="https://www.basjes.nl/"),
        request(5, "10:00:04", "10.0.0.1", FIREFOX, "/d", 200, 1, referrer="https://notbasjes.nl/"),
    ]
    files = [write_rows(lake, rows)]
    inferred = run("referrers", files, con)["referrer_host"].to_list()
    assert sorted(inferred) == ["howto.basjes.nl", "niels.basjes.nl", "notbasjes.nl", "www.basjes.nl"]
    configured = run("referrers", files, con, own_hosts=("*.basjes.nl",))["referrer_host"].to_list()
    assert sorted(configured) == ["notbasjes.nl", "partner.example"]  # no inference once the policy names hosts
    exact = run("referrers", files, con, own_hosts=("niels.basjes.nl",))["referrer_host"].to_list()
    assert sorted(exact) == ["howto.basjes.nl", "notbasjes.nl", "partner.example", "www.basjes.nl"]


def test_search_engines_from_the_maintained_list(lake: Path, con: duckdb.DuckDBPyConnection) -> None:
    hosts = ["www.google.com", "www.google.co.uk", "google.de", "images.google.com", "www.bing.com", "duckduckgo.com",
             "r.duckduckgo.com", "de.search.yahoo.com", "yandex.ru", "images.yandex.ru", "www.baidu.com",
             "image.baidu.com", "www.ecosia.org", "mail.google.com", "www.yahoo.com", "bingo.example"]
    rows = [request(i, "10:00:00", "10.0.0.1", FIREFOX, "/", 200, 1, referrer=f"https://{h}/search?q=x")
            for i, h in enumerate(hosts)]
    rows.append(request(99, "10:00:00", "10.0.0.1", FIREFOX, "/", 200, 1,
                        referrer="android-app://com.google.android.googlequicksearchbox/https/www.google.com"))
    frame = run("search_engines", [write_rows(lake, rows)], con)
    assert dict(zip(frame["search_engine"], frame["count_requests"], strict=True)) == {
        "Google": 4, "Google Images": 1, "Bing": 1, "DuckDuckGo": 2, "Yahoo!": 1, "Yandex": 1, "Yandex Images": 1,
        "Baidu": 1, "Baidu Images": 1, "Ecosia": 1,
    }
    assert frame.filter(pl.col("search_engine") == "Google")["count_referrer_hosts"].item() == 4
    assert frame["count_visitors"].to_list() == [1] * frame.height


def test_social_networks_are_a_referrer_kind(lake: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [request(i, "10:00:00", "10.0.0.1", FIREFOX, "/", 200, 1, referrer=f"https://{h}/")
            for i, h in enumerate(["l.facebook.com", "m.facebook.com", "t.co", "news.ycombinator.com"])]
    frame = run("referrers", [write_rows(lake, rows)], con)
    assert sorted(zip(frame["referrer_kind"], frame["referrer_name"], strict=True)) == [
        ("social", "Facebook"), ("social", "Facebook"), ("social", "Hacker News"), ("social", "Twitter"),
    ]


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
    assert records(frame, "browser", "browser_version", "os", "device", "agent_group", "is_bot", "count_requests",
                   "count_page_views", "count_bot_page_views", "sum_bytes", "count_visitors") == [
        {"browser": "Firefox", "browser_version": "120", "os": "Linux", "device": "Other", "agent_group": "person",
         "is_bot": False, "count_requests": 4, "count_page_views": 2, "count_bot_page_views": 0, "sum_bytes": 3500,
         "count_visitors": 1},
        {"browser": "Chrome", "browser_version": "119", "os": "Windows", "device": "Other", "agent_group": "person",
         "is_bot": False, "count_requests": 3, "count_page_views": 1, "count_bot_page_views": 0, "sum_bytes": 1100,
         "count_visitors": 2},
        {"browser": "Googlebot", "browser_version": "2", "os": "Other", "device": "Spider", "agent_group": "crawler",
         "is_bot": True, "count_requests": 2, "count_page_views": 0, "count_bot_page_views": 1, "sum_bytes": 1100,
         "count_visitors": 1},
    ]


def test_feed_readers_and_scripts_are_groups_of_their_own(lake: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [request(1, "10:00:00", "10.0.0.2", FEEDPARSER, "/feed", 200, 1),
            request(2, "10:30:00", "10.0.0.2", FEEDPARSER, "/feed", 200, 1),
            request(3, "10:00:00", "10.0.0.3", CURL, "/", 200, 1),
            request(4, "10:00:00", "10.0.0.4", FIREFOX, "/", 200, 1)]
    files = [write_rows(lake, rows)]
    groups = run("clients", files, con).group_by("agent_group").agg(pl.col("count_requests").sum()).sort("agent_group")
    assert groups.rows() == [("feed_reader", 2), ("person", 1), ("script", 1)]
    daily = run("daily_traffic", files, con).row(0, named=True)
    assert (daily["count_page_views"], daily["count_bot_page_views"], daily["count_visits"]) == (1, 3, 1)


def test_rows_written_before_agent_group_existed_are_grouped_by_is_bot(
    lake: Path, con: duckdb.DuckDBPyConnection
) -> None:
    path = write_rows(lake, BASE_ROWS)
    pl.read_parquet(path).drop("agent_group").write_parquet(path)
    frame = run("clients", [path], con)
    assert dict(zip(frame["browser"], frame["agent_group"], strict=True)) == {
        "Firefox": "person", "Chrome": "person", "Googlebot": "other_bot"}


def test_status_codes(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    frame = run("status_codes", base_files, con)
    assert frame.select("status", "status_class", "count_requests", "count_bot_requests", "sum_bytes",
                        "count_visitors").rows() == [
        (200, "2xx", 5, 1, 5500, 3), (304, "3xx", 1, 0, 0, 1), (404, "4xx", 2, 1, 200, 2), (503, "5xx", 1, 0, 0, 1),
    ]


def test_status_paths(base_files: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    frame = run("status_paths", base_files, con)
    assert records(frame, "status", "status_class", "path", "count_requests", "count_bot_requests",
                   "count_visitors", "max_response_ms") == [
        {"status": 304, "status_class": "3xx", "path": "/", "count_requests": 1, "count_bot_requests": 0,
         "count_visitors": 1, "max_response_ms": 40.0},
        {"status": 404, "status_class": "4xx", "path": "/missing", "count_requests": 1, "count_bot_requests": 0,
         "count_visitors": 1, "max_response_ms": 50.0},
        {"status": 404, "status_class": "4xx", "path": "/old", "count_requests": 1, "count_bot_requests": 1,
         "count_visitors": 1, "max_response_ms": 80.0},
        {"status": 503, "status_class": "5xx", "path": "/api", "count_requests": 1, "count_bot_requests": 0,
         "count_visitors": 1, "max_response_ms": 1000.0},
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


def test_virtual_hosts(lake: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [{**request(1, "10:00:00", "10.0.0.1", FIREFOX, "/", 200, 10), "vhost": "a.example"},
            {**request(2, "10:00:01", "10.0.0.2", FIREFOX, "/", 200, 20), "vhost": "a.example"},
            {**request(3, "10:00:02", "10.0.0.1", FIREFOX, "/x", 404, 30), "vhost": "b.example"}]
    frame = run("virtual_hosts", [write_rows(lake, rows)], con)
    assert records(frame, "vhost", "count_requests", "count_page_views", "count_errors", "sum_bytes",
                   "count_visitors") == [
        {"vhost": "a.example", "count_requests": 2, "count_page_views": 2, "count_errors": 0, "sum_bytes": 30,
         "count_visitors": 2},
        {"vhost": "b.example", "count_requests": 1, "count_page_views": 0, "count_errors": 1, "sum_bytes": 30,
         "count_visitors": 0},
    ]


def test_a_virtual_host_that_is_an_ip_address_is_not_kept_as_one(lake: Path, con: duckdb.DuckDBPyConnection) -> None:
    """A client that asks for the server by address logs it as the host; marts keep no IP-like value (the audit
    would flag it once the day is past the limit), so such hosts are one row, named for what they are."""
    rows = [{**request(1, "10:00:00", "10.0.0.1", FIREFOX, "/", 200, 10), "vhost": "198.51.100.7"},
            {**request(2, "10:00:01", "10.0.0.2", FIREFOX, "/", 200, 20), "vhost": "[2001:db8::7]:8443"},
            {**request(3, "10:00:02", "10.0.0.1", FIREFOX, "/", 200, 30), "vhost": "shop.example"},
            {**request(4, "10:00:03", "10.0.0.1", FIREFOX, "/", 200, 30), "vhost": "cafe.be:8080"},
            {**request(5, "10:00:04", "10.0.0.1", FIREFOX, "/", 200, 30), "vhost": "::ffff:192.0.2.1"}]
    frame = run("virtual_hosts", [write_rows(lake, rows)], con)
    assert sorted(frame["vhost"].to_list()) == ["(an IP address)", "cafe.be:8080", "shop.example"]
    assert frame.filter(pl.col("vhost") == "(an IP address)")["count_requests"].to_list() == [3]


def test_sums_saturate_instead_of_failing(lake: Path, con: duckdb.DuckDBPyConnection) -> None:
    """Ingest stores a byte count of 2^63 - 1 faithfully; two of them overflowed every 64-bit sum."""
    rows = [request(n, f"10:0{n}:00", "10.0.0.1", FIREFOX, "/download", 200, 2**63 - 1)
            for n in range(1, 3)]
    files = [write_rows(lake, rows)]
    sums = {}
    for name in marts.MART_NAMES:
        frame = run(name, files, con)  # no mart fails
        if "sum_bytes" in frame.columns and frame.height:
            sums[name] = frame["sum_bytes"].to_list()
    assert set(sums) >= {"daily_traffic", "hourly_traffic", "pages", "clients", "resources", "virtual_hosts"}
    assert all(values == [2**63 - 1] for values in sums.values()), sums
    assert run("resources", files, con)["max_bytes"].item() == 2**63 - 1


# ---------------------------------------------------------------- local days


@pytest.mark.parametrize(("day", "hours"), [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25), (DAY, 24)])
def test_a_local_day_is_a_window_of_utc_instants(day: date, hours: int) -> None:
    start, end = staging.day_window(day, "Europe/Berlin")
    assert end - start == timedelta(hours=hours)
    assert start == datetime.combine(day, datetime.min.time(), ZoneInfo("Europe/Berlin"))
    assert staging.utc_days(DAY, "Europe/Berlin") == [date(2026, 11, 19), DAY]
    assert staging.utc_days(DAY, "America/Los_Angeles") == [DAY, date(2026, 11, 21)]
    assert staging.local_days(DAY, "Europe/Berlin") == [DAY, date(2026, 11, 21)]
    assert staging.local_days(DAY, "UTC") == [DAY]


def test_marts_are_built_per_local_day_from_the_utc_partitions_it_spans(settings: Settings) -> None:
    before, after = date(2026, 11, 19), date(2026, 11, 21)
    write_rows(settings.lake, [request(1, "23:30:00", "10.0.0.1", FIREFOX, "/", 200, 1, day=before)],
               day=before)  # 00:30 on the 20th in Berlin
    write_rows(settings.lake, [request(2, "10:00:00", "10.0.0.1", FIREFOX, "/", 200, 1),
                               request(3, "23:30:00", "10.0.0.1", FIREFOX, "/", 200, 1)])  # 00:30 on the 21st
    # the UTC 19th touches the local 19th too, but holds no request of it (footer statistics): not built
    assert marts.days_touched(settings.lake, settings) == [(SITE, DAY), (SITE, after)]
    result = marts.build_marts(settings, BUILT)
    assert result.built == [(SITE, DAY), (SITE, after)]
    daily = marts.read_mart(settings.lake, "daily_traffic")
    assert daily.select("date", "time_zone", "count_requests").rows() == [
        (DAY, "Europe/Berlin", 2), (after, "Europe/Berlin", 1)]  # the 19th (local) has no request: no row
    assert marts.days_touched(settings.lake, settings) == []

    utc = Settings(lake=settings.lake, policy=policy_from_mapping({"site": {"days": "utc"}}))
    shutil.rmtree(settings.lake / "marts")
    marts.build_marts(utc, BUILT)
    daily = marts.read_mart(settings.lake, "daily_traffic")
    assert daily.select("date", "time_zone", "count_requests").rows() == [(before, "UTC", 1), (DAY, "UTC", 2)]


def test_the_policy_names_each_sites_zone_and_own_hosts_for_the_build(lake: Path) -> None:
    write_rows(lake, [request(1, "22:30:00", "10.0.0.1", FIREFOX, "/", 200, 1, referrer="https://howto.basjes.nl/"),
                      request(2, "22:31:00", "10.0.0.1", FIREFOX, "/", 200, 1, referrer="https://news.example/")])
    policy = policy_from_mapping({"sites": {SITE: {"timezone": "Asia/Tehran", "own_hosts": ["*.basjes.nl"]}}})
    marts.build_marts(Settings(lake=lake, policy=policy), BUILT)
    daily = marts.read_mart(lake, "daily_traffic")  # 22:30 UTC is 02:00 on the 21st in Tehran (+03:30)
    assert daily.select("date", "time_zone", "count_requests").rows() == [(date(2026, 11, 21), "Asia/Tehran", 2)]
    assert marts.read_mart(lake, "referrers")["referrer_host"].to_list() == ["news.example"]


def test_each_site_has_its_own_zone(settings: Settings) -> None:
    policy = policy_from_mapping({"sites": {SITE: {"timezone": "Asia/Tehran"}}})  # +03:30
    assert marts.day_plan(Settings(lake=settings.lake, policy=policy), SITE, DAY).tz == "Asia/Tehran"
    assert marts.day_plan(Settings(lake=settings.lake, policy=policy), "other", DAY).tz == "Europe/Berlin"


# ---------------------------------------------------------------- building the lake


@pytest.fixture
def utc_settings(lake: Path) -> Settings:
    """A site whose days are UTC dates (policy ``days = "utc"``): BASE_ROWS are one day."""
    return Settings(lake=lake, policy=policy_from_mapping({"site": {"days": "utc"}}))


def test_build_writes_every_mart_per_site_and_day(utc_settings: Settings) -> None:
    settings = utc_settings
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
    assert marts.days_touched(lake, settings) == []
    assert marts.build_marts(settings, BUILT).built == []  # nothing stale


def test_held_rows_are_counted(utc_settings: Settings) -> None:
    settings = utc_settings
    write_rows(settings.lake, BASE_ROWS[:5])
    write_rows(settings.lake, BASE_ROWS[5:], name="part-held.parquet", incident="INC-1")
    marts.build_marts(settings, BUILT)
    daily = marts.read_mart(settings.lake, "daily_traffic").row(0, named=True)
    assert (daily["count_requests"], daily["count_unique_visitors"]) == (9, 4)


def test_rebuild_is_idempotent(utc_settings: Settings) -> None:
    settings = utc_settings
    write_rows(settings.lake, BASE_ROWS)
    marts.build_marts(settings, BUILT)
    first = {name: marts.read_mart(settings.lake, name) for name in marts.MART_NAMES}
    result = marts.build_marts(settings, BUILT, days=[(SITE, DAY)])
    assert result.built == [(SITE, DAY)]
    for name in marts.MART_NAMES:
        again = marts.read_mart(settings.lake, name)
        assert again.equals(first[name]), name
        assert len(list((settings.lake / "marts" / name).rglob("*.parquet"))) == 1


def test_days_touched_sees_new_input(utc_settings: Settings) -> None:
    settings = utc_settings
    write_rows(settings.lake, BASE_ROWS)
    marts.build_marts(settings, BUILT)
    write_rows(settings.lake, [request(20, "15:00:00", "10.0.0.7", CHROME, "/", 200, 1, source="late")],
               name="part-late.parquet")
    assert marts.days_touched(settings.lake, settings) == [(SITE, DAY)]


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


def test_late_data_on_an_anonymised_day(utc_settings: Settings) -> None:
    settings = utc_settings
    lake = settings.lake
    write_rows(lake, BASE_ROWS)
    marts.build_marts(settings, BUILT)  # nightly: ingest -> marts -> (later) anonymise
    anonymize_day(lake, datetime(2026, 11, 26, 3, 0, tzinfo=UTC))

    # rebuilding with nothing new keeps the exact figures: carried over, not recomputed
    rebuilt = marts.build_marts(settings, datetime(2026, 11, 26, 4, 0, tzinfo=UTC))
    assert rebuilt.built == [(SITE, DAY)]  # the anonymised files are newer than the marts
    daily = marts.read_mart(lake, "daily_traffic").row(0, named=True)
    assert (daily["count_unique_visitors"], daily["count_visits"], daily["is_approximate"]) == (4, 2, False)

    write_rows(lake, LATE_ROWS, name="part-late.parquet")
    result = marts.build_marts(settings, datetime(2026, 11, 27, 3, 0, tzinfo=UTC))
    assert result.approximate == [(SITE, DAY)]
    daily = marts.read_mart(lake, "daily_traffic").row(0, named=True)
    assert daily["count_requests"] == 12  # recomputed exactly from every row
    assert daily["sum_bytes"] == 5700 + 1100
    assert (daily["count_2xx"], daily["count_4xx"]) == (7, 3)
    assert daily["count_unique_visitors"] == 4 + 2  # old + new; A came back and is counted twice
    assert daily["count_visits"] == 2 + 2  # of people; the late 404 is no page view
    assert daily["count_bounces"] == 1 + 2
    assert daily["is_approximate"] is True
    assert daily["last_received_at"] == LATE_RECEIVED

    visits = marts.read_mart(lake, "visits")
    assert visits["count_visits"].sum() == 5  # and Googlebot's
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
    assert pages["count_page_views"].sum() == 5  # exact
    assert pages.filter(pl.col("path") == "/")["count_visitors"].item() == 2 + 1  # carried + the late one

    # and again: the same figures, no double counting of the late rows
    marts.build_marts(settings, datetime(2026, 11, 27, 4, 0, tzinfo=UTC), days=[(SITE, DAY)])
    again = marts.read_mart(lake, "daily_traffic").row(0, named=True)
    assert {k: v for k, v in again.items() if k != "built_at"} == {k: v for k, v in daily.items() if k != "built_at"}


def test_late_rows_anonymised_on_write_count_only_as_traffic(utc_settings: Settings) -> None:
    settings = utc_settings
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


def test_first_build_of_an_anonymised_day_is_approximate(utc_settings: Settings) -> None:
    settings = utc_settings
    write_rows(settings.lake, BASE_ROWS)
    anonymize_day(settings.lake, datetime(2026, 11, 26, 3, 0, tzinfo=UTC))
    marts.build_marts(settings, datetime(2026, 11, 26, 4, 0, tzinfo=UTC))
    daily = marts.read_mart(settings.lake, "daily_traffic").row(0, named=True)
    assert (daily["count_requests"], daily["count_unique_visitors"], daily["count_visits"]) == (9, 0, 0)
    assert daily["is_approximate"] is True


# ---------------------------------------------------------------- privacy and house style


def test_no_mart_has_a_personal_column(utc_settings: Settings) -> None:
    settings = utc_settings
    write_rows(settings.lake, [{**r, "session_id": "s", "remote_user": "u", "forwarded_for": "1.2.3.4",
                                "vhost": "blog.example"} for r in BASE_ROWS])
    marts.build_marts(settings, BUILT)
    files = list((settings.lake / "marts").rglob("*.parquet"))
    assert len(files) == len(marts.MART_NAMES)
    for path in files:
        names = set(pq.read_schema(path).names)
        assert not personal_columns(names), path
        assert not {"site", "date"} & names, path  # partition columns live in the path


def test_every_model_file_is_a_mart_in_house_shape() -> None:
    files = sorted(p.stem for p in (SQL_ROOT / "marts").glob("*.sql"))
    assert files == sorted(marts.MART_NAMES)
    for name in marts.MART_NAMES:
        text = (SQL_ROOT / "marts" / f"{name}.sql").read_text()
        assert "-- Grain:" in text, name
        assert text.rstrip().endswith("select * from final"), name
        # the day's requests through the staging macros (sql/staging/), never the files themselves
        assert re.search(r"from (day_requests|day_visits|day_referrers)\(\)", text), name
        assert "read_parquet" not in text, name
        assert name.endswith("s") or name == "daily_traffic" or name == "hourly_traffic", name


# ---------------------------------------------------------------- a real log against GoAccess


@pytest.fixture(scope="module")
def elastic_lake(tmp_path_factory: pytest.TempPathFactory, real_logs: Path) -> Path:
    from accesslake.ingest import ingest_file

    lake = tmp_path_factory.mktemp("elastic") / "lake"
    settings = Settings(lake=lake, policy=Policy(site_timezone="UTC"))  # the log's offset is +0000
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


def test_every_mart_column_is_documented(utc_settings: Settings) -> None:
    settings = utc_settings
    doc = (SQL_ROOT.parent / "docs" / "marts.md").read_text(encoding="utf-8")
    write_rows(settings.lake, BASE_ROWS)
    marts.build_marts(settings, BUILT)
    for name in marts.MART_NAMES:
        assert f"### `{name}`" in doc, name
        section = doc.split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
        for column in marts.read_mart(settings.lake, name).columns:
            if column not in ("site", "date", "built_at"):
                assert f"`{column}`" in section, f"{name}.{column} is not in docs/marts.md"


def test_no_feed_reader_of_the_elastic_log_counts_as_a_person(elastic_lake: Path) -> None:
    """Issue 14: 806 of 2,868 "people" page views came from feed readers; the RSS feed led the top pages."""
    requests = pl.read_parquet(elastic_lake / "requests" / "**" / "*.parquet", hive_partitioning=True)
    readers = requests.filter(pl.col("user_agent").str.contains(
        "UniversalFeedParser|Tiny Tiny RSS|FeedBurner|Feedbin|Digg Feed Fetcher|Liferea|LiveJournal"))
    assert readers.height == 364 + 198 + 108 + 50 + 21 + 9 + 19
    assert readers["agent_group"].unique().to_list() == ["feed_reader"] and readers["is_bot"].all()
    clients = marts.read_mart(elastic_lake, "clients")
    assert clients.filter(pl.col("agent_group") == "feed_reader")["count_bot_page_views"].sum() > 700
    pages = marts.read_mart(elastic_lake, "pages").group_by("path").agg(pl.col("count_page_views").sum())
    top = pages.sort("count_page_views", "path", descending=[True, False])["path"][0]
    assert "rss" not in top and "feed" not in top
    daily = marts.read_mart(elastic_lake, "daily_traffic")
    people = requests.filter(pl.col("agent_group").fill_null("person") == "person", pl.col("is_page"),
                             pl.col("method").is_in(["GET", "POST"]),
                             pl.col("status").is_between(200, 299) | (pl.col("status") == 304))
    assert daily["count_page_views"].sum() == people.height


def test_paths_are_decoded_once_per_distinct_path(utc_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def counting(path: str | None) -> str | None:
        calls.append(str(path))
        return decode_path(path)

    monkeypatch.setattr(staging, "decode_path", counting)
    rows = [request(n, f"10:00:{n:02d}", "10.0.0.1", FIREFOX, f"/p%20{n % 3}", 200, 1) for n in range(30)]
    write_rows(utc_settings.lake, rows)
    marts.build_marts(utc_settings, BUILT)
    assert sorted(calls) == ["/p%200", "/p%201", "/p%202"]
    pages = marts.read_mart(utc_settings.lake, "pages")
    assert sorted(pages["path"]) == ["/p 0", "/p 1", "/p 2"]
