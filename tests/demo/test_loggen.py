"""Tests of the synthetic access-log generator (accesslake.demo.loggen)."""

from __future__ import annotations

import gzip
import ipaddress
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import unquote_plus

import pytest

from accesslake.demo.loggen import DEMO_COOKIE, DEMO_FORMAT, GeneratedLog, generate_log
from accesslake.errors import ConfigError

NOW = datetime(2026, 11, 29, 14, 0, 0, tzinfo=UTC)

_IPV4 = r"(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}"
_IPV6 = r"[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}"
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_QUOTED = r'(?:[^"\\]|\\.)*'  # Apache escapes " and \ inside quoted fields
# '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D "%{sid}C"'
LINE = re.compile(
    rf"(?P<ip>{_IPV4}|{_IPV6}) - (?P<user>-|[a-z]+) "
    rf"\[(?P<t>\d{{2}}/(?:{_MONTHS})/\d{{4}}:[0-2]\d:[0-5]\d:[0-5]\d) (?P<off>[+-]\d{{4}})\] "
    rf'"(?P<req>{_QUOTED})" (?P<status>[1-5]\d\d) (?P<bytes>-|0|[1-9]\d*) '
    rf'"(?P<ref>{_QUOTED})" "(?P<ua>{_QUOTED})" (?P<dur>\d+) "(?P<sid>-|[0-9a-f]{{26}})"'
)
REQUEST = re.compile(r"(?P<method>GET|HEAD|POST) (?P<target>/\S*) HTTP/(?:1\.1|2\.0)")


@dataclass
class Row:
    ip: str
    user: str
    ts: datetime
    offset: str
    method: str | None
    target: str | None
    status: int
    size: str
    ref: str
    ua: str
    dur: int
    sid: str


@dataclass
class Parsed:
    log: GeneratedLog
    rows: list[Row]
    bad: list[str]
    raw: bytes


def parse(raw: bytes) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    bad: list[str] = []
    for line in raw.decode("utf-8").split("\n")[:-1]:
        m = LINE.fullmatch(line)
        if m is None:
            bad.append(line)
            continue
        req = REQUEST.fullmatch(m["req"])
        rows.append(
            Row(
                ip=m["ip"],
                user=m["user"],
                ts=datetime.strptime(f"{m['t']} {m['off']}", "%d/%b/%Y:%H:%M:%S %z"),
                offset=m["off"],
                method=req["method"] if req else None,
                target=req["target"] if req else None,
                status=int(m["status"]),
                size=m["bytes"],
                ref=m["ref"],
                ua=m["ua"],
                dur=int(m["dur"]),
                sid=m["sid"],
            )
        )
    return rows, bad


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Parsed:
    path = tmp_path_factory.mktemp("loggen") / "access.log"
    log = generate_log(path, now=NOW, days=7, lines=20_000, seed=3)
    raw = path.read_bytes()
    rows, bad = parse(raw)
    return Parsed(log, rows, bad, raw)


def by_ip(demo: Parsed, ip: str) -> list[Row]:
    return [r for r in demo.rows if r.ip == ip]


# ---- shape -----------------------------------------------------------------------------


def test_constants() -> None:
    assert DEMO_FORMAT == '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D "%{sid}C"'
    assert DEMO_COOKIE == "sid"


def test_result_describes_the_file(demo: Parsed) -> None:
    log = demo.log
    assert log.lines == 20_000
    assert log.format == DEMO_FORMAT
    assert log.start == NOW - timedelta(days=7)
    assert log.end == NOW
    assert log.start.tzinfo is not None and log.end.utcoffset() == timedelta(0)


def test_line_count_and_final_newline(demo: Parsed) -> None:
    assert demo.raw.count(b"\n") == demo.log.lines
    assert demo.raw.endswith(b"\n")
    assert not demo.raw.endswith(b"\n\n")


def test_every_line_but_the_malformed_matches_the_format(demo: Parsed) -> None:
    assert len(demo.bad) == demo.log.malformed == 5
    assert "" in demo.bad  # an empty line
    assert len(demo.rows) + len(demo.bad) == demo.log.lines
    for row in demo.rows:
        ipaddress.ip_address(row.ip)
        assert row.offset == "+0100"
    # only the two deliberately odd requests ("-" on a timeout, a TLS handshake) are not HTTP
    odd = [r for r in demo.rows if r.method is None]
    assert sorted(r.status for r in odd) == [400, 408]


