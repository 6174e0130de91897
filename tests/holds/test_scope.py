"""Incident-hold scope: validation, normalisation and the row predicate (rules H1, H2)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accesslake.errors import HoldError
from accesslake.holds.scope import Scope, scope_expr

T0 = datetime(2025, 3, 1, tzinfo=UTC)
T1 = datetime(2025, 3, 2, tzinfo=UTC)
INSIDE = datetime(2025, 3, 1, 12, tzinfo=UTC)


def make_scope(**kwargs: object) -> Scope:
    args: dict[str, object] = {"start": T0, "end": T1, "ips": ("203.0.113.7",)}
    args.update(kwargs)
    return Scope(**args)  # type: ignore[arg-type]


def requests(rows: list[tuple[datetime | None, str | None, str | None, str | None, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "ts": pl.Datetime("us", "UTC"),
            "client_ip": pl.String,
            "session_id": pl.String,
            "path": pl.String,
            "user_agent": pl.String,
        },
        orient="row",
    )


# ---------------------------------------------------------------- scope validation


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"start": datetime(2025, 3, 1)}, "--start: 2025-03-01T00:00:00 has no time zone"),
        ({"end": datetime(2025, 3, 2)}, "--end: 2025-03-02T00:00:00 has no time zone"),
        ({"end": T0}, "is not after --start"),
        ({"end": T0 - timedelta(hours=1)}, "is not after --start"),
        ({"end": T0 + timedelta(days=32)}, "the window spans 32 days, more than 31"),
        ({"ips": ("203.0.113.300",)}, "--ip: '203.0.113.300' is not a valid IP address"),
        ({"ips": ("example.org",)}, "--ip: 'example.org' is not a valid IP address"),
        ({"ips": ("",)}, "--ip: '' is empty"),
        ({"ips": (), "cidrs": ("10.0.0.0/33",)}, "--cidr: '10.0.0.0/33' is not a valid network"),
        ({"ips": (), "cidrs": ("2001:db8::/129",)}, "--cidr: '2001:db8::/129' is not a valid network"),
        ({"ips": (), "cidrs": ("10.0.0.1/8",)}, "--cidr: '10.0.0.1/8' has host bits set; did you mean '10.0.0.0/8'?"),
        ({"ips": (), "cidrs": ("0.0.0.0/0",)}, "--cidr: '0.0.0.0/0' is wider than /8"),
        ({"ips": (), "cidrs": ("::/0",)}, "--cidr: '::/0' is wider than /16"),
        ({"ips": (), "paths": ("/*",)}, "--path: '/*' matches (almost) every path"),
        ({"ips": (), "paths": ("/[z-a]",)}, "--path: '/[z-a]' is not a valid glob"),
        ({"ips": (), "user_agents": ("  ",)}, "--user-agent: '  ' is empty"),
        ({"ips": (), "session_ids": ("",)}, "--session: '' is empty"),
        (
            {"ips": ()},
            (
                "a hold must name at least one of --ip, --cidr, --session, --path, --user-agent: "
                "a whole time window is not a narrow scope"
            ),
        ),
    ],
)
def test_malformed_scope_is_refused(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(HoldError) as info:
        make_scope(**kwargs)
    assert fragment in str(info.value)


def test_scope_normalises_ips_cidrs_and_time() -> None:
    berlin = datetime(2025, 3, 1, 2, tzinfo=ZoneInfo("Europe/Berlin"))  # 01:00 UTC
    scope = make_scope(
        start=berlin,
        ips=["2001:DB8::1", "::ffff:198.51.100.4", "2001:db8::1"],
        cidrs=("::ffff:10.1.0.0/112", "2001:db8:ab::/48"),
    )
    assert scope.start == datetime(2025, 3, 1, 1, tzinfo=UTC) and scope.start.tzinfo is UTC
    assert scope.ips == ("2001:db8::1", "198.51.100.4")
    assert scope.cidrs == ("10.1.0.0/16", "2001:db8:ab::/48")


def test_a_single_string_is_one_value_not_characters() -> None:
    assert make_scope(ips="203.0.113.7").ips == ("203.0.113.7",)


# ---------------------------------------------------------------- scope predicate


def test_scope_expr_on_literal_frame() -> None:
    scope = Scope(
        start=T0,
        end=T1,
        ips=("2001:db8::1", "203.0.113.7"),
        cidrs=("198.51.100.0/24",),
        session_ids=("sess-bad",),
        paths=("/wp-login.php", "/admin/*"),
        user_agents=("sqlmap",),
    )
    cases = [
        # (ts, client_ip, session_id, path, user_agent) -> expected
        ((INSIDE, "203.0.113.7", None, "/", "Mozilla"), True),  # exact IPv4
        ((INSIDE, "2001:DB8:0::1", None, "/", "Mozilla"), True),  # IPv6, other spelling
        ((INSIDE, "::ffff:203.0.113.7", None, "/", "Mozilla"), True),  # IPv4-mapped
        ((INSIDE, "::ffff:198.51.100.9", None, "/", "Mozilla"), True),  # mapped, in CIDR
        ((INSIDE, "198.51.100.200", None, "/", "Mozilla"), True),  # in CIDR
        ((INSIDE, "198.51.101.1", None, "/", "Mozilla"), False),  # next network
        ((INSIDE, "[2001:db8::1]", None, "/", "Mozilla"), True),  # bracketed IPv6
        ((INSIDE, "crawler.example.net", None, "/", "Mozilla"), False),  # host name
        ((INSIDE, None, None, None, None), False),  # all nulls
        ((INSIDE, "192.0.2.1", "sess-bad", "/", "Mozilla"), True),  # session
        ((INSIDE, "192.0.2.1", "sess-bad-2", "/", "Mozilla"), False),  # not a prefix match
        ((INSIDE, "192.0.2.1", None, "/wp-login.php", "Mozilla"), True),  # path literal
        ((INSIDE, "192.0.2.1", None, "/wp-login.php5", "Mozilla"), False),  # anchored at end
        ((INSIDE, "192.0.2.1", None, "/x/wp-login.php", "Mozilla"), False),  # anchored at start
        ((INSIDE, "192.0.2.1", None, "/wp-loginXphp", "Mozilla"), False),  # '.' is literal
        ((INSIDE, "192.0.2.1", None, "/admin/users/7", "Mozilla"), True),  # glob
        ((INSIDE, "192.0.2.1", None, "/administrator", "Mozilla"), False),
        ((INSIDE, "192.0.2.1", None, "/", "SQLMap/1.7 (https://sqlmap.org)"), True),  # UA, any case
        ((INSIDE, "192.0.2.1", None, "/", "sql map"), False),
        ((T0, "203.0.113.7", None, "/", "Mozilla"), True),  # start is inclusive
        ((T1, "203.0.113.7", None, "/", "Mozilla"), False),  # end is exclusive
        ((T0 - timedelta(microseconds=1), "203.0.113.7", None, "/", "Mozilla"), False),
        ((None, "203.0.113.7", None, "/", "Mozilla"), False),  # null time
    ]
    frame = requests([row for row, _ in cases])
    got = frame.select(scope_expr(scope).alias("m"))["m"]
    assert got.null_count() == 0
    assert got.to_list() == [expected for _, expected in cases]


def test_scope_expr_globs_handle_regex_characters_and_classes() -> None:
    scope = make_scope(ips=(), paths=("/a+b(c)/?.php", "/x[!0-9]y", "/q[ab-]"), user_agents=("a.b*(c",))
    frame = requests(
        [
            (INSIDE, None, None, "/a+b(c)/1.php", None),
            (INSIDE, None, None, "/aab(c)/1.php", None),
            (INSIDE, None, None, "/xzy", None),
            (INSIDE, None, None, "/x5y", None),
            (INSIDE, None, None, "/q-", None),
            (INSIDE, None, None, "/", "X A.B*(C y"),
            (INSIDE, None, None, "/", "aXb*(c"),
        ]
    )
    assert frame.select(scope_expr(scope))["ts"].to_list() == [True, False, True, False, True, True, False]


def test_scope_expr_works_lazily_and_on_empty_and_all_null_frames() -> None:
    scope = make_scope(cidrs=("203.0.113.0/24",))
    frame = requests([(INSIDE, f"203.0.113.{i % 300}" if i % 300 < 256 else None, None, "/", None) for i in range(900)])
    kept = frame.lazy().filter(scope_expr(scope)).collect()
    assert kept.height == 768
    assert requests([]).select(scope_expr(scope)).height == 0
    nulls = pl.DataFrame(
        {"ts": [INSIDE], "client_ip": [None], "session_id": [None], "path": [None], "user_agent": [None]}
    )
    nulls = nulls.with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))
    assert nulls.select(scope_expr(scope)).item() is False


@settings(max_examples=50, deadline=None)
@given(st.lists(st.ip_addresses(), min_size=1, max_size=40))
def test_scope_expr_agrees_with_ipaddress(addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> None:
    networks = [ipaddress.ip_network("10.0.0.0/9"), ipaddress.ip_network("2001:db8::/32")]
    scope = make_scope(ips=(), cidrs=tuple(str(n) for n in networks))
    frame = requests([(INSIDE, str(a), None, None, None) for a in addresses])
    expected = []
    for a in addresses:
        plain = a.ipv4_mapped if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped else a
        expected.append(any(plain in n for n in networks))
    assert frame.select(scope_expr(scope))["ts"].to_list() == expected
