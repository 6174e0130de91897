"""The HTML report: panels, figures, escaping, no external reference; and in a real browser.

The fast tests read the HTML with :mod:`html.parser`. The browser test
(``integration``) opens the report in headless Chromium over the DevTools
protocol and checks what the page really does: it renders every panel with
the figures of ``stats.headline_stats``, logs no console error or CSP
violation, and makes no request: Chromium's ``Network`` events list only the
file itself, and every request that would leave the page goes to a recording
proxy that must see nothing (a control page with one remote image proves the
trap catches loads). A full-page screenshot is saved beside the report.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import socketserver
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import pytest

from accesslake.analytics import headline_stats
from accesslake.analytics.marts import build_marts
from accesslake.analytics.report import CSP, PANELS, write_report
from accesslake.config import Settings
from accesslake.demo import run_demo
from accesslake.errors import ConfigError
from accesslake.ingest import ingest_file
from accesslake.storage import writer_lock

NOW = datetime(2026, 11, 29, 2, 30, tzinfo=UTC)

#: Attributes through which HTML loads or links to something.
URL_ATTRIBUTES = {"href", "src", "srcset", "action", "formaction", "poster", "data", "background", "cite",
                  "ping", "xlink:href", "manifest", "codebase", "longdesc", "usemap"}
#: Elements that load something or run code; none may appear.
LOADING_TAGS = {"script", "img", "iframe", "frame", "object", "embed", "audio", "video", "source", "track",
                "base", "form", "input", "picture", "portal", "applet"}


@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three nights of the demo (about 6,000 requests): anonymised days, a hold, bots, 404s."""
    lake = tmp_path_factory.mktemp("report") / "lake"
    run_demo(Settings(lake=lake), NOW, lines=6000, days=3)
    return lake


