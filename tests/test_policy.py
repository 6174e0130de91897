"""The retention policy: defaults, the TOML file, the 168 h limit, and what anonymisation does.

Rules P2 (limits and the logged override), A1-A4 (anonymisation per field),
T2 (168 elapsed hours, also across a clock change) and T3 (earlier of request
and receive time).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from retention_kit import ip_like

from accesslake import retention as anonymizer
from accesslake.audit import run_audit
from accesslake.config import Settings, load_settings
from accesslake.errors import ConfigError
from accesslake.policy import (
    HARD_LIMIT_HOURS,
    Policy,
    anonymize_exprs,
    deadline_expr,
    due_mask,
    load_policy,
    scrub_text_expr,
)
from accesslake.schema import REQUEST_SCHEMA, conform
from accesslake.storage.auditlog import read_events

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def write_policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- defaults and the file


def test_defaults_follow_the_privacy_notice() -> None:
    policy = Policy()
    assert policy.max_age_hours == HARD_LIMIT_HOURS == 168
    assert policy.anonymize_after_hours == 120
    assert policy.max_age == timedelta(hours=168)
    assert policy.anonymize_after == timedelta(hours=120)
    assert policy.client_ip_treatment == "null"
    assert (policy.ipv4_prefix, policy.ipv6_prefix) == (16, 32)
    assert policy.site_timezone == "Europe/Berlin"
    assert policy.max_review_days == 30
    assert not policy.allow_max_age_above_168 and not policy.is_override


def test_an_empty_policy_file_means_the_defaults(tmp_path: Path) -> None:
    assert load_policy(write_policy(tmp_path, "")) == Policy()


def test_every_key_is_read_from_toml(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        """
[retention]
max_age_hours = 96
anonymize_after_hours = 48.5

[anonymize]
client_ip = "truncate"
ipv4_prefix = 24
ipv6_prefix = 16

[site]
timezone = "Europe/Vienna"

[ingest]
max_reject_ratio = 0.1

