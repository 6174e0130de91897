"""Tests for accesslake.useragents.enrich."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from ua_parser import Device, Result

from accesslake.logs import agents, literals, useragents

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
CUBOT_PHONE = (
    "Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/86.0.4240.198 Mobile Safari/537.36"
)

OUTPUT_SCHEMA = {
    "browser": pl.String,
    "browser_version": pl.String,
    "os": pl.String,
    "os_version": pl.String,
    "device": pl.String,
    "agent_group": pl.String,
    "is_bot": pl.Boolean,
}


@pytest.fixture(autouse=True)
def empty_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(useragents, "_cache", {})


@pytest.fixture
def parse_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    calls: list[str] = []
    real = useragents.parse

    def counting(ua: str) -> Result:
        calls.append(ua)
        return real(ua)

    monkeypatch.setattr(useragents, "parse", counting)
    yield calls


def one(ua: str | None) -> dict[str, object]:
    frame = pl.DataFrame({"user_agent": [ua]}, schema={"user_agent": pl.String})
    return useragents.enrich(frame).row(0, named=True)


def test_chrome_on_windows() -> None:
    row = one(CHROME_WINDOWS)
    assert row["browser"] == "Chrome"
    assert row["browser_version"] == "120"
    assert row["os"] == "Windows"
    assert row["os_version"] == "10"
    assert row["device"] == "Other"
    assert row["is_bot"] is False


def test_firefox_on_linux() -> None:
    row = one(FIREFOX_LINUX)
    assert (row["browser"], row["browser_version"]) == ("Firefox", "121")
    assert (row["os"], row["os_version"]) == ("Linux", None)
    assert row["device"] == "Other"
    assert row["is_bot"] is False


def test_safari_on_iphone() -> None:
    row = one(SAFARI_IPHONE)
    assert (row["browser"], row["browser_version"]) == ("Mobile Safari", "17")
    assert (row["os"], row["os_version"]) == ("iOS", "17")
    assert row["device"] == "iPhone"
    assert row["is_bot"] is False


def test_googlebot_is_a_spider_and_a_bot() -> None:
    row = one(GOOGLEBOT)
    assert row["browser"] == "Googlebot"
    assert row["device"] == "Spider"
    assert row["is_bot"] is True


@pytest.mark.parametrize(
    "ua",
    [
        "curl/8.4.0",
        "sqlmap/1.7.2#stable (https://sqlmap.org)",
        "python-requests/2.31.0",
        "Wget/1.21.4",
        "Go-http-client/1.1",
        "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000003)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/120.0.0.0 Safari/537.36",
    ],
)
def test_scripts_and_scanners_are_bots(ua: str) -> None:
    assert one(ua)["is_bot"] is True


def test_bot_marker_is_case_insensitive() -> None:
    assert one("CURL/7.0")["is_bot"] is True


def test_cubot_phone_is_not_a_bot() -> None:
    row = one(CUBOT_PHONE)
    assert row["browser"] == "Chrome Mobile"
    assert row["is_bot"] is False


def test_spider_device_alone_makes_a_bot(monkeypatch: pytest.MonkeyPatch) -> None:
    def spider(ua: str) -> Result:
        return Result(user_agent=None, os=None, device=Device("Spider"), string=ua)

    monkeypatch.setattr(useragents, "parse", spider)
    row = one("Mozilla/5.0 (plain)")
    assert row["device"] == "Spider"
    assert row["is_bot"] is True


def test_unmatched_ua_gets_other_families() -> None:
    row = one("zzz-nothing-matches-this")
    assert row == {
        "user_agent": "zzz-nothing-matches-this",
        "browser": "Other",
        "browser_version": None,
        "os": "Other",
        "os_version": None,
        "device": "Other",
        "agent_group": "person",
        "is_bot": False,
    }


@pytest.mark.parametrize("ua", [None, "-", "", "  "])
def test_missing_ua_gives_nulls_and_not_bot(ua: str | None, parse_calls: list[str]) -> None:
    row = one(ua)
    assert {k: row[k] for k in OUTPUT_SCHEMA} == {
        "browser": None,
        "browser_version": None,
        "os": None,
        "os_version": None,
        "device": None,
        "agent_group": None,
        "is_bot": False,
    }
    assert parse_calls == []


def test_output_schema_and_row_order() -> None:
    uas = [FIREFOX_LINUX, None, CHROME_WINDOWS, "-", GOOGLEBOT, FIREFOX_LINUX]
    frame = pl.DataFrame({"id": range(6), "user_agent": uas})
    out = useragents.enrich(frame)
    assert out.schema == pl.Schema({"id": pl.Int64, "user_agent": pl.String, **OUTPUT_SCHEMA})
    assert out["id"].to_list() == list(range(6))
    assert out["user_agent"].to_list() == uas
    assert out["browser"].to_list() == ["Firefox", None, "Chrome", None, "Googlebot", "Firefox"]
    assert out["is_bot"].to_list() == [False, False, False, False, True, False]


def test_duplicates_get_identical_results() -> None:
    frame = pl.DataFrame({"user_agent": [SAFARI_IPHONE, GOOGLEBOT] * 50})
    out = useragents.enrich(frame)
    assert out.unique().height == 2
    assert out.filter(pl.col("user_agent") == SAFARI_IPHONE).n_unique() == 1


def test_input_frame_is_not_mutated() -> None:
    frame = pl.DataFrame(
        {"user_agent": [CHROME_WINDOWS, None], "browser": ["stale", "stale"]}
    )
    before = frame.clone()
    out = useragents.enrich(frame)
    assert_frame_equal(frame, before)
    assert frame.columns == ["user_agent", "browser"]
    assert out["browser"].to_list() == ["Chrome", None]


def test_existing_output_columns_are_replaced() -> None:
    frame = pl.DataFrame(
        {
            "user_agent": [GOOGLEBOT, None],
            "browser": [1, 2],
            "is_bot": [None, True],
            "device": ["x", "y"],
        }
    )
    out = useragents.enrich(frame)
    assert sorted(out.columns) == sorted(["user_agent", *OUTPUT_SCHEMA])
    assert dict(out.select(list(OUTPUT_SCHEMA)).schema) == OUTPUT_SCHEMA
    assert out["browser"].to_list() == ["Googlebot", None]
    assert out["device"].to_list() == ["Spider", None]
    assert out["is_bot"].to_list() == [True, False]


def test_parse_once_per_distinct_string(parse_calls: list[str]) -> None:
    uas = [CHROME_WINDOWS, FIREFOX_LINUX, GOOGLEBOT] * 100 + [None, "-", ""] * 10
    frame = pl.DataFrame({"user_agent": uas})
    useragents.enrich(frame)
    assert sorted(parse_calls) == sorted([CHROME_WINDOWS, FIREFOX_LINUX, GOOGLEBOT])


def test_cache_avoids_reparsing_across_calls(parse_calls: list[str]) -> None:
    useragents.enrich(pl.DataFrame({"user_agent": [CHROME_WINDOWS, GOOGLEBOT]}))
    useragents.enrich(pl.DataFrame({"user_agent": [GOOGLEBOT, FIREFOX_LINUX]}))
    assert sorted(parse_calls) == sorted([CHROME_WINDOWS, GOOGLEBOT, FIREFOX_LINUX])


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(useragents, "CACHE_SIZE", 3)
    for batch in (["a/1", "a/2"], ["a/3", "a/4"], ["a/1", "a/5", "a/6", "a/7"]):
        out = useragents.enrich(pl.DataFrame({"user_agent": batch}))
        assert out["browser"].null_count() == 0
        assert len(useragents._cache) <= 3


def test_empty_and_all_null_frames() -> None:
    empty = useragents.enrich(pl.DataFrame({"user_agent": []}, schema={"user_agent": pl.String}))
    assert empty.height == 0
    assert dict(empty.select(list(OUTPUT_SCHEMA)).schema) == OUTPUT_SCHEMA
    nulls = useragents.enrich(pl.DataFrame({"user_agent": [None, None]}))
    assert nulls["is_bot"].to_list() == [False, False]
    assert nulls["browser"].dtype == pl.String


def test_categorical_user_agent_column_works() -> None:
    frame = pl.DataFrame({"user_agent": [GOOGLEBOT, GOOGLEBOT]}).cast(pl.Categorical)
    out = useragents.enrich(frame)
    assert out["user_agent"].dtype == pl.Categorical
    assert out["is_bot"].to_list() == [True, True]


def test_missing_user_agent_column_raises() -> None:
    with pytest.raises(pl.exceptions.ColumnNotFoundError):
        useragents.enrich(pl.DataFrame({"other": ["x"]}))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["-", "", GOOGLEBOT, "curl/8"]), st.text(max_size=30))))
def test_enrich_keeps_rows_and_never_null_is_bot(uas: list[str | None]) -> None:
    frame = pl.DataFrame({"user_agent": uas}, schema={"user_agent": pl.String})
    out = useragents.enrich(frame)
    assert out["user_agent"].to_list() == uas
    assert out["is_bot"].null_count() == 0
    present = [ua is not None and ua.strip() not in ("", "-") for ua in uas]
    assert out["browser"].is_not_null().to_list() == present


# ---------------------------------------------------------------- agent groups (maintained lists)

# The feed readers of elastic_apache_combined.log that counted as people before (issue 14), as logged.
FEED_READERS = [
    "UniversalFeedParser/4.2-pre-314-svn +http://feedparser.org/",
    "Tiny Tiny RSS/1.11 (http://tt-rss.org/)",
    "FeedBurner/1.0 (http://www.FeedBurner.com)",
    "Feedbin - 1 subscribers",
    "Digg Feed Fetcher 1.0 (Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_1) AppleWebKit/534.48.3 "
    "(KHTML, like Gecko) Version/5.1 Safari/534.48.3)",
    "Liferea/1.8.3 (Linux; en_GB.UTF-8; http://liferea.sf.net/)",
    "LiveJournal.com (webmaster@livejournal.com; for http://www.livejournal.com/users/cshpsionic/; 8 readers)",
    "Feedfetcher-Google; (+http://www.google.com/feedfetcher.html; 22 subscribers; feed-id=8321906634162087507)",
    "Feedly/1.0 (+http://www.feedly.com/fetcher.html; like FeedFetcher-Google)",
]


@pytest.mark.parametrize("ua", FEED_READERS)
def test_feed_readers_are_their_own_automated_group(ua: str) -> None:
    row = one(ua)
    assert (row["agent_group"], row["is_bot"]) == ("feed_reader", True)


@pytest.mark.parametrize(("ua", "group"), [
    (GOOGLEBOT, "crawler"),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "crawler"),
    ("Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "monitor"),
    ("sqlmap/1.7.2#stable (https://sqlmap.org)", "scanner"),
    ("Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000003)", "scanner"),
    ("curl/8.4.0", "script"),
    ("python-requests/2.31.0", "script"),
    ("Go-http-client/1.1", "script"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 "
     "Safari/537.36", "script"),
    (CHROME_WINDOWS, "person"),
    (SAFARI_IPHONE, "person"),
    (CUBOT_PHONE, "person"),  # "bot" inside a word is not a bot (the rules' left boundary)
])
def test_agent_groups_from_the_maintained_lists(ua: str, group: str) -> None:
    row = one(ua)
    assert (row["agent_group"], row["is_bot"]) == (group, group != "person")


def test_every_automated_group_is_a_bot_and_only_those() -> None:
    uas = [*FEED_READERS, GOOGLEBOT, "curl/8", CHROME_WINDOWS, FIREFOX_LINUX, "zzz-nothing"]
    out = useragents.enrich(pl.DataFrame({"user_agent": uas}))
    assert set(out["agent_group"]) <= set(agents.GROUPS)
    assert out["is_bot"].to_list() == [g != "person" for g in out["agent_group"]]
    assert out["is_bot"].sum() == len(FEED_READERS) + 2


def test_a_spider_no_list_names_is_other_bot(monkeypatch: pytest.MonkeyPatch) -> None:
    def spider(ua: str) -> Result:
        return Result(user_agent=None, os=None, device=Device("Spider"), string=ua)

    monkeypatch.setattr(useragents, "parse", spider)
    assert one("Mozilla/5.0 (plain)")["agent_group"] == "other_bot"


def test_rules_are_read_from_the_installed_packages() -> None:
    found = agents.sources()
    assert set(found) == {"matomo-bots", "matomo-feed", "matomo-lib", "cua"}
    assert all(Path(path).is_file() for path in found.values())
    # explain() names the rules behind a verdict, from both lists
    assert {source for _, source, _ in agents.explain(FEED_READERS[0])} >= {"matomo-bots"}


@pytest.mark.parametrize(("pattern", "expected"), [
    ("Googlebot", {"googlebot"}),
    (r"Feed\.Fetcher", {"feed.fetcher"}),
    ("(?:Tiny Tiny RSS|Liferea)/[0-9]", {"tiny tiny rss/", "liferea/"}),
    ("[a-z]+bot/[0-9]", {"bot/"}),
])
def test_required_literals(pattern: str, expected: set[str]) -> None:
    found = literals.required_literals(pattern)
    assert found is not None and all(any(e in f or f in e for f in found) for e in expected)
    assert all(len(f) >= 3 for f in found)


def test_split_top_leaves_groups_and_classes_alone() -> None:
    assert literals.split_top("a|(b|c)|[|]|d") == ["a", "(b|c)", "[|]", "d"]
    assert literals.exact_strings("^(?:curl|wget)$") == {"curl", "wget"}
    assert literals.exact_strings("curl") is None