class Page(HTMLParser):
    """Every tag with its attributes, the text, and the panels with their data-value elements."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.style = ""
        self._in_style = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_style = tag == "style"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data
        else:
            self.text.append(data)

    def ids(self, tag: str) -> list[str]:
        return [a["id"] for t, a in self.tags if t == tag and "id" in a]

    def values(self, key: str) -> list[str]:
        """The data-value inside the element with data-key=key (tiles): the next one in document order."""
        found = False
        out = []
        for _, attrs in self.tags:
            if attrs.get("data-key") == key:
                if "data-value" in attrs:
                    out.append(attrs["data-value"])
                    continue
                found = True
            elif found and "data-value" in attrs:
                out.append(attrs["data-value"])
                found = False
        return out


def assert_self_contained(text: str) -> Page:
    page = Page(text)
    metas = [a for t, a in page.tags if t == "meta" and a.get("http-equiv", "").lower() == "content-security-policy"]
    assert [m["content"] for m in metas] == [CSP]
    assert "default-src 'none'" in CSP and "script-src" not in CSP
    for tag, attrs in page.tags:
        assert tag not in LOADING_TAGS, f"<{tag} {attrs}> loads or runs something"
        if tag == "link":
            assert attrs.get("rel") == "icon" and attrs.get("href", "").startswith("data:"), attrs
        for name, value in attrs.items():
            if name in URL_ATTRIBUTES:
                assert value.startswith("#") or value.startswith("data:"), f"<{tag} {name}={value!r}>"
            assert not name.startswith("on"), f"<{tag} {name}=...>: event handler"
            assert "url(" not in value.lower() or name == "title", f"<{tag} {name}={value!r}>"
    assert "url(" not in page.style.lower() and "@import" not in page.style.lower()
    # Any http(s) address in the file is text shown to the reader (a data value), never a reference.
    shown = "".join(page.text) + "".join(a.get("title", "") + a.get("aria-label", "") for _, a in page.tags)
    for scheme in ("http://", "https://"):
        assert text.lower().count(scheme) == shown.lower().count(scheme)
    return page


# ---------------------------------------------------------------- fast tests


def test_report_has_every_panel_and_the_headline_of_the_stats_command(demo_lake: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = write_report(Settings(lake=demo_lake), out, now=NOW)

    text = out.read_text(encoding="utf-8")
    page = assert_self_contained(text)
    assert page.ids("section") == list(PANELS)
    stats = headline_stats(demo_lake)
    assert stats["requests"] > 5000
    for key in ("requests", "page_views", "visits", "unique_visitors", "bytes"):
        assert page.values(key) == [str(stats[key])], key
    assert page.values("error_rate") == [repr(stats["error_rate"])]
    assert page.values("bot_share") == [repr(stats["bot_share"])]
    assert "GoAccess" in "".join(page.text)
    assert result.requests == stats["requests"] and result.days == stats["days"] and not result.is_empty
    assert result.start == str(stats["per_day"][0]["date"]) and result.size_bytes == len(text.encode())
    assert result.panels == list(PANELS)


def test_report_of_one_day_matches_that_day(demo_lake: Path, tmp_path: Path) -> None:
    day = date(2026, 11, 28)
    out = tmp_path / "day.html"
    result = write_report(Settings(lake=demo_lake), out, now=NOW, site="default", start=day, end=day, top=5)

    page = Page(out.read_text(encoding="utf-8"))
    stats = headline_stats(demo_lake, site="default", start=day, end=day)
    assert page.values("requests") == [str(stats["requests"])]
    assert page.values("unique_visitors") == [str(stats["unique_visitors"])]
    assert (result.days, result.start, result.end) == (1, "2026-11-28", "2026-11-28")
    assert "still in progress" not in "".join(page.text)


def test_report_names_the_days_with_approximate_visitor_figures(demo_lake: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(demo_lake, lake)
    part = lake / "marts" / "daily_traffic" / "site=default" / "date=2026-11-27" / "part-0.parquet"
    con = duckdb.connect()
    con.execute(
        "copy (select * replace (true as is_approximate) from read_parquet($src)) to $dst (format parquet)",
        {"src": str(part), "dst": str(part.with_name("approx.parquet"))},
    ).fetchall()
    part.with_name("approx.parquet").replace(part)
    out = tmp_path / "approx.html"

    write_report(Settings(lake=lake), out, now=NOW)

    page = Page(out.read_text(encoding="utf-8"))
    assert page.values("approximate_days") == ["1"]
    assert "visitor figures (visitors, visits, bounces, entry/exit pages, campaigns, referring pages) of 2026-11-27 " \
        "were rebuilt after the day was anonymised" in "".join(page.text)
    flags = [a["data-value"] for t, a in page.tags if t == "td" and a.get("data-value") in ("true", "false")]
    assert flags.count("true") == 1


def test_report_escapes_what_the_logs_contain(settings: Settings, tmp_path: Path) -> None:
    log = tmp_path / "hostile.log"
    lines = [
        '203.0.113.5 - - [28/Nov/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 900 "-" "Mozilla/5.0"',
        '203.0.113.5 - - [28/Nov/2026:10:00:01 +0000] "GET /site.css HTTP/1.1" 200 90 '
        '"https://www.site.example/index.html" "Mozilla/5.0"',
        '203.0.113.5 - - [28/Nov/2026:10:00:02 +0000] "GET /<script>alert(1)</script> HTTP/1.1" 404 12 '
        '"https://www.site.example/<b>page</b>" "Mozilla/5.0 <script>"',
        "203.0.113.6 - - [28/Nov/2026:10:00:03 +0000] \"GET /'><img/src=http://evil.example/x.png/onerror=alert(1)> "
        'HTTP/1.1" 404 0 "https://evil.example/<script>alert(2)</script>" "curl/8.0"',
        '203.0.113.7 - - [28/Nov/2026:10:00:04 +0000] "GET http://evil.example/proxy-probe HTTP/1.1" 502 0 "-" '
        '"curl/8.0"',
        '203.0.113.8 - - [28/Nov/2026:10:00:05 +0000] "GET /?utm_source=%3Cscript%3E&utm_campaign=%3Ci%3Ex HTTP/1.1" '
        '200 500 "-" "Mozilla/5.0"',
    ]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with writer_lock(settings.lake):
        ingest_file(log, settings, NOW, fmt="combined")
        build_marts(settings, NOW)
    out = tmp_path / "hostile.html"

    write_report(settings, out, now=NOW)

    text = out.read_text(encoding="utf-8")
    page = assert_self_contained(text)
    shown = "".join(page.text)
    assert "/<script>alert(1)</script>" in shown and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script" not in text.lower() and "<img" not in text.lower() and "<b>page" not in text
    assert "http://evil.example/proxy-probe" in shown  # a request line shown as text, not a link
    assert "<script>" in shown  # the utm_source, decoded, shown as text


def test_report_of_an_empty_lake_says_so(settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "empty.html"

    result = write_report(settings, out, now=NOW)

    page = assert_self_contained(out.read_text(encoding="utf-8"))
    assert page.ids("section") == list(PANELS)
    assert "empty-notice" in page.ids("p") and "no statistics yet" in "".join(page.text)
    assert page.values("requests") == []  # no figure at all, rather than zeros that look measured
    assert (result.is_empty, result.requests, result.days) == (True, 0, 0)


def test_report_of_an_unknown_site_names_the_known_ones(demo_lake: Path, tmp_path: Path) -> None:
    out = tmp_path / "nosite.html"

    result = write_report(Settings(lake=demo_lake), out, now=NOW, site="shop")

    text = "".join(Page(out.read_text(encoding="utf-8")).text)
    assert result.is_empty and "No data for site 'shop'" in text and "Sites in the lake: default" in text


PERSIAN = "/%D9%85%D8%AD%D8%B5%D9%88%D9%84/%DA%A9%D9%81%D8%B4"  # /محصول/کفش
POLYFILL = "/amp_preconnect_polyfill_404_or_other_error_expected._Do_not_worry_about_it"


def line(ip: str, minute: int, target: str, status: int, agent: str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
         method: str = "GET", referrer: str = "-") -> str:
    return (f'{ip} - - [28/Nov/2026:10:{minute:02d}:00 +0100] "{method} {target} HTTP/1.1" {status} 100 '
            f'"{referrer}" "{agent}"')


@pytest.fixture
def zanbil_like(settings: Settings, tmp_path: Path) -> Path:
    """What the zanbil, elastic and secrepo logs showed, in a few literal lines (issue 14)."""
    lines = [line(f"198.51.100.{n}", n, PERSIAN, 200) for n in range(1, 6)]
    lines += [line(f"198.51.100.{n}", n + 10, POLYFILL, 404) for n in range(1, 6)] * 3  # 15 404s, after the page
    lines += [line("198.51.100.9", 30, "/", 200, method="HEAD") for _ in range(8)]  # HEAD is no page view
    lines += [line("198.51.100.7", 40 + n, "/feed.rss", 200,
                   agent="UniversalFeedParser/4.2-pre-314-svn +http://feedparser.org/") for n in range(6)]
    lines += [line("198.51.100.8", 50, "/", 200, referrer="https://r.duckduckgo.com/")]
    log = tmp_path / "zanbil-like.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with writer_lock(settings.lake):
        ingest_file(log, settings, NOW, fmt="combined")
        build_marts(settings, NOW)
    out = tmp_path / "zanbil-like.html"
    write_report(settings, out, now=NOW)
    return out


def section(text: str, panel: str) -> str:
    return html.unescape(text.split(f'id="{panel}"', 1)[1].split("</section>", 1)[0])


def test_report_shows_persian_paths_decoded(zanbil_like: Path) -> None:
    text = zanbil_like.read_text(encoding="utf-8")
    assert_self_contained(text)
    pages = section(text, "pages")
    assert "/محصول/کفش" in pages and "%D9" not in pages.upper()


def test_report_never_lists_a_404_as_a_page_or_an_exit_page(zanbil_like: Path) -> None:
    text = zanbil_like.read_text(encoding="utf-8")
    assert POLYFILL not in section(text, "pages") and POLYFILL not in section(text, "entry-exit")
    assert POLYFILL in section(text, "broken-links")  # errors have their own panel
    page = Page(text)
    assert page.values("page_views") == ["6"]  # 5 Persian page views and the DuckDuckGo visit: no HEAD, no feed


def test_report_shows_feed_readers_as_automated_and_says_which_days(zanbil_like: Path) -> None:
    text = zanbil_like.read_text(encoding="utf-8")
    automated = section(text, "crawlers")
    assert "Feed readers" in automated and "People" in automated
    assert "DuckDuckGo" in section(text, "search-engines")
    notes = [a for t, a in Page(text).tags if t == "p" and a.get("class") == "days"]
    assert len(notes) == len(PANELS)
    assert "Days and hours: local time in Europe/Berlin." in "".join(Page(text).text)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": date(2026, 11, 28), "end": date(2026, 11, 27)},
         "--from 2026-11-28 is after --to 2026-11-27; give a start day on or before the end day"),
        ({"top": 0}, "top: 0 rows per table; give 1 or more"),
    ],
)
def test_report_rejects_bad_options(settings: Settings, tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        write_report(settings, tmp_path / "r.html", now=NOW, **kwargs)
    assert str(err.value) == message
    assert not (tmp_path / "r.html").exists()


# ---------------------------------------------------------------- in a browser

CHROMIUM = os.environ.get("ACCESSLAKE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--disable-extensions", "--disable-default-apps",
    "--no-default-browser-check", "--hide-scrollbars", "--mute-audio", "--disable-dev-shm-usage",
    "--disable-breakpad", "--disable-domain-reliability", "--disable-client-side-phishing-detection",
    "--disable-component-extensions-with-background-pages", "--disable-field-trial-config", "--metrics-recording-only",
    "--password-store=basic",
    "--disable-features=Translate,MediaRouter,OptimizationHints,OptimizationHintsFetching,"
    "OptimizationGuideModelDownloading,NetworkTimeServiceQuerying,AutofillServerCommunication",
    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
]
#: Chromium's own service calls (sign-in, updater), made whatever page is open and despite the flags
#: above. They reach the proxy too; the test ignores them only after checking that the report does not
#: name their host, so the page cannot be the one asking for them.
BROWSER_SERVICE = re.compile(
    r"^(?:CONNECT |[A-Z]+ http://)(accounts\.google\.com|clients\d*\.google\.com|[a-z0-9-]+\.googleapis\.com"
    r"|[a-z0-9-]+\.gvt1\.com)[:/]"
)


class _Recorder(socketserver.ThreadingTCPServer):
    """A proxy that answers nothing: it records the first line of every connection."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.seen: list[str] = []
        super().__init__(("127.0.0.1", 0), _RecordHandler)


