"""Forensic views and macros (sql/forensics/views.sql): Python, the DuckDB shell, the audit line."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accesslake import holds
from accesslake import storage as lakefs
from accesslake.errors import ConfigError, QueryError
from accesslake.forensics import views as forensics
from accesslake.schema import REQUEST_SCHEMA, conform
from accesslake.sqlfiles import SQL_ROOT
from accesslake.storage.auditlog import read_events, verify_chain

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
DAY = NOW - timedelta(hours=10)  # 2026-11-28 17:00


def make_rows(*specs: dict[str, object]) -> pl.DataFrame:
    base: dict[str, object] = {
        "ts": DAY, "client_ip": "203.0.113.7", "method": "GET", "path": "/", "status": 200, "bytes": 100,
        "user_agent": "Mozilla/5.0 Firefox/128.0", "browser": "Firefox", "is_page": True,
        "received_at": NOW - timedelta(hours=1), "source_file": "access.log",
    }
    frame = pl.DataFrame(
        [{**base, "row_id": f"k:{i}", "source_line": i, **spec} for i, spec in enumerate(specs, start=1)],
        infer_schema_length=None,
    )
    return conform(frame, REQUEST_SCHEMA)


def store(lake: Path, frame: pl.DataFrame, *, incident: str | None = None, name: str = "part-t.parquet") -> None:
    root = lake / ('held' if incident else 'requests')
    for (day,), part in frame.with_columns(pl.col("ts").dt.date().alias("_d")).partition_by("_d", as_dict=True).items():
        path = lakefs.partition_dir(root, "shop", day, incident) / name
        lakefs.write_parquet_atomic(part.drop("_d"), path, private=incident is not None)


def open_hold(lake: Path, ip: str) -> holds.Hold:
    scope = holds.Scope(start=DAY - timedelta(days=1), end=NOW, ips=(ip,))
    return holds.open_hold(lake, case_reference="CASE-1", scope=scope, purpose="abuse", legal_basis=("6-1-f",),
                           authorized_by="dpo", now=NOW - timedelta(hours=2))


def sql(lake: Path, text: str) -> pl.DataFrame:
    return forensics.run_sql(lake, text, NOW)


# ---------------------------------------------------------------- what the views show


def test_forensic_requests_holds_only_personal_rows_in_their_time(lake: Path) -> None:
    store(lake, make_rows(
        {"row_id": "fresh", "client_ip": "203.0.113.7"},
        {"row_id": "anonymised", "client_ip": None, "anonymized_at": NOW - timedelta(hours=2)},
        {"row_id": "truncated", "client_ip": "203.0.0.0", "anonymized_at": NOW - timedelta(hours=2)},
        {"row_id": "past-deadline", "ts": NOW - timedelta(hours=169), "received_at": NOW - timedelta(hours=169)},
    ))
    active = open_hold(lake, "198.51.100.9")
    released = open_hold(lake, "198.51.100.10")
    holds.release_hold(lake, released.id, by="dpo", now=NOW - timedelta(hours=1))
    store(lake, make_rows({"row_id": "held-active", "client_ip": "198.51.100.9"}), incident=active.id)
    store(lake, make_rows({"row_id": "held-released", "client_ip": "198.51.100.10"}), incident=released.id)

    found = sql(lake, "select row_id, source, incident_id from forensic_requests order by row_id")

    assert found.rows() == [("fresh", "requests", None), ("held-active", "held", active.id)]


def test_hold_past_its_review_date_is_not_shown(lake: Path) -> None:
    hold = open_hold(lake, "198.51.100.9")
    store(lake, make_rows({"row_id": "held", "client_ip": "198.51.100.9"}), incident=hold.id)

    later = forensics.run_sql(lake, "select count(*) as n from forensic_requests", hold.review_at)

    assert later["n"][0] == 0
    assert sql(lake, "select count(*) as n from forensic_requests")["n"][0] == 1


def test_empty_lake_gives_empty_views_with_columns(lake: Path) -> None:
    for name in ("forensic_requests", "abuse_candidates", "forensic_holds", "ip_timeline('192.0.2.1')",
                 "top_talkers('2026-11-28', '2026-11-29')", "requests_matching('x')"):
        assert sql(lake, f"select * from {name}").height == 0
    assert "client_ip" in sql(lake, "select * from forensic_requests").columns


# ---------------------------------------------------------------- addresses and networks


CIDR_CASES = [
    ("192.0.2.77", "192.0.2.0/24", True),
    ("192.0.3.1", "192.0.2.0/24", False),
    ("192.0.2.77", "192.0.2.64/27", True),
    ("192.0.2.96", "192.0.2.64/27", False),
    ("10.1.2.3", "0.0.0.0/0", True),
    ("192.0.2.1", "192.0.2.1", True),
    ("2001:db8::1", "2001:db8::/32", True),
    ("2001:DB8:0:0:0:0:0:1", "2001:db8::/32", True),
    ("[2001:db8::1]", "2001:db8::1", True),
    ("2001:db9::1", "2001:db8::/32", False),
    ("2001:db8:abcd:12::1", "2001:db8:abcd:10::/60", True),
    ("2001:db8:abcd:20::1", "2001:db8:abcd:10::/60", False),
    ("::1", "::/0", True),
    ("::ffff:192.0.2.9", "192.0.2.0/24", True),  # IPv4-mapped IPv6 is the IPv4 address
    ("::ffff:c000:209", "192.0.2.0/24", True),
    ("::ffff:192.0.2.9", "::ffff:192.0.2.0/120", True),
    ("192.0.2.9", "::ffff:192.0.2.0/120", True),
    ("::ffff:192.0.2.9", "::/80", True),  # ... and as the IPv6 address it is
    ("192.0.2.9", "::/80", False),
    ("192.0.2.9", "2001:db8::/32", False),  # families never match
    ("fe80::1%eth0", "fe80::/10", True),
    ("ppp-1.example.net", "192.0.2.0/24", False),  # a host name is in no network
    ("256.1.1.1", "0.0.0.0/0", False),
    ("1::2::3", "::/0", False),
]


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """One forensic connection over an empty lake, for the address macros."""
    connection = forensics.connect(tmp_path_factory.mktemp("lake"), NOW)
    yield connection
    connection.close()


@pytest.mark.parametrize(("ip", "cidr", "inside"), CIDR_CASES)
def test_ip_in_cidr(con: duckdb.DuckDBPyConnection, ip: str, cidr: str, inside: bool) -> None:
    assert con.sql("select ip_in_cidr($ip, $cidr)", params={"ip": ip, "cidr": cidr}).fetchall() == [(inside,)]


addresses = st.one_of(
    st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n))),
    st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv6Address(0xFFFF << 32 | n))),  # ::ffff:a.b.c.d
    st.integers(0, 2**16 - 1).map(lambda n: str(ipaddress.IPv6Address(n << 112))),  # long zero runs
    st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n))),
)


@settings(max_examples=50, deadline=None)
@given(ips=st.lists(addresses, min_size=1, max_size=20), prefix=st.integers(0, 128), seed=addresses)
def test_ip_in_cidr_agrees_with_python(con: duckdb.DuckDBPyConnection, ips: list[str], prefix: int,
                                       seed: str) -> None:
    net = ipaddress.ip_network(f"{seed}/{min(prefix, 32 if ':' not in seed else 128)}", strict=False)
    ips = [*ips, str(net.network_address), str(net.broadcast_address), net.network_address.exploded]
    got = con.sql("select list(ip_in_cidr(ip, $net) order by i) from (select unnest($ips) as ip, "
                  "generate_subscripts($ips, 1) as i)", params={"ips": ips, "net": str(net)}).fetchall()[0][0]
    assert got == [in_network(ip, net) for ip in ips]


def in_network(ip: str, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    """The incident holds' meaning: an IPv4-mapped IPv6 address matches in either form, and an
    IPv4-mapped network of prefix 96 or more is the IPv4 network."""
    first = net.network_address.ipv4_mapped if isinstance(net, ipaddress.IPv6Network) else None
    if first is not None and net.prefixlen >= 96:
        net = ipaddress.IPv4Network((first, net.prefixlen - 96))
    address = ipaddress.ip_address(ip)
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return address in net or (mapped is not None and mapped in net)


def test_ip_timeline_accepts_address_network_and_host_name(lake: Path) -> None:
    store(lake, make_rows(
        {"row_id": "a", "client_ip": "2001:db8:0:0:0:0:0:1", "ts": DAY},
        {"row_id": "b", "client_ip": "2001:db8::1", "ts": DAY + timedelta(seconds=1)},
        {"row_id": "c", "client_ip": "2001:db8:1::5", "ts": DAY + timedelta(seconds=2)},
        {"row_id": "d", "client_ip": "192.0.2.10", "ts": DAY + timedelta(seconds=3)},
        {"row_id": "e", "client_ip": "dialup-7.example.net", "ts": DAY + timedelta(seconds=4)},
    ))

    def ids(target: str) -> list[str]:
        return sql(lake, f"select row_id from ip_timeline('{target}')")["row_id"].to_list()

    assert ids("2001:DB8::1") == ["a", "b"]  # any spelling of the same address, in time order
    assert ids("2001:db8::/32") == ["a", "b", "c"]
    assert ids("192.0.2.0/28") == ["d"]
    assert ids("DIALUP-7.example.net") == ["e"]
    assert ids("198.51.100.0/24") == []


# ---------------------------------------------------------------- the macros


def test_client_sessions_and_user_agents(lake: Path) -> None:
    store(lake, make_rows(
        {"row_id": "1", "session_id": "s1", "user_agent": "UA-1", "path": "/a"},
        {"row_id": "2", "session_id": "s1", "user_agent": "UA-1", "path": "/b", "ts": DAY + timedelta(minutes=1)},
        {"row_id": "3", "session_id": "s2", "user_agent": "UA-2", "path": "/c", "ts": DAY + timedelta(hours=1)},
        {"row_id": "4", "session_id": None, "user_agent": "UA-2", "path": "/d", "ts": DAY + timedelta(hours=2)},
        {"row_id": "5", "client_ip": "192.0.2.99", "session_id": "s9"},
    ))

    sessions = sql(lake, "select session_id, count_requests, first_requests from client_sessions('203.0.113.7')")
    agents = sql(lake, "select user_agent, count_requests, count_sessions from client_user_agents('203.0.113.7')")

    assert sessions.rows() == [("s1", 2, ["GET /a", "GET /b"]), ("s2", 1, ["GET /c"]), (None, 1, ["GET /d"])]
    assert sorted(agents.rows()) == [("UA-1", 2, 1), ("UA-2", 2, 1)]


def test_requests_matching_finds_encoded_payloads(lake: Path) -> None:
    store(lake, make_rows(
        {"row_id": "xss", "path": "/search", "query": "q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"},
        {"row_id": "ref", "referrer": "http://evil.example/<script>"},
        {"row_id": "plain", "path": "/about"},
    ))

    found = sql(lake, "select row_id from requests_matching('(?i)<script')")

    assert sorted(found["row_id"].to_list()) == ["ref", "xss"]


def test_top_talkers_in_a_window(lake: Path) -> None:
    store(lake, make_rows(
        *[{"client_ip": "192.0.2.1", "ts": DAY + timedelta(seconds=i)} for i in range(5)],
        *[{"client_ip": "192.0.2.2", "ts": DAY + timedelta(seconds=i), "status": 404} for i in range(3)],
        {"client_ip": "192.0.2.3", "ts": DAY},
        *[{"client_ip": "192.0.2.4", "ts": DAY - timedelta(hours=5)} for _ in range(9)],  # outside the window
    ))
    start, end = (DAY - timedelta(hours=1)).isoformat(), (DAY + timedelta(hours=1)).isoformat()

    found = sql(lake, f"select client_ip, count_requests, count_404 from top_talkers('{start}', '{end}', n := 2)")

    assert found.rows() == [("192.0.2.1", 5, 0), ("192.0.2.2", 3, 3)]


def test_first_last_seen_spans_main_and_held(lake: Path) -> None:
    hold = open_hold(lake, "203.0.113.7")
    store(lake, make_rows({"row_id": "late", "ts": DAY + timedelta(hours=3)}))
    store(lake, make_rows({"row_id": "early", "ts": DAY - timedelta(hours=20)}), incident=hold.id)

    found = sql(lake, "select * from first_last_seen('203.0.113.7')").row(0, named=True)

    assert found["first_seen_at"] == DAY - timedelta(hours=20)
    assert found["last_seen_at"] == DAY + timedelta(hours=3)
    assert (found["count_requests"], found["count_days"]) == (2, 2)
    assert (found["sources"], found["incident_ids"]) == (["held", "requests"], [hold.id])


# ---------------------------------------------------------------- the audit log


def test_connect_appends_one_audit_line(lake: Path) -> None:
    forensics.connect(lake, NOW).close()

    (event,) = read_events(lake, "forensic.query")
    assert (event["via"], event["at"]) == ("connect", NOW.isoformat())
    assert event["user"]
    assert verify_chain(lake) == []


def test_run_sql_logs_the_query_hash_not_its_text(lake: Path) -> None:
    text = "select * from ip_timeline('203.0.113.7')"
    sql(lake, text)

    (event,) = read_events(lake, "forensic.query")
    assert event["via"] == "sql"
    assert event["query_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert "203.0.113.7" not in json.dumps(event)


def test_failing_query_is_refused_and_still_logged(lake: Path) -> None:
    with pytest.raises(QueryError, match="forensic query failed"):
        sql(lake, "select * from no_such_view")
    assert len(read_events(lake, "forensic.query")) == 1


def test_connect_refuses_a_missing_lake(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a lake folder"):
        forensics.connect(tmp_path / "nope", NOW)
    assert not (tmp_path / "nope").exists()


# ---------------------------------------------------------------- the DuckDB shell


def test_views_open_in_the_duckdb_shell(lake: Path) -> None:
    cli = shutil.which("duckdb")
    if cli is None:
        pytest.skip("the DuckDB shell is not installed (dev dependency duckdb-cli)")
    hold = open_hold(lake, "2001:db8::9")
    store(lake, make_rows({"row_id": "a", "client_ip": "2001:db8::7"}, {"row_id": "b", "client_ip": "192.0.2.1"}))
    store(lake, make_rows({"row_id": "h", "client_ip": "2001:DB8:0::9"}), incident=hold.id)

    command = [*forensics.shell_command(lake, cli, NOW), "-csv", "-c",
               "select row_id, source from ip_timeline('2001:db8::/32') order by row_id"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["row_id,source", "a,requests", "h,held"]
    assert command[1:3] == ["-cmd", f"SET VARIABLE lake = '{lake.resolve()}'"]
    assert command[3:9] == ["-cmd", f"SET VARIABLE now = TIMESTAMPTZ '{NOW.isoformat()}'",
                            "-cmd", f".read {SQL_ROOT / 'empty_tables.sql'}", "-cmd", f".read {forensics.VIEWS_SQL}"]


def test_open_shell_logs_before_running(lake: Path, tmp_path: Path) -> None:
    fake = tmp_path / "fake-duckdb"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)

    assert forensics.open_shell(lake, NOW, duckdb_cli=str(fake)) == 3
    (event,) = read_events(lake, "forensic.query")
    assert event["via"] == "shell"
    with pytest.raises(ConfigError, match="is not on PATH; install it with `uv pip install duckdb-cli`"):
        forensics.open_shell(lake, NOW, duckdb_cli="no-such-duckdb-here")