def test_timestamps_lie_in_the_window_and_are_roughly_ordered(demo: Parsed) -> None:
    start = NOW - timedelta(days=7)
    stamps = [r.ts for r in demo.rows]
    assert min(stamps) >= start
    assert max(stamps) <= NOW
    assert max(stamps) >= NOW - timedelta(hours=2)
    assert min(stamps) <= start + timedelta(hours=2)
    backwards = sum(1 for a, b in zip(stamps, stamps[1:], strict=False) if b < a)
    assert backwards < 0.05 * len(stamps)
    assert all(b >= a - timedelta(minutes=5) for a, b in zip(stamps, stamps[1:], strict=False))


def test_daily_rhythm(demo: Parsed) -> None:
    attackers = {demo.log.planted.flood_ip, demo.log.planted.bruteforce_ip, demo.log.planted.scanner_ip}
    hours = Counter(r.ts.hour for r in demo.rows if r.ip not in attackers)  # local (+0100) hours
    night = sum(hours[h] for h in (2, 3, 4, 5))
    evening = sum(hours[h] for h in (17, 18, 19, 20))
    assert evening > 3 * night > 0


# ---- determinism, options ------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a = generate_log(tmp_path / "a.log", now=NOW, lines=3_000, seed=11)
    b = generate_log(tmp_path / "b.log", now=NOW, lines=3_000, seed=11)
    c = generate_log(tmp_path / "c.log", now=NOW, lines=3_000, seed=12)
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.planted == b.planted
    assert a.path.read_bytes() != c.path.read_bytes()


def test_gzip_output_is_the_same_log_compressed(tmp_path: Path) -> None:
    plain = generate_log(tmp_path / "x.log", now=NOW, lines=2_000, seed=5)
    packed = generate_log(tmp_path / "x.log.gz", now=NOW, lines=2_000, seed=5, gzip=True)
    again = generate_log(tmp_path / "y.log.gz", now=NOW, lines=2_000, seed=5, gzip=True)
    with gzip.open(packed.path, "rb") as fh:
        assert fh.read() == plain.path.read_bytes()
    assert packed.path.read_bytes() == again.path.read_bytes()  # no mtime or name in the header


def test_offset_and_short_window(tmp_path: Path) -> None:
    now = datetime(2026, 3, 1, 9, 30, 15, 500_000, tzinfo=timezone(timedelta(hours=-5)))
    log = generate_log(tmp_path / "ny.log", now=now, days=1, lines=2_500, seed=2, utc_offset="-0530")
    rows, bad = parse(log.path.read_bytes())
    assert len(bad) == log.malformed
    assert {r.offset for r in rows} == {"-0530"}
    assert all(now - timedelta(days=1) <= r.ts <= now for r in rows)
    for _actor, first, last in log.planted.windows:
        assert now - timedelta(days=1) <= first <= last <= now
    assert log.end == now.astimezone(UTC)


def test_small_log_still_has_every_actor(tmp_path: Path) -> None:
    log = generate_log(tmp_path / "small.log", now=NOW, days=1, lines=200, seed=9)
    rows, bad = parse(log.path.read_bytes())
    assert len(rows) + len(bad) == 200 and len(bad) == log.malformed
    p = log.planted
    counts = Counter(r.ip for r in rows)
    assert counts[p.scanner_ip] >= 10 and counts[p.bruteforce_ip] >= 10 and counts[p.flood_ip] >= 20
    assert counts[p.injection_ip] >= 3 and all(counts[ip] for ip in p.ipv6_ips)
    scan = [r for r in rows if r.ip == p.scanner_ip]
    assert sum(r.status == 404 for r in scan) > 0.7 * len(scan)
    assert {"/wp-login.php", "/.env", "/phpmyadmin/"} <= {r.target for r in scan}
    assert sum(1 for ip in counts if ip not in {p.scanner_ip, p.bruteforce_ip, p.flood_ip}) > 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"now": datetime(2026, 11, 29, 14, 0)}, "timezone-aware"),
        ({"lines": 199}, "lines"),
        ({"days": 0}, "days"),
        ({"utc_offset": "+1"}, "utc_offset"),
    ],
)
def test_rejects_bad_arguments(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"now": NOW, **kwargs}
    with pytest.raises(ConfigError, match=message):
        generate_log(tmp_path / "bad.log", **args)  # type: ignore[arg-type]