class _RecordHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline(4096).decode("latin-1").strip()
        self.server.seen.append(line)  # type: ignore[attr-defined]
        self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


class DevTools:
    """Just enough of the Chrome DevTools protocol: commands, and the events seen meanwhile."""

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(url, max_size=None, open_timeout=20)
        self.events: list[dict[str, Any]] = []
        self._id = 0

    def __call__(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.01)))
            if message.get("id") == self._id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            self.events.append(json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.01))))
        return next(e for e in self.events if e.get("method") == event)

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[tuple[DevTools, _Recorder]]:
    """Headless Chromium with a fresh profile, all traffic through the recording proxy."""
    if CHROMIUM is None:
        pytest.fail("chromium not found: install it (apt-get install chromium) or set ACCESSLAKE_CHROMIUM")
    proxy = _Recorder()
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    profile = tmp_path / "chromium-profile"
    stderr = (tmp_path / "chromium.log").open("wb")
    process = subprocess.Popen(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
         f"--proxy-server=http://127.0.0.1:{proxy.server_address[1]}", "--proxy-bypass-list=<-loopback>",
         "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
    )
    devtools = None
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and len(port_file.read_text().split()) >= 2):
            assert process.poll() is None, (tmp_path / "chromium.log").read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "chromium did not open its DevTools port in 30 s"
            time.sleep(0.05)
        port = port_file.read_text().split()[0]
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # ignore any *_proxy variable
        with opener.open(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            targets = json.load(response)
        page = next(t for t in targets if t["type"] == "page")
        devtools = DevTools(page["webSocketDebuggerUrl"])
        yield devtools, proxy
    finally:
        if devtools is not None:
            devtools.close()
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)
        stderr.close()
        proxy.shutdown()
        proxy.server_close()