[holds]
max_review_days = 14
""",
    )
    assert load_policy(path) == Policy(
        max_age_hours=96, anonymize_after_hours=48.5, client_ip_treatment="truncate", ipv4_prefix=24,
        ipv6_prefix=16, site_timezone="Europe/Vienna", max_reject_ratio=0.1, max_review_days=14,
    )


def test_the_lake_policy_file_is_picked_up_by_the_settings(lake: Path) -> None:
    (lake / "policy.toml").write_text("[retention]\nanonymize_after_hours = 72\n", encoding="utf-8")
    settings = load_settings(lake, env={})
    assert settings.policy.anonymize_after_hours == 72
    assert settings.lake == lake


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[retentoin]\nmax_age_hours = 100\n",
         "unknown section [retentoin]; known: retention, anonymize, site, ingest, holds"),
        ("[retention]\nmax_age = 100\n",
         "unknown key 'max_age' in [retention]; known: max_age_hours, anonymize_after_hours, allow_max_age_above_168"),
        ("[anonymize]\nsession_id = \"keep\"\n", "unknown key 'session_id' in [anonymize]"),
        ("max_age_hours = 100\n", "unknown section [max_age_hours]"),
        ("[retention]\nmax_age_hours = \"168\"\n", "[retention] max_age_hours must be of type float, got '168'"),
        ("[retention]\nallow_max_age_above_168 = 1\n", "[retention] allow_max_age_above_168 must be of type bool"),
        ("[anonymize]\nipv4_prefix = 16.0\n", "[anonymize] ipv4_prefix must be of type int"),
        ("[retention\n", "not valid TOML"),
        ("[retention]\nmax_age_hours = 169\n",
         "max_age_hours = 169 exceeds the 168 h promised in the privacy notice; lower it, "
         "or set allow_max_age_above_168 = true"),
        ("[retention]\nmax_age_hours = 1000\nanonymize_after_hours = 120\n", "exceeds the 168 h"),
        ("[retention]\nanonymize_after_hours = 200\n",
         "anonymize_after_hours (200) must not exceed max_age_hours (168)"),
        ("[retention]\nmax_age_hours = 48\n", "anonymize_after_hours (120) must not exceed max_age_hours (48)"),
        ("[retention]\nmax_age_hours = 0\n", "must be positive"),
        ("[retention]\nanonymize_after_hours = -1\n", "must be positive"),
        ("[anonymize]\nclient_ip = \"hash\"\n", '[anonymize] client_ip must be "null" or "truncate"'),
        ("[anonymize]\nclient_ip = \"encrypt\"\n", '[anonymize] client_ip must be "null" or "truncate"'),
        ("[anonymize]\nipv4_prefix = 25\n", "ipv4_prefix must be between 0 and 24"),
        ("[anonymize]\nipv6_prefix = 33\n", "ipv6_prefix must be between 0 and 32"),
        ("[ingest]\nmax_reject_ratio = 0\n", "max_reject_ratio must be in (0, 1]"),
        ("[holds]\nmax_review_days = 31\n", "max_review_days must be between 1 and 30"),
    ],
)
def test_a_bad_policy_file_is_refused_naming_file_and_key(tmp_path: Path, text: str, fragment: str) -> None:
    path = write_policy(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert fragment in message


def test_a_missing_policy_file_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read the policy file"):
        load_policy(tmp_path / "missing.toml")


def test_lower_limits_are_allowed(tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path, "[retention]\nmax_age_hours = 48\nanonymize_after_hours = 24\n"))
    assert (policy.max_age, policy.anonymize_after) == (timedelta(hours=48), timedelta(hours=24))
    assert not policy.is_override


def test_exactly_168_hours_needs_no_override(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    with caplog.at_level(logging.WARNING, logger="accesslake.policy"):
        policy = load_policy(write_policy(tmp_path, "[retention]\nmax_age_hours = 168\n"))
    assert not policy.is_override
    assert not caplog.records


def test_override_above_168_is_accepted_logged_and_recorded(
    caplog: pytest.LogCaptureFixture, tmp_path: Path, lake: Path
) -> None:
    path = write_policy(tmp_path, "[retention]\nmax_age_hours = 200\nallow_max_age_above_168 = true\n")
    with caplog.at_level(logging.WARNING, logger="accesslake.policy"):
        policy = load_policy(path)
    assert policy.max_age_hours == 200 and policy.is_override
    warnings = [r for r in caplog.records if r.name == "accesslake.policy" and r.levelno == logging.WARNING]
    assert warnings and "policy override: max_age_hours = 200 above 168 h" in warnings[0].getMessage()

    # Every run under the override says so in the append-only audit log (rule D2).
    settings = Settings(lake=lake, policy=policy)
    anonymizer.run_retention(settings, NOW)
    run_audit(settings, NOW)
    for event in ("anonymize", "audit"):
        (record,) = read_events(lake, event)
        assert record["max_age_hours"] == 200 and record["policy_override"] is True, record


def test_the_default_policy_records_no_override(lake: Path) -> None:
    settings = Settings(lake=lake)
    anonymizer.run_retention(settings, NOW)
    run_audit(settings, NOW)
    assert [r["policy_override"] for r in read_events(lake) if r["event"] in ("anonymize", "audit")] == [False, False]


def test_the_override_flag_alone_does_not_raise_the_limit(tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path, "[retention]\nallow_max_age_above_168 = true\n"))
    assert policy.max_age_hours == 168 and not policy.is_override


# ---------------------------------------------------------------- anonymisation per field (A1-A3)


def request_frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    base: dict[str, object] = {
        "row_id": "k:1",
        "ts": datetime(2026, 11, 20, 10, tzinfo=UTC),
        "client_ip": "203.0.113.77",
        "session_id": "sid-42",
        "remote_user": "alice",
        "forwarded_for": "10.1.2.3, 192.0.2.5",
        "vhost": "www.example.org",
        "method": "GET",
        "path": "/shop/cart",
        "query": "item=7&user=alice",
        "protocol": "HTTP/1.1",
        "status": 200,
        "bytes": 512,
        "referrer": "https://bob:pw@search.example.com:8443/results?q=alice#top",
        "referrer_host": "search.example.com",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
        "browser": "Firefox",
        "browser_version": "120",
        "os": "Linux",
        "os_version": None,
        "device": "Other",
        "is_bot": False,
        "is_page": True,
        "response_time_ms": 12.5,
        "received_at": datetime(2026, 11, 20, 11, tzinfo=UTC),
        "anonymized_at": None,
        "source_file": "access.log",
        "source_line": 1,
    }
    frame = pl.DataFrame([{**base, **row} for row in rows], schema_overrides=dict(REQUEST_SCHEMA), strict=False)
    return conform(frame, REQUEST_SCHEMA)


KEPT = [
    "row_id", "ts", "vhost", "method", "path", "protocol", "status", "bytes", "referrer_host", "browser",
    "browser_version", "os", "os_version", "device", "is_bot", "is_page", "response_time_ms", "received_at",
    "source_file", "source_line",
]


def test_anonymisation_drops_every_personal_field_and_keeps_the_statistics() -> None:
    frame = request_frame([{"row_id": "k:1"}, {"row_id": "k:2", "client_ip": "2001:db8::1"}])
    out = frame.with_columns(anonymize_exprs(Policy(), NOW, pl.lit(True)))
    assert out.schema == frame.schema
    assert out.select(KEPT).equals(frame.select(KEPT))
    for column in ("client_ip", "session_id", "remote_user", "forwarded_for", "query", "user_agent"):  # A1-A3
        assert out[column].null_count() == 2, column
    assert out["referrer"].to_list() == ["https://search.example.com:8443"] * 2  # A3: origin only
    assert out["anonymized_at"].to_list() == [NOW, NOW]


def test_rows_outside_the_mask_keep_every_value() -> None:
    frame = request_frame([{"row_id": "k:1"}, {"row_id": "k:2", "client_ip": "198.51.100.9"}])
    out = frame.with_columns(anonymize_exprs(Policy(), NOW, pl.col("row_id") == "k:2"))
    assert out.row(0) == frame.row(0)
    assert out.row(1, named=True)["client_ip"] is None
    assert out.row(1, named=True)["anonymized_at"] == NOW


@pytest.mark.parametrize(
    ("referrer", "origin"),
    [
        ("https://bob:pw@search.example.com:8443/results?q=alice#top", "https://search.example.com:8443"),
        ("http://example.org", "http://example.org"),
        ("http://example.org/", "http://example.org"),
        ("https://example.org?q=alice", "https://example.org"),
        ("https://example.org#section", "https://example.org"),
        ("HTTPS://Example.ORG/Path", "HTTPS://Example.ORG"),
        ("android-app://com.google.android.gm/", "android-app://com.google.android.gm"),
        ("http://[2001:db8::1]:8080/admin", "http://[2001:db8::1]:8080"),
        ("www.example.org/path?q=alice", None),  # no scheme: no origin to keep
        ("/relative/path?token=abc", None),
        (None, None),
    ],
)
def test_the_referrer_is_cut_to_its_origin(referrer: str | None, origin: str | None) -> None:
    out = request_frame([{"referrer": referrer}]).with_columns(anonymize_exprs(Policy(), NOW, pl.lit(True)))
    assert out["referrer"].to_list() == [origin]


@pytest.mark.parametrize(
    ("ip", "v4", "v6", "expected"),
    [
        ("203.0.113.77", 16, 32, "203.0.0.0"),
        ("203.0.113.77", 24, 32, "203.0.113.0"),
        ("203.0.113.77", 8, 32, "203.0.0.0"),
        ("203.0.113.77", 0, 32, "0.0.0.0"),
        ("2001:db8:abcd:12::1", 16, 32, "2001:db8::"),
        ("2001:db8:abcd:12::1", 16, 16, "2001::"),
        ("2001:DB8:ABCD::1", 16, 32, "2001:db8::"),
        ("[2001:db8:abcd::1]", 16, 32, "2001:db8::"),
        ("::ffff:198.51.100.7", 16, 32, "198.51.0.0"),  # IPv4-mapped IPv6 is treated as IPv4
        ("::ffff:198.51.100.7", 24, 32, "198.51.100.0"),
        ("crawler.example.org", 16, 32, None),  # a host name cannot be truncated: dropped
        (None, 16, 32, None),
    ],
)
def test_truncate_mode_keeps_only_the_network(ip: str | None, v4: int, v6: int, expected: str | None) -> None:
    policy = Policy(client_ip_treatment="truncate", ipv4_prefix=v4, ipv6_prefix=v6)
    out = request_frame([{"client_ip": ip}]).with_columns(anonymize_exprs(policy, NOW, pl.lit(True)))
    assert out["client_ip"].to_list() == [expected]
    assert out["session_id"].to_list() == [None]  # truncation changes A1 only


def test_truncate_mode_leaves_unmasked_addresses_alone() -> None:
    policy = Policy(client_ip_treatment="truncate")
    frame = request_frame([{"row_id": "k:1"}, {"row_id": "k:2", "client_ip": "192.0.2.200"}])
    out = frame.with_columns(anonymize_exprs(policy, NOW, pl.col("row_id") == "k:1"))
    assert out["client_ip"].to_list() == ["203.0.0.0", "192.0.2.200"]


# ---------------------------------------------------------------- free text (A4)


@pytest.mark.parametrize(
    "line",
    [
        "203.0.113.9 - - [17/May/2015:10:05:03 +0000] \"GET /x HTTP/1.1\" 200 garbage",
        "junk from 10.1.2.3 and 192.0.2.55:8080 (forwarded 198.51.100.7)",
        "xff=2001:db8::1 then 2001:41d0:8:f69::1 and FE80::1%eth0",
        "mapped ::ffff:192.0.2.1 here",
        "full 2001:0db8:85a3:0000:0000:8a2e:0370:7334 address",
        "[2001:db8::7] bracketed",
    ],
)
def test_scrubbing_removes_every_ip_like_token(line: str) -> None:
    assert ip_like(line)
    out = pl.DataFrame({"line": [line]}).select(scrub_text_expr("line"))["line"][0]
    assert not ip_like(out), out
    assert "[ip]" in out or out.startswith("[host]")


def test_scrubbing_replaces_the_leading_host_and_keeps_the_rest() -> None:
    frame = pl.DataFrame({"line": ["crawler.example.org - - garbage /wp-login.php", None]})
    out = frame.select(scrub_text_expr("line"))["line"].to_list()
    assert out == ["[host] - - garbage /wp-login.php", None]
    kept = frame.select(scrub_text_expr("line", leading_host=False))["line"].to_list()
    assert kept == ["crawler.example.org - - garbage /wp-login.php", None]


# ---------------------------------------------------------------- the deadline (T2, T3)


def deadlines(rows: list[tuple[datetime | None, datetime]], policy: Policy | None = None) -> list[datetime]:
    policy = policy or Policy()
    frame = pl.DataFrame(rows, schema={"ts": pl.Datetime("us", "UTC"), "received_at": pl.Datetime("us", "UTC")},
                         orient="row")
    return frame.select(deadline_expr(policy).alias("deadline"))["deadline"].to_list()


@pytest.mark.parametrize(
    ("ts", "deadline"),
    [
        # autumn: Berlin leaves summer time on 2026-10-25; 168 h later is 13:00 CET, not 14:00
        (datetime(2026, 10, 24, 12, tzinfo=UTC), datetime(2026, 10, 31, 12, tzinfo=UTC)),
        # spring: Berlin enters summer time on 2026-03-29; 168 h later is 14:00 CEST, not 13:00
        (datetime(2026, 3, 28, 12, tzinfo=UTC), datetime(2026, 4, 4, 12, tzinfo=UTC)),
        # the ambiguous hour itself (02:30 CEST = 00:30 UTC on 2026-10-25)
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 11, 1, 0, 30, tzinfo=UTC)),
    ],
)
def test_the_deadline_is_168_elapsed_hours_across_a_clock_change(ts: datetime, deadline: datetime) -> None:
    (got,) = deadlines([(ts, ts + timedelta(minutes=5))])
    assert got == deadline
    assert got - ts == timedelta(hours=168)
    # "seven calendar days" in the site's zone would be a different instant: the test can fail
    calendar = (ts.astimezone(BERLIN).replace(tzinfo=None) + timedelta(days=7)).replace(tzinfo=BERLIN)
    assert calendar.astimezone(UTC) != deadline


def test_a_row_is_past_its_deadline_only_after_168_hours() -> None:
    ts = datetime(2026, 10, 24, 12, tzinfo=UTC)
    frame = pl.DataFrame({"ts": [ts], "received_at": [ts]}, schema={"ts": pl.Datetime("us", "UTC"),
                                                                    "received_at": pl.Datetime("us", "UTC")})

    def past(now: datetime) -> bool:
        return bool(frame.select(deadline_expr(Policy()) < pl.lit(now)).item())

    assert not past(datetime(2026, 10, 31, 11, 59, 59, tzinfo=UTC))
    assert not past(datetime(2026, 10, 31, 12, tzinfo=UTC))
    assert past(datetime(2026, 10, 31, 12, 0, 1, tzinfo=UTC))


def test_the_deadline_counts_from_the_earlier_of_request_and_receipt() -> None:
    received = datetime(2026, 11, 20, 12, tzinfo=UTC)
    got = deadlines([
        (datetime(2026, 11, 18, 9, tzinfo=UTC), received),  # late delivery: the request time counts
        (datetime(2026, 11, 21, 9, tzinfo=UTC), received),  # clock skew, request "after" receipt
        (None, received),  # no request time: the receive time counts
    ])
    assert got == [
        datetime(2026, 11, 25, 9, tzinfo=UTC),
        datetime(2026, 11, 27, 12, tzinfo=UTC),
        datetime(2026, 11, 27, 12, tzinfo=UTC),
    ]


def test_a_custom_limit_moves_the_deadline() -> None:
    ts = datetime(2026, 11, 20, 12, tzinfo=UTC)
    (got,) = deadlines([(ts, ts)], Policy(max_age_hours=36.5, anonymize_after_hours=24))
    assert got == ts + timedelta(hours=36.5)


def test_due_rows_are_past_anonymize_after_and_not_yet_anonymised() -> None:
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    frame = request_frame([
        {"row_id": "old", "ts": now - timedelta(hours=120), "received_at": now},
        {"row_id": "young", "ts": now - timedelta(hours=119, minutes=59), "received_at": now},
        {"row_id": "late", "ts": now - timedelta(hours=200), "received_at": now - timedelta(hours=1)},
        {"row_id": "done", "ts": now - timedelta(hours=200), "received_at": now, "anonymized_at": now},
        {"row_id": "skew", "ts": now + timedelta(hours=1), "received_at": now - timedelta(hours=121)},
    ])
    due = frame.filter(due_mask(Policy(), now))["row_id"].to_list()
    assert due == ["old", "late", "skew"]


def test_scrub_keeps_times_and_version_tokens_but_not_ipv6() -> None:
    from accesslake.policy import scrub_text_expr

    line = ('2001:41d0:8:f69::1 - - [25/Oct/2015:04:11:25 +0100] "GET / HTTP/1.1" 200 5 "-" '
            '"Mozilla/5.0 (X11; rv:120.0)" via fe80::1 and 2001:db8:0:0:1:0:0:1, std::vector')
    out = pl.DataFrame({"line": [line]}).select(scrub_text_expr("line")).item()
    assert out == ('[host] - - [25/Oct/2015:04:11:25 +0100] "GET / HTTP/1.1" 200 5 "-" '
                   '"Mozilla/5.0 (X11; rv:120.0)" via [ip] and [ip], std::vector')


# ----------------------------------------------------------------- per-site settings of the marts (issue 14)


def test_site_settings_merge_sites_over_site_over_defaults(tmp_path: Path) -> None:
    from accesslake.policy import load_policy, site_settings

    path = tmp_path / "policy.toml"
    path.write_text('[site]\ntimezone = "UTC"\nown_hosts = ["Example.org.", "*.basjes.nl"]\n\n'
                    '[sites.blog]\ntimezone = "Asia/Tehran"\ndays = "utc"\n\n[sites.shop]\nown_hosts = []\n')
    policy = load_policy(path)
    assert policy.site_timezone == "UTC"
    blog, shop, other = (site_settings(policy, name) for name in ("blog", "shop", "other"))
    assert (blog.timezone, blog.days, blog.own_hosts) == ("Asia/Tehran", "utc", ("example.org", "*.basjes.nl"))
    assert (shop.timezone, shop.days, shop.own_hosts) == ("UTC", "local", ())
    assert (other.timezone, other.days) == ("UTC", "local")
    assert Settings(policy=policy).site("blog") == blog


@pytest.mark.parametrize(("text", "message"), [
    ('[site]\ndays = "weekly"', 'policy.toml: [site] days must be "local" or "utc", got \'weekly\''),
    ('[site]\nown_hosts = "example.org"', "policy.toml: [site] own_hosts must be a list of host names"),
    ('[sites.blog]\ntimezone = "Mars/Olympus"', "policy.toml: [sites.blog] timezone: unknown time zone 'Mars/Olympus'"),
    ('[sites.blog]\nzone = "UTC"', "policy.toml: [sites.blog]: unknown key 'zone'; known: timezone, days, own_hosts"),
    ("sites = 3", "policy.toml: [sites] must hold one table per site"),
])
def test_bad_site_settings_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    from accesslake.policy import load_policy

    path = tmp_path / "policy.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as err:
        load_policy(path)
    assert str(err.value).replace(str(tmp_path) + "/", "").startswith(message)


def test_an_unknown_time_zone_names_the_policy_file(tmp_path: Path) -> None:
    from accesslake.config import load_settings
    from accesslake.errors import ConfigError

    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "policy.toml").write_text('[site]\ntimezone = "Mars/Olympus"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"policy\.toml: \[site\] timezone: unknown time zone 'Mars/Olympus'"):
        load_settings(lake)