# ---- realistic content ------------------------------------------------------------------


def test_sessions_share_ip_user_agent_and_cookie(demo: Parsed) -> None:
    per_sid: dict[str, set[tuple[str, str]]] = defaultdict(set)
    counts: Counter[str] = Counter()
    for r in demo.rows:
        if r.sid != "-":
            per_sid[r.sid].add((r.ip, r.ua))
            counts[r.sid] += 1
    assert all(len(v) == 1 for v in per_sid.values())  # one visitor per session cookie
    assert sum(1 for n in counts.values() if n >= 5) > 100
    assert sum(1 for r in demo.rows if r.sid == "-") > 0  # some visitors without cookie
    # a session is a page and its assets, then more pages some seconds or minutes later
    sid, _n = counts.most_common(1)[0]
    session = [r for r in demo.rows if r.sid == sid]
    assert any(r.target and r.target.startswith(("/css/", "/js/", "/img/")) for r in session)
    assert len({r.ts for r in session}) > 1
    spans: dict[str, list[datetime]] = defaultdict(list)
    for r in demo.rows:
        if r.sid != "-":
            spans[r.sid].append(r.ts)
    long_sessions = [s for s in spans.values() if max(s) - min(s) > timedelta(minutes=2)]
    assert len(long_sessions) > 50
    assert all(max(s) - min(s) < timedelta(hours=12) for s in spans.values())
    # returning visitors come back with a new session cookie from the same address
    sids_per_ip: dict[str, set[str]] = defaultdict(set)
    for r in demo.rows:
        if r.sid != "-":
            sids_per_ip[r.ip].add(r.sid)
    assert any(len(s) > 1 for s in sids_per_ip.values())


def test_mix_of_pages_assets_statuses_and_referrers(demo: Parsed) -> None:
    targets = Counter(r.target for r in demo.rows if r.target)
    for asset in ("/css/site.css", "/js/app.js", "/favicon.ico", "/img/logo.png"):
        assert targets[asset] > 50
    assert any(t.startswith("/products/") and t.count("/") == 3 for t in targets)
    assert any(t.startswith("/blog/") for t in targets)
    assert any(re.fullmatch(r"/img/\S+\.png", t) for t in targets)
    assert any("utm_source=" in t for t in targets)
    assert any(t.startswith("/search?q=") for t in targets)
    assert any(re.search(r"[?&]page=\d+$", t) for t in targets)
    assert len(targets) > 1_000  # many distinct paths, not a small set repeated

    statuses = Counter(r.status for r in demo.rows)
    assert statuses[200] > 0.8 * len(demo.rows)
    assert {200, 301, 302, 304, 404, 500} <= set(statuses)
    assert all(r.size == "-" for r in demo.rows if r.status == 304)
    assert all(r.size != "-" for r in demo.rows if r.status == 200 and r.method == "GET")
    # broken links: 404 pages reached from one of our own pages
    assert any(r.status == 404 and r.ref.startswith("https://www.example.com/") for r in demo.rows)

    refs = Counter(r.ref for r in demo.rows)
    assert refs["-"] > 0
    for engine in ("https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/"):
        assert refs[engine] > 0
    assert sum(n for ref, n in refs.items() if ref.startswith("https://www.example.com/")) > len(demo.rows) / 2


def test_user_agents_include_browsers_and_crawlers(demo: Parsed) -> None:
    uas = Counter(r.ua for r in demo.rows)
    joined = "\n".join(uas)
    for needle in ("Chrome/", "Firefox/", "Safari/", "Edg/", "Windows NT", "Macintosh", "Android", "iPhone",
                   "Linux x86_64", "Googlebot", "bingbot", "curl/"):  # fmt: skip
        assert needle in joined, needle
    assert len(uas) > 30
    assert {"GET", "POST", "HEAD"} <= {r.method for r in demo.rows}