_PROBE = """JSON.stringify({
  panels: [...document.querySelectorAll('section.panel')].map(s => ({
    id: s.id, height: s.getBoundingClientRect().height, text: s.innerText.length})),
  tiles: Object.fromEntries([...document.querySelectorAll('.tile[data-key]')].map(t =>
    [t.dataset.key, t.querySelector('[data-value]').dataset.value])),
  shown: Object.fromEntries([...document.querySelectorAll('.tile[data-key]')].map(t =>
    [t.dataset.key, t.querySelector('.value').innerText])),
  svgs: document.querySelectorAll('svg').length,
  scripts: document.scripts.length,
  resources: performance.getEntriesByType('resource').map(r => r.name),
  csp: window.__csp || [],
  width: document.documentElement.scrollWidth,
})"""


def _open(devtools: DevTools, url: str) -> dict[str, Any]:
    devtools("Page.navigate", url=url)
    devtools.wait_for("Page.loadEventFired")
    devtools("Runtime.evaluate", expression="new Promise(r => requestAnimationFrame(() => setTimeout(r, 100)))",
             awaitPromise=True)
    return json.loads(devtools("Runtime.evaluate", expression=_PROBE, returnByValue=True)["result"]["value"])


def _problems(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            out.append(f"exception: {params['exceptionDetails'].get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
            out.append(f"console.{params['type']}: {[a.get('value') for a in params.get('args', [])]}")
        elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            out.append(f"log {params['entry']['level']}: {params['entry']['text']}")
    return out


@pytest.mark.integration
def test_report_in_headless_chromium(
    demo_lake: Path, tmp_path: Path, browser: tuple[DevTools, _Recorder]
) -> None:
    devtools, proxy = browser
    out = tmp_path / "report.html"
    write_report(Settings(lake=demo_lake), out, now=NOW)
    for domain in ("Page", "Runtime", "Log", "Network"):
        devtools(f"{domain}.enable")
    devtools("Page.addScriptToEvaluateOnNewDocument", source=(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"))
    devtools("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)

    # Control: the harness does see a page that loads something (else "no request" proves nothing).
    control = tmp_path / "control.html"
    control.write_text('<!DOCTYPE html><title>c</title><img src="http://control.invalid/pixel.png">', encoding="utf-8")
    _open(devtools, control.as_uri())
    deadline = time.monotonic() + 10
    while not any("control.invalid" in line for line in proxy.seen) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any("control.invalid" in line for line in proxy.seen), proxy.seen
    devtools.events.clear()
    proxy.seen.clear()

    probe = _open(devtools, out.as_uri())

    stats = headline_stats(demo_lake)
    assert [p["id"] for p in probe["panels"]] == list(PANELS)
    assert all(p["height"] > 40 and p["text"] > 20 for p in probe["panels"]), probe["panels"]
    for key in ("requests", "page_views", "visits", "unique_visitors", "bytes"):
        assert probe["tiles"][key] == str(stats[key]), key
    assert probe["shown"]["requests"] == f"{stats['requests']:,}"
    assert probe["svgs"] >= 8 and probe["scripts"] == 0
    assert probe["width"] <= 1280, "the page scrolls sideways"
    requests = [e["params"]["request"]["url"] for e in devtools.events
                if e.get("method") == "Network.requestWillBeSent"]
    assert requests == [out.as_uri()]
    assert probe["resources"] == [] and probe["csp"] == []
    assert _problems(devtools.events) == []
    time.sleep(0.3)
    html_text = out.read_text(encoding="utf-8")
    service = [m.group(1) for m in map(BROWSER_SERVICE.match, proxy.seen) if m]
    assert not [host for host in service if host in html_text]
    assert [line for line in proxy.seen if not BROWSER_SERVICE.match(line)] == []

    size = devtools("Page.getLayoutMetrics")["cssContentSize"]
    shot = devtools("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                    clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
    png = tmp_path / "report.png"
    png.write_bytes(base64.b64decode(shot["data"]))
    assert png.stat().st_size > 50_000 and size["height"] > 3000
    if os.environ.get("ACCESSLAKE_REPORT_SHOTS"):  # keep the page and its picture to look at
        keep = Path(os.environ["ACCESSLAKE_REPORT_SHOTS"])
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(out, keep / "report.html")
        shutil.copy(png, keep / "report.png")


@pytest.mark.parametrize("kind", ["folder", "symlink", "fifo"])
def test_the_report_never_replaces_what_is_not_a_regular_file(settings: Settings, tmp_path: Path, kind: str) -> None:
    """`--out /dev/full` run as root must not turn the device into a file: anything but a regular file is refused."""
    target = tmp_path / "r.html"
    if kind == "folder":
        target.mkdir()
    elif kind == "symlink":
        (tmp_path / "elsewhere.txt").write_text("keep me\n", encoding="utf-8")
        target.symlink_to(tmp_path / "elsewhere.txt")
    else:
        os.mkfifo(target)
    with pytest.raises(ConfigError, match="exists and is not a regular file"):
        write_report(settings, target, now=NOW)
    assert (target.is_dir() if kind == "folder" else target.is_symlink() if kind == "symlink" else target.is_fifo())
    assert kind != "symlink" or (tmp_path / "elsewhere.txt").read_text(encoding="utf-8") == "keep me\n"