def test_distinct_clients_scale_with_lines(demo: Parsed) -> None:
    ips = {r.ip for r in demo.rows}
    assert len(ips) > demo.log.lines / 10


def test_ipv6_clients(demo: Parsed) -> None:
    planted = demo.log.planted.ipv6_ips
    assert len(planted) >= 2
    seen = {r.ip for r in demo.rows}
    assert set(planted) <= seen
    v6 = {ip for ip in seen if ipaddress.ip_address(ip).version == 6}
    assert len(v6 - set(planted)) > 5  # IPv6 visitors in the background too
    assert sum(1 for r in demo.rows if r.ip in v6) < 0.1 * len(demo.rows)


# ---- planted actors ----------------------------------------------------------------------


def test_planted_addresses_are_distinct_and_not_used_by_others(demo: Parsed) -> None:
    p = demo.log.planted
    ips = [p.scanner_ip, p.bruteforce_ip, p.flood_ip, p.injection_ip]
    assert len(set(ips)) == 4
    for ip in ips:
        assert ipaddress.ip_address(ip).version == 4
        uas = {r.ua for r in by_ip(demo, ip)}
        assert len(uas) <= 3  # one actor each, not a shared address


def test_scanner_probes_well_known_paths_and_gets_404s(demo: Parsed) -> None:
    rows = by_ip(demo, demo.log.planted.scanner_ip)
    assert len(rows) >= 40
    targets = {r.target for r in rows}
    for probe in ("/wp-login.php", "/.env", "/phpmyadmin/", "/admin.php"):
        assert probe in targets
    assert any(t and t.startswith("/cgi-bin/") for t in targets)
    assert sum(r.status == 404 for r in rows) > 0.7 * len(rows)
    assert max(r.ts for r in rows) - min(r.ts for r in rows) <= timedelta(minutes=10)


def test_bruteforcer_posts_to_login(demo: Parsed) -> None:
    rows = by_ip(demo, demo.log.planted.bruteforce_ip)
    assert len(rows) >= 100
    assert {(r.method, r.target) for r in rows} == {("POST", "/login")}
    statuses = Counter(r.status for r in rows)
    assert set(statuses) == {401, 200} and statuses[401] > 0.9 * len(rows)
    assert max(r.ts for r in rows) - min(r.ts for r in rows) <= timedelta(minutes=15)


def test_flood_is_many_requests_in_a_few_minutes(demo: Parsed) -> None:
    rows = by_ip(demo, demo.log.planted.flood_ip)
    assert len(rows) >= 1_000
    assert all(r.method == "GET" for r in rows)
    assert max(r.ts for r in rows) - min(r.ts for r in rows) <= timedelta(minutes=2)


def test_injection_attempts_are_percent_encoded(demo: Parsed) -> None:
    rows = by_ip(demo, demo.log.planted.injection_ip)
    assert 3 <= len(rows) <= 20
    queries = [r.target.partition("?")[2] for r in rows if r.target and "?" in r.target]
    decoded = " ".join(unquote_plus(q) for q in queries)
    for payload in ("' OR 1=1--", "../../etc/passwd", "<script>"):
        assert payload in decoded, payload
    assert any("%27" in q for q in queries)  # encoded as sent, not decoded by the server
    assert not any(" " in q or "'" in q or "<" in q for q in queries)


def test_planted_windows_match_the_log(demo: Parsed) -> None:
    p = demo.log.planted
    ip_of = {"scanner": p.scanner_ip, "bruteforce": p.bruteforce_ip, "flood": p.flood_ip, "injection": p.injection_ip}
    assert {name for name, _, _ in p.windows} == set(ip_of)
    for name, first, last in p.windows:
        stamps = [r.ts for r in by_ip(demo, ip_of[name])]
        assert min(stamps) == first.replace(microsecond=0)
        assert max(stamps) == last.replace(microsecond=0)
        assert demo.log.start <= first <= last <= demo.log.end
