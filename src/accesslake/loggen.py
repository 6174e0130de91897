"""Synthetic web access logs for ``accesslake demo``, the tests and the benchmark.

:func:`generate_log` writes an Apache access log in :data:`DEMO_FORMAT` (the
``combined`` format plus ``%D``, the time to serve in microseconds, and the
``sid`` session cookie) for a fictitious shop with a blog at
``https://www.example.com``. No network and no external data are used; the
output is a pure function of the arguments (same ``seed`` and ``now``, same
bytes, gzip included).

What is in it
-------------
* **Background traffic** with a daily rhythm in the log's own offset (quiet
  nights, busy evenings, slightly fewer visits at weekends). Visitors come in
  sessions: the same IP, User-Agent and ``sid`` cookie (about 12% of browsers
  send no cookie, ``-``) make a few page views separated by think times of
  seconds to minutes, each page followed by its static assets (CSS, JS, logo,
  web font, favicon, product and blog images); returning visitors revalidate
  cached assets (``304``, size ``-``). About 8% of sessions are returning
  visitors (same IP and User-Agent as an earlier session, new ``sid``); the
  number of distinct client addresses is roughly ``lines / 6`` (about
  165,000 for a million lines).
* Pages from a catalogue that grows with ``lines`` (home, static pages,
  categories, products ``/products/<category>/<slug>-<id>``, blog posts
  ``/blog/<yyyy>/<mm>/<slug>/``, tags, search with ``?q=``, listings with
  ``?page=N``, landing pages with ``utm_*`` campaign parameters), some
  redirects (301/302), some dead links (404 reached from an internal referrer),
  a few 500s, ``POST /login``, ``POST /cart/add``.
* Referrers: ``-``, search engines (``https://www.google.com/``, ``.de``,
  Bing, DuckDuckGo, Ecosia), external sites, an Android app referrer and
  internal ``https://www.example.com/...`` referrers.
* User-Agents: current Chrome, Firefox, Safari, Edge and Samsung Internet on
  Windows, macOS, Linux, Android and iOS; Googlebot (desktop and smartphone,
  from 66.249.64.0/20), bingbot, ``curl`` (often ``HEAD``). About 4% of
  browser visitors use IPv6. A few staff members browse ``/admin/`` with HTTP
  basic auth, so ``%u`` is sometimes set.
* A few lines that are valid for the format but odd: a ``408`` with request
  ``-``, a TLS handshake sent to the plain HTTP port (request logged as
  ``\\x16\\x03\\x01...``) and a User-Agent containing an escaped quote ``\\"``.
* **Planted actors** (see :class:`Planted`), all relative to ``now``: a
  vulnerability scanner (``now - 20 h``, up to 74 probes in under 10 minutes,
  mostly 404), a password brute-forcer (``now - 16 h``, up to 400
  ``POST /login`` in under 15 minutes, 401 then 200), a request flood
  (``now - 12 h``, up to 3,000 GETs in under two minutes, 503s once the site
  struggles) and an injection attempt (``now - 8 h``, a few requests with
  ``' OR 1=1--``, ``../../etc/passwd`` and ``<script>`` percent-encoded in
  the query string) plus three planted IPv6 visitors. Attackers use the
  TEST-NET ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) and the
  planted IPv6 visitors 2001:db8::/32, which the background never uses.
* Exactly five malformed lines (``GeneratedLog.malformed``): an empty line, a
  truncated line, an Apache error-log line, a line with an ISO timestamp and
  two lines glued together. The file always ends with a newline.

Lines are written in the order a server writes them, by completion time
(request time + ``%D``), so a small fraction is slightly out of order; slow
responses are the usual cause. ``%t`` has one-second resolution and every
timestamp lies in ``[now - days, now]``.

Speed: everything is vectorised (NumPy draws, Polars string building) and
written in chunks of 250,000 lines (each chunk one slice of the time window),
so memory stays flat at about 0.6 GB; about 3 s per million lines (plain) or
5 s (gzip, level 1) on two cores. ``python -m accesslake.loggen OUT [LINES]``
writes a log ending now.
"""

from __future__ import annotations

import gzip as _gzip
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Final, cast

import numpy as np
import polars as pl
from numpy.typing import NDArray

from accesslake.errors import ConfigError

__all__ = ["DEMO_COOKIE", "DEMO_FORMAT", "GeneratedLog", "Planted", "generate_log"]

DEMO_FORMAT: Final[str] = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D "%{sid}C"'
"""The Apache ``LogFormat`` of the generated log."""

DEMO_COOKIE: Final[str] = "sid"
"""Name of the session cookie logged by ``%{sid}C``."""

SITE: Final[str] = "https://www.example.com"

_US: Final = 1_000_000
_CHUNK_LINES: Final = 250_000
_MIN_LINES: Final = 200
_MALFORMED: Final = 5
_CELL_US: Final = 60 * _US

I64 = NDArray[np.int64]
U64 = NDArray[np.uint64]
F64 = NDArray[np.float64]
BoolA = NDArray[np.bool_]


# --------------------------------------------------------------------------------------
# Public results
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Planted:
    """The attackers (and IPv6 visitors) planted in a generated log.

    * ``scanner_ip``: ``clip(lines // 20, 10, 74)`` probes (``/wp-login.php``,
      ``/.env``, ``/phpmyadmin/``, ``/cgi-bin/...``, ``/admin.php``...) 2-7.5 s
      apart, about 88% of them 404; starts at ``now - 20 h``.
    * ``bruteforce_ip``: ``clip(lines // 40, 10, 400)`` ``POST /login`` 1-3 s
      apart, all 401 except two 200 at the end; starts at ``now - 16 h``.
    * ``flood_ip``: ``clip(lines // 10, 20, 3000)`` GETs within 110 s, about a
      fifth answered 503; starts at ``now - 12 h``.
    * ``injection_ip``: 8 requests with SQL injection, path traversal and XSS
      payloads in the query, plus one with ``<script>`` in the User-Agent;
      starts at ``now - 8 h``.
    * ``ipv6_ips``: three planted IPv6 visitors in 2001:db8::/32 (full,
      ``::``-compressed and short forms) with cookie sessions, between
      ``now - 6 h`` and ``now - 3 h``. The background has other IPv6 clients.
    * ``windows``: ``(actor, first, last)`` with the UTC times of the first and
      last request of ``scanner``, ``bruteforce``, ``flood`` and ``injection``.
    """

    scanner_ip: str
    bruteforce_ip: str
    flood_ip: str
    injection_ip: str
    ipv6_ips: tuple[str, ...]
    windows: tuple[tuple[str, datetime, datetime], ...] = field(default=())


@dataclass(frozen=True)
class GeneratedLog:
    """What :func:`generate_log` wrote.

    ``start`` and ``end`` are the covered window ``[now - days, now]`` in UTC;
    ``lines`` counts every line (malformed ones included), ``malformed`` the
    lines that are deliberately not valid for ``format``.
    """

    path: Path
    lines: int
    malformed: int
    start: datetime
    end: datetime
    planted: Planted
    format: str


# --------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------

_CATEGORIES = (
    "shoes", "jackets", "bags", "backpacks", "watches", "lamps", "chairs", "tables",
    "mugs", "notebooks", "headphones", "bikes", "tents", "knives",
)  # fmt: skip
_ADJ = (
    "classic", "urban", "alpine", "compact", "vintage", "light", "modern", "rustic",
    "nordic", "smart", "solid", "soft", "bold", "slim", "tough", "quiet", "bright",
    "waxed", "merino", "oak", "walnut", "steel", "linen", "canvas", "leather", "bamboo",
    "trail", "city", "travel", "studio", "coastal", "midnight", "forest", "desert",
    "arctic", "everyday", "pro", "mini", "grand", "retro",
)  # fmt: skip
_NOUN = (
    "runner", "parka", "tote", "daypack", "chronograph", "pendant", "stool", "desk",
    "cup", "journal", "earbuds", "roadster", "dome", "chef", "sneaker", "shell",
    "duffel", "rucksack", "diver", "lantern", "armchair", "bench", "tumbler", "planner",
    "headset", "gravel", "shelter", "paring", "loafer", "vest", "messenger", "sling",
    "field", "spotlight", "rocker", "console", "kettle", "sketchbook", "speaker", "cruiser",
)  # fmt: skip
_WORDS = (
    "how", "to", "choose", "the", "best", "guide", "care", "for", "your", "new",
    "winter", "summer", "spring", "autumn", "travel", "hiking", "commute", "office",
    "home", "gift", "ideas", "under", "budget", "review", "vs", "comparison", "tips",
    "tricks", "repair", "clean", "leather", "canvas", "waterproof", "lightweight",
    "sustainable", "materials", "story", "behind", "design", "making", "of", "our",
    "workshop", "team", "interview", "sale", "black", "friday", "christmas", "checklist",
    "packing", "list", "weekend", "trip", "city", "mountain", "coffee", "desk", "setup",
    "lamp", "reading", "light", "chair", "ergonomic", "posture", "watch", "strap",
    "battery", "size", "fit", "chart", "returns", "shipping", "europe", "germany",
    "berlin", "hamburg", "munich", "vienna", "zurich", "craft", "vintage", "classic",
    "modern", "minimal", "colour", "green", "navy", "olive", "sand", "grey", "red",
    "shoes", "jacket", "bag", "backpack", "tent", "knife", "sharpen", "bike", "gravel",
    "route", "camping", "bushcraft", "kitchen", "mug", "notebook", "pen", "headphones",
    "noise", "cancelling", "wireless", "update", "changelog", "news", "launch",
)  # fmt: skip

# Public /8 networks the background uses (no private, loopback, CGNAT, link-local,
# multicast, or the 192/198/203 blocks that hold the TEST-NETs the attackers use).
_EXCLUDED_FIRST_OCTETS = {0, 10, 100, 127, 169, 172, 192, 198, 203}
_FIRST_OCTETS = np.array([o for o in range(1, 224) if o not in _EXCLUDED_FIRST_OCTETS], dtype=np.int64)
_IPV6_PREFIXES = (
    "2a02:8108", "2003:ea", "2a01:c22", "2a02:810d", "2001:16b8", "2a0a:a540",
    "2a00:20", "2a02:3100", "2600:1700", "2607:fb90", "2a01:e0a", "2a02:908",
)  # fmt: skip
_BING_NETS = ("157.55.39", "40.77.167", "207.46.13", "52.167.144")

# ---- User-Agents -------------------------------------------------------------------

_CHROME_V = tuple(str(v) for v in range(134, 143))
_FIREFOX_V = tuple(str(v) for v in range(139, 146))
_SAFARI_V = ("17.6", "18.5", "18.6", "26.0", "26.1")
_UA_TEMPLATES: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/{v}.0.0.0 Safari/537.36", _CHROME_V, 24.0),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/{v}.0.0.0 Safari/537.36", _CHROME_V, 7.0),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/{v}.0.0.0 Safari/537.36", _CHROME_V, 2.0),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/{v}.0.0.0 Mobile Safari/537.36", _CHROME_V, 18.0),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0", _CHROME_V, 7.0),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", _FIREFOX_V, 5.0),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", _FIREFOX_V, 1.2),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", _FIREFOX_V, 1.0),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", _FIREFOX_V, 0.6),
    ("Mozilla/5.0 (Android 15; Mobile; rv:{v}.0) Gecko/{v}.0 Firefox/{v}.0", _FIREFOX_V, 0.8),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/{v} Safari/605.1.15", _SAFARI_V, 6.0),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS {u} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/{v} Mobile/15E148 Safari/604.1", _SAFARI_V, 17.0),
    ("Mozilla/5.0 (iPad; CPU OS {u} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/{v} Mobile/15E148 Safari/604.1", _SAFARI_V, 2.5),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "CriOS/{v}.0.7390.96 Mobile/15E148 Safari/604.1", _CHROME_V, 2.0),
    ("Mozilla/5.0 (Linux; Android 15; SAMSUNG SM-S931B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/28.0 Chrome/{v}.0.0.0 Mobile Safari/537.36", _CHROME_V, 3.0),
)  # fmt: skip
_UA_GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
_UA_GOOGLEBOT_MOBILE = (
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/141.0.7390.122 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)
_UA_BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
_UA_CURL = ("curl/8.5.0", "curl/7.88.1", "curl/8.14.1", "curl/7.81.0")


def _ua_table() -> tuple[list[str], F64]:
    """Browser User-Agents (newer versions more common) and their weights."""
    uas: list[str] = []
    weights: list[float] = []
    for template, versions, share in _UA_TEMPLATES:
        ramp = np.array([1.7**i for i in range(len(versions))])
        ramp /= ramp.sum()
        for version, w in zip(versions, ramp, strict=True):
            uas.append(template.format(v=version, u=version.replace(".", "_")))
            weights.append(share * float(w))
    arr = np.array(weights)
    return uas, arr / arr.sum()


_BROWSER_UAS, _BROWSER_UA_P = _ua_table()
_UA_ALL = pl.Series(
    "ua", [*_BROWSER_UAS, _UA_GOOGLEBOT, _UA_GOOGLEBOT_MOBILE, _UA_BINGBOT, *_UA_CURL], dtype=pl.String
)
_UA_IDX_GOOGLEBOT = len(_BROWSER_UAS)
_UA_IDX_BINGBOT = len(_BROWSER_UAS) + 2
_UA_IDX_CURL = len(_BROWSER_UAS) + 3
_BROWSER_UA_CDF = np.cumsum(_BROWSER_UA_P)

# ---- Referrers for the first page of a browser session -------------------------------

_LANDING_REFERRERS: tuple[tuple[str, str, float], ...] = (
    ("-", "", 30.0),
    ("https://www.google.com/", "", 19.0),
    ("https://www.google.de/", "", 10.0),
    ("https://www.bing.com/", "", 5.0),
    ("https://duckduckgo.com/", "", 4.0),
    ("https://www.ecosia.org/", "", 1.0),
    ("https://news.ycombinator.com/", "", 1.2),
    ("https://www.reddit.com/", "", 1.5),
    ("https://www.reddit.com/r/BuyItForLife/comments/1p2x7qk/best_everyday_backpack/", "", 0.6),
    ("https://t.co/", "", 1.0),
    ("https://www.facebook.com/", "", 2.0),
    ("https://www.pinterest.com/", "", 1.0),
    ("https://github.com/", "", 0.4),
    ("https://forum.example.org/threads/which-bag-for-travel.4711/", "", 0.8),
    ("https://blog.example.net/2026/gift-guide/", "", 0.8),
    ("android-app://com.google.android.gm/", "", 0.5),
    ("-", "utm_source=newsletter&utm_medium=email&utm_campaign=weekly_digest", 4.0),
    ("https://l.facebook.com/", "utm_source=facebook&utm_medium=paid_social&utm_campaign=black_friday", 3.0),
    ("https://www.instagram.com/", "utm_source=instagram&utm_medium=social&utm_campaign=black_friday", 2.0),
    ("https://www.google.com/", "utm_source=google&utm_medium=cpc&utm_campaign=brand", 3.0),
    ("https://www.linkedin.com/", "utm_source=linkedin&utm_medium=social&utm_campaign=b2b_launch", 0.7),
)
_REF_P = np.array([w for _, _, w in _LANDING_REFERRERS])
_REF_CDF = np.cumsum(_REF_P / _REF_P.sum())
_REF_UTM_FLAG = np.array([bool(u) for _, _, u in _LANDING_REFERRERS])

# ---- Assets ---------------------------------------------------------------------------

_COMMON_ASSETS: tuple[tuple[str, int], ...] = (
    ("/css/site.css", 48_213),
    ("/js/app.js", 131_587),
    ("/img/logo.png", 9_120),
    ("/fonts/inter-var.woff2", 48_256),
    ("/favicon.ico", 15_086),
)
_SLOT_IMG: Final = len(_COMMON_ASSETS)  # the page's own image
_N_SLOTS: Final = _SLOT_IMG + 1
_SLOT_FONT: Final = 3
_COMMON_BYTES = np.array([b for _, b in _COMMON_ASSETS], dtype=np.int64)

# ---- Catalogue: fixed pages -----------------------------------------------------------

_GET, _POST, _HEAD = 0, 1, 2
_METHODS = pl.Series("m", ["GET", "POST", "HEAD"])
_Q_NONE, _Q_PAGE, _Q_SEARCH = 0, 1, 2

# path, weights (landing, browsing, crawler, curl, staff), status, method, bytes, html, query kind, img
_FIXED: tuple[tuple[str, tuple[float, float, float, float, float], int, int, int, bool, int, str], ...] = (
    ("/", (60, 8, 5, 70, 0), 200, _GET, 18_432, True, _Q_NONE, "/img/hero.png"),
    ("/products/", (6, 10, 3, 0, 0), 200, _GET, 24_576, True, _Q_PAGE, ""),
    ("/blog/", (6, 4, 3, 0, 0), 200, _GET, 16_384, True, _Q_PAGE, ""),
    ("/search", (3, 14, 0, 0, 0), 200, _GET, 12_288, True, _Q_SEARCH, ""),
    ("/about/", (2, 2, 1, 0, 0), 200, _GET, 11_204, True, _Q_NONE, "/img/team.png"),
    ("/contact/", (1.5, 2.5, 1, 0, 0), 200, _GET, 9_873, True, _Q_NONE, ""),
    ("/imprint/", (0.3, 0.8, 1, 0, 0), 200, _GET, 7_310, True, _Q_NONE, ""),
    ("/privacy/", (0.3, 1.0, 1, 0, 0), 200, _GET, 21_654, True, _Q_NONE, ""),
    ("/faq/", (1, 2, 1, 0, 0), 200, _GET, 14_502, True, _Q_NONE, ""),
    ("/shipping/", (0.5, 2, 1, 0, 0), 200, _GET, 8_733, True, _Q_NONE, ""),
    ("/returns/", (0.3, 1, 1, 0, 0), 200, _GET, 8_120, True, _Q_NONE, ""),
    ("/login", (1.5, 3, 0.5, 0, 0), 200, _GET, 6_120, True, _Q_NONE, ""),
    ("/login", (0, 2, 0, 0, 0), 302, _POST, 0, False, _Q_NONE, ""),
    ("/cart/", (0.5, 6, 0, 0, 0), 200, _GET, 10_240, True, _Q_NONE, ""),
    ("/cart/add", (0, 5, 0, 0, 0), 302, _POST, 0, False, _Q_NONE, ""),
    ("/checkout/", (0, 2.5, 0, 0, 0), 200, _GET, 15_872, True, _Q_NONE, ""),
    ("/checkout/complete", (0, 0.8, 0, 0, 0), 200, _GET, 9_216, True, _Q_NONE, ""),
    ("/newsletter/subscribe", (0, 0.5, 0, 0, 0), 302, _POST, 0, False, _Q_NONE, ""),
    ("/robots.txt", (0, 0, 10, 20, 0), 200, _GET, 312, False, _Q_NONE, ""),
    ("/sitemap.xml", (0, 0, 4, 0, 0), 200, _GET, 183_240, False, _Q_NONE, ""),
    ("/feed.xml", (0.5, 0.1, 2, 10, 0), 200, _GET, 64_528, False, _Q_NONE, ""),
    ("/shop", (0.8, 0.3, 1, 0, 0), 301, _GET, 239, False, _Q_NONE, ""),
    ("/blog", (0.3, 0.3, 1, 0, 0), 301, _GET, 239, False, _Q_NONE, ""),
    ("/index.html", (0.2, 0.1, 0.5, 0, 0), 301, _GET, 239, False, _Q_NONE, ""),
    ("/account/", (0.2, 1.5, 0.2, 0, 0), 302, _GET, 0, False, _Q_NONE, ""),
    ("/admin/", (0, 0, 0, 0, 6), 200, _GET, 22_016, True, _Q_NONE, ""),
    ("/admin/orders/", (0, 0, 0, 0, 10), 200, _GET, 48_640, True, _Q_PAGE, ""),
    ("/admin/products/", (0, 0, 0, 0, 6), 200, _GET, 40_960, True, _Q_PAGE, ""),
    ("/admin/stats/", (0, 0, 0, 0, 4), 200, _GET, 30_720, True, _Q_NONE, ""),
)
_FIXED_W = np.array([row[1] for row in _FIXED], dtype=np.float64)  # (n_fixed, 5)
_FIXED_CDF = np.cumsum(_FIXED_W / _FIXED_W.sum(axis=0), axis=0).T.copy()  # (5, n_fixed)
_FIXED_INDEX = {path: i for i, (path, *_rest) in reversed(list(enumerate(_FIXED)))}
_FIXED_ADMIN = np.array([row[0].startswith("/admin/") for row in _FIXED])
_PROTOCOLS = pl.Series("p", ["HTTP/1.1", "HTTP/2.0"])
_ROBOTS = _FIXED_INDEX["/robots.txt"]
_SEARCH = _FIXED_INDEX["/search"]

# Page classes and their probability per profile (landing, browsing, crawler, curl, staff).
_C_FIXED, _C_CATEGORY, _C_PRODUCT, _C_POST, _C_TAG, _C_MISSING = range(6)
_CLASS_P = np.array(
    [
        [0.30, 0.10, 0.33, 0.25, 0.02, 0.00],
        [0.30, 0.17, 0.37, 0.10, 0.03, 0.03],
        [0.08, 0.05, 0.45, 0.32, 0.06, 0.04],
        [1.00, 0.00, 0.00, 0.00, 0.00, 0.00],
        [1.00, 0.00, 0.00, 0.00, 0.00, 0.00],
    ]
)
_CLASS_CDF = np.cumsum(_CLASS_P / _CLASS_P.sum(axis=1, keepdims=True), axis=1)
_CLASS_CDF[:, -1] = 1.0
_P_LANDING, _P_BROWSE, _P_CRAWL, _P_CURL, _P_STAFF = range(5)
# median time to serve (us) of a 200 page per class
_CLASS_D = np.array([28_000, 45_000, 52_000, 33_000, 30_000, 9_000], dtype=np.float64)

# Visitor kinds
_M_BROWSER, _M_GOOGLE, _M_BING, _M_CURL, _M_STAFF = range(5)
_STAFF_USERS = pl.Series("u", ["-", "editor", "mschulz", "kweber"])

# Diurnal rhythm: relative traffic at each local hour (centre of the hour).
_HOURLY = np.array(
    [0.35, 0.22, 0.15, 0.11, 0.10, 0.12, 0.22, 0.42, 0.65, 0.80, 0.88, 0.92,
     0.95, 0.92, 0.90, 0.90, 0.92, 0.95, 1.00, 1.00, 0.98, 0.88, 0.70, 0.50]
)  # fmt: skip


# --------------------------------------------------------------------------------------
# Small vectorised helpers
# --------------------------------------------------------------------------------------

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _mix(x: U64) -> U64:
    """SplitMix64 finaliser: a fast, well-spread hash of uint64 values."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _unit(h: U64) -> F64:
    """Hash values to floats in [0, 1)."""
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _hex(values: U64, width: int) -> pl.Series:
    """Lower-case hex of the low ``4 * width`` bits, zero padded to ``width``."""
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
    nibbles = (values[:, None] >> shifts[None, :]) & np.uint64(15)
    chars = np.ascontiguousarray(_HEX[nibbles])
    return pl.Series(chars.view(f"S{width}").ravel()).cast(pl.String)


def _pick(series: pl.Series, idx: NDArray[np.integer]) -> pl.Series:
    return series.gather(np.asarray(idx, dtype=np.int64))


def _split_exact(total: int, weights: F64) -> I64:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder)."""
    share = weights / weights.sum() * total
    out = np.floor(share).astype(np.int64)
    rest = total - int(out.sum())
    if rest:
        order = np.argsort(-(share - out), kind="stable")
        out[order[:rest]] += 1
    return out


def _segment_starts(counts: I64) -> I64:
    return np.cumsum(counts) - counts


# --------------------------------------------------------------------------------------
# Catalogue of pages
# --------------------------------------------------------------------------------------


@dataclass
class _Catalog:
    path: pl.Series
    img: pl.Series
    img_bytes: I64
    bytes: I64
    status: I64
    method: I64
    html: BoolA
    qkind: I64
    cls: I64
    offsets: I64  # first index of each class
    sizes: I64  # entries per class
    words: pl.Series
    months: pl.Series


def _build_catalog(rng: np.random.Generator, lines: int, year: int) -> _Catalog:
    n_pages = int(np.clip(lines // 20, 400, 600_000))
    n_prod = int(n_pages * 0.6)
    n_post = int(n_pages * 0.3)
    n_missing = max(20, int(n_pages * 0.05))
    words = pl.Series("w", _WORDS)
    cats = pl.Series("c", _CATEGORIES)
    adj = pl.Series("a", _ADJ)
    noun = pl.Series("n", _NOUN)
    months = pl.Series("m", [f"{m:02d}" for m in range(1, 13)])

    fixed = pl.DataFrame(
        {
            "path": [r[0] for r in _FIXED],
            "img": [r[7] for r in _FIXED],
        }
    )
    categories = pl.DataFrame({"path": [f"/products/{c}/" for c in _CATEGORIES], "img": [""] * len(_CATEGORIES)})

    ids = 10_000 + np.arange(n_prod, dtype=np.int64) * 7 + rng.integers(0, 7, n_prod)
    prod = pl.DataFrame(
        {
            "c": _pick(cats, rng.integers(0, len(_CATEGORIES), n_prod)),
            "a": _pick(adj, rng.integers(0, len(_ADJ), n_prod)),
            "n": _pick(noun, rng.integers(0, len(_NOUN), n_prod)),
            "id": ids,
        }
    ).select(
        pl.format("/products/{}/{}-{}-{}", "c", "a", "n", "id").alias("path"),
        pl.format("/img/products/{}.jpg", "id").alias("img"),
    )

    def slug(n: int) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "w1": _pick(words, rng.integers(0, len(_WORDS), n)),
                "w2": _pick(words, rng.integers(0, len(_WORDS), n)),
                "w3": _pick(words, rng.integers(0, len(_WORDS), n)),
                "y": rng.integers(year - 6, year + 1, n),
                "m": _pick(months, rng.integers(0, 12, n)),
            }
        )

    post = slug(n_post).select(
        pl.format("/blog/{}/{}/{}-{}-{}/", "y", "m", "w1", "w2", "w3").alias("path"),
        pl.format("/img/blog/{}-{}-{}.png", "w1", "w2", "w3").alias("img"),
    )
    tags = pl.DataFrame({"path": [f"/blog/tag/{w}/" for w in _WORDS], "img": [""] * len(_WORDS)})
    old_style = rng.random(n_missing) < 0.4
    missing_ids = 900_000 + rng.integers(0, 90_000, n_missing)
    missing = (
        slug(n_missing)
        .with_columns(
            c=_pick(cats, rng.integers(0, len(_CATEGORIES), n_missing)),
            a=_pick(adj, rng.integers(0, len(_ADJ), n_missing)),
            n=_pick(noun, rng.integers(0, len(_NOUN), n_missing)),
            id=missing_ids,
            old=old_style,
        )
        .select(
            pl.when(pl.col("old"))
            .then(pl.format("/blog/{}/{}/{}-{}.html", "y", "m", "w1", "w2"))
            .otherwise(pl.format("/products/{}/{}-{}-{}", "c", "a", "n", "id"))
            .alias("path"),
            pl.lit("").alias("img"),
        )
    )
    parts = [fixed, categories, prod, post, tags, missing]
    sizes = np.array([p.height for p in parts], dtype=np.int64)
    offsets = _segment_starts(sizes)
    table = pl.concat(parts, how="vertical")
    n = table.height

    cls = np.repeat(np.arange(len(parts), dtype=np.int64), sizes)
    status = np.full(n, 200, dtype=np.int64)
    method = np.full(n, _GET, dtype=np.int64)
    html = np.ones(n, dtype=np.bool_)
    qkind = np.zeros(n, dtype=np.int64)
    size = np.empty(n, dtype=np.int64)
    for i, (_p, _w, st, me, by, ht, qk, _img) in enumerate(_FIXED):
        status[i], method[i], size[i], html[i], qkind[i] = st, me, by, ht, qk
    sl = slice(int(offsets[_C_CATEGORY]), int(offsets[_C_CATEGORY] + sizes[_C_CATEGORY]))
    size[sl] = rng.integers(20_000, 30_000, sizes[_C_CATEGORY])
    qkind[sl] = _Q_PAGE
    sl = slice(int(offsets[_C_PRODUCT]), int(offsets[_C_PRODUCT] + sizes[_C_PRODUCT]))
    size[sl] = rng.integers(21_000, 64_000, sizes[_C_PRODUCT])
    sl = slice(int(offsets[_C_POST]), int(offsets[_C_POST] + sizes[_C_POST]))
    size[sl] = rng.integers(14_000, 52_000, sizes[_C_POST])
    sl = slice(int(offsets[_C_TAG]), int(offsets[_C_TAG] + sizes[_C_TAG]))
    size[sl] = rng.integers(12_000, 26_000, sizes[_C_TAG])
    qkind[sl] = _Q_PAGE
    sl = slice(int(offsets[_C_MISSING]), n)
    size[sl] = 4_862  # the custom error page
    status[sl] = 404
    img = table.get_column("img")
    img_bytes = np.where(
        (img.str.len_bytes() > 0).to_numpy(), rng.integers(35_000, 420_000, n), 0
    ).astype(np.int64)
    return _Catalog(
        path=table.get_column("path"),
        img=img,
        img_bytes=img_bytes,
        bytes=size,
        status=status,
        method=method,
        html=html,
        qkind=qkind,
        cls=cls,
        offsets=offsets,
        sizes=sizes,
        words=words,
        months=months,
    )


# --------------------------------------------------------------------------------------
# Time: window, diurnal density, slices
# --------------------------------------------------------------------------------------


def _parse_offset(utc_offset: str) -> int:
    m = re.fullmatch(r"([+-])(\d{2})(\d{2})", utc_offset)
    if not m or int(m.group(2)) > 23 or int(m.group(3)) > 59:
        raise ConfigError(f"utc_offset {utc_offset!r} is not like '+0100' or '-0530'")
    seconds = int(m.group(2)) * 3600 + int(m.group(3)) * 60
    return seconds if m.group(1) == "+" else -seconds


def _epoch_us(dt: datetime) -> int:
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def _from_us(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


@dataclass
class _Timeline:
    ws: int  # first allowed timestamp (us, whole second)
    we: int  # last allowed timestamp (us, whole second)
    cell_start: I64
    cell_width: I64
    cell_mass: F64


def _timeline(rng: np.random.Generator, ws: int, we: int, offset_s: int) -> _Timeline:
    span = we - ws
    n_cells = max(1, -(-span // _CELL_US))
    start = ws + np.arange(n_cells, dtype=np.int64) * _CELL_US
    width = np.minimum(start + _CELL_US, we) - start
    width = np.maximum(width, 1)
    local_s = (start + width // 2) // _US + offset_s
    hour = (local_s % 86_400) / 3600.0
    density = np.interp(hour, np.arange(24) + 0.5, _HOURLY, period=24)
    weekday = (local_s // 86_400 + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    density = density * np.where(weekday >= 5, 0.85, 1.0)
    hours = (start - ws) // (3600 * _US)
    noise = rng.lognormal(0.0, 0.12, int(hours.max()) + 1)
    density = density * noise[hours]
    return _Timeline(ws=ws, we=we, cell_start=start, cell_width=width, cell_mass=density * width)


# --------------------------------------------------------------------------------------
# Rows -> lines
# --------------------------------------------------------------------------------------

_ROW_SCHEMA = pl.Schema(
    {
        "ip": pl.String(),
        "user": pl.String(),
        "ts": pl.Int64(),
        "req": pl.String(),
        "status": pl.Int64(),
        "bytes": pl.Int64(),
        "ref": pl.String(),
        "ua": pl.String(),
        "dur": pl.Int64(),
        "sid": pl.String(),
    }
)


def _format(rows: pl.DataFrame, offset_s: int, offset: str) -> pl.DataFrame:
    """Render rows in DEMO_FORMAT; ``key`` is the time the server writes the line."""
    local = pl.from_epoch(pl.col("ts") // _US + offset_s, time_unit="s")
    return rows.select(
        key=pl.col("ts") + pl.col("dur"),
        line=pl.concat_str(
            [
                pl.col("ip"),
                pl.lit(" - "),
                pl.col("user"),
                pl.lit(" ["),
                local.dt.strftime("%d/%b/%Y:%H:%M:%S"),
                pl.lit(f' {offset}] "'),
                pl.col("req"),
                pl.lit('" '),
                pl.col("status").cast(pl.String),
                pl.lit(" "),
                pl.when(pl.col("bytes") > 0).then(pl.col("bytes").cast(pl.String)).otherwise(pl.lit("-")),
                pl.lit(' "'),
                pl.col("ref"),
                pl.lit('" "'),
                pl.col("ua"),
                pl.lit('" '),
                pl.col("dur").cast(pl.String),
                pl.lit(' "'),
                pl.col("sid"),
                pl.lit('"'),
            ]
        ),
    )


# --------------------------------------------------------------------------------------
# Background traffic, one time slice at a time
# --------------------------------------------------------------------------------------


@dataclass
class _State:
    catalog: _Catalog
    timeline: _Timeline
    salt: np.uint64
    visitors: int = 0  # visitor ids handed out so far
    sessions: int = 0  # session ids handed out so far


def _visitor_hash(state: _State, vid: U64, j: int) -> U64:
    return _mix((vid * np.uint64(16) + np.uint64(j)) ^ state.salt)


def _background(state: _State, rng: np.random.Generator, cells: tuple[int, int], quota: int) -> pl.DataFrame:
    """Exactly ``quota`` rows of ordinary traffic whose sessions start in ``cells``."""
    tl, cat = state.timeline, state.catalog
    c0, c1 = cells
    mass = np.cumsum(tl.cell_mass[c0:c1])
    mass /= mass[-1]
    n_sess = int(quota / 4.4 * 1.15) + 32
    while True:
        # ---- sessions ---------------------------------------------------------------
        cell = c0 + np.minimum(np.searchsorted(mass, rng.random(n_sess), side="right"), c1 - c0 - 1)
        s_start = tl.cell_start[cell] + (rng.random(n_sess) * tl.cell_width[cell]).astype(np.int64)
        is_new = rng.random(n_sess) >= 0.08
        is_new |= (state.visitors + np.cumsum(is_new)) == 0
        seen = state.visitors + np.cumsum(is_new)  # visitor ids that exist so far
        back = np.floor(rng.random(n_sess) * seen).astype(np.int64)
        vid = np.where(is_new, seen - 1, back).astype(np.uint64)
        u_mode = _unit(_visitor_hash(state, vid, 0))
        mode = np.select(
            [u_mode < 0.012, u_mode < 0.018, u_mode < 0.032, u_mode < 0.034],
            [_M_GOOGLE, _M_BING, _M_CURL, _M_STAFF],
            _M_BROWSER,
        ).astype(np.int64)
        npv = np.select(
            [mode == _M_GOOGLE, mode == _M_BING, mode == _M_CURL, mode == _M_STAFF],
            [
                np.minimum(rng.geometric(0.12, n_sess), 50),
                np.minimum(rng.geometric(0.2, n_sess), 30),
                np.minimum(rng.geometric(0.7, n_sess), 3),
                np.minimum(rng.geometric(0.2, n_sess), 20),
            ],
            np.minimum(rng.geometric(0.65, n_sess), 25),
        ).astype(np.int64)

        # ---- page views -------------------------------------------------------------
        n_pv = int(npv.sum())
        pv_sess = np.repeat(np.arange(n_sess), npv)
        pv_start = _segment_starts(npv)
        pv_first = np.zeros(n_pv, dtype=np.bool_)
        pv_first[pv_start] = True
        pv_mode = mode[pv_sess]
        browserish = (pv_mode == _M_BROWSER) | (pv_mode == _M_STAFF)
        profile = np.select(
            [pv_mode == _M_CURL, pv_mode == _M_STAFF, (pv_mode == _M_GOOGLE) | (pv_mode == _M_BING), pv_first],
            [_P_CURL, _P_STAFF, _P_CRAWL, _P_LANDING],
            _P_BROWSE,
        )
        klass = (rng.random(n_pv)[:, None] > _CLASS_CDF[profile]).sum(axis=1)
        skew = np.where(profile == _P_CRAWL, 1.0, 2.6)
        item = np.floor(cat.sizes[klass] * rng.random(n_pv) ** skew).astype(np.int64)
        fixed_item = (rng.random(n_pv)[:, None] > _FIXED_CDF[profile]).sum(axis=1)
        item = np.where(klass == _C_FIXED, np.minimum(fixed_item, len(_FIXED) - 1), item)
        pv_cat = cat.offsets[klass] + item
        robots = pv_first & (profile == _P_CRAWL) & (rng.random(n_pv) < 0.5)
        pv_cat[robots] = _ROBOTS
        pv_cls = cat.cls[pv_cat]

        gap_median = np.select(
            [profile == _P_CRAWL, profile == _P_CURL, profile == _P_STAFF], [8.0, 20.0, 40.0], 25.0
        )
        gap = np.clip(rng.lognormal(0.0, 1.0, n_pv) * gap_median, 1.0, 900.0)
        gap = (gap * _US).astype(np.int64)
        gap[pv_first] = 0
        cum = np.cumsum(gap)
        pv_off = cum - cum[pv_start][pv_sess]

        pv_status = cat.status[pv_cat].copy()
        pv_method = cat.method[pv_cat].copy()
        dynamic = np.isin(pv_cls, (_C_PRODUCT, _C_CATEGORY)) | (pv_cat == _SEARCH)
        pv_status[dynamic & (pv_status == 200) & (rng.random(n_pv) < 0.002)] = 500
        crawler_304 = (profile == _P_CRAWL) & (pv_status == 200) & (rng.random(n_pv) < 0.15)
        pv_status[crawler_304] = 304
        pv_method[(pv_mode == _M_CURL) & (rng.random(n_pv) < 0.5)] = _HEAD
        pv_html = cat.html[pv_cat] & browserish & np.isin(pv_status, (200, 404))

        # ---- assets -----------------------------------------------------------------
        returning = ~is_new[pv_sess]
        has_img = cat.img_bytes[pv_cat] > 0
        p_new = np.array([1.0, 1.0, 0.7, 0.25, 0.3, 0.85])
        p_ret = np.array([0.5, 0.5, 0.0, 0.0, 0.05, 0.6])
        p_later = np.array([0.06, 0.04, 0.0, 0.0, 0.0, 0.9])
        probs = np.where(
            pv_first[:, None], np.where(returning[:, None], p_ret, p_new), p_later
        ) * pv_html[:, None]
        probs[:, _SLOT_IMG] *= has_img
        mask = rng.random((n_pv, _N_SLOTS)) < probs
        pv_nreq = 1 + mask.sum(axis=1)
        s_nreq = np.bincount(pv_sess, weights=pv_nreq, minlength=n_sess).astype(np.int64)
        if int(s_nreq.sum()) >= quota:
            break
        n_sess = int(n_sess * 1.3) + 32

    # ---- keep whole sessions until the quota is reached --------------------------------
    n_sel = int(np.searchsorted(np.cumsum(s_nreq), quota, side="left")) + 1
    v_sel = int(pv_start[n_sel]) if n_sel < n_sess else n_pv
    new_sel = is_new[:n_sel]
    state.visitors += int(new_sel.sum())
    session_ids = np.arange(state.sessions, state.sessions + n_sel, dtype=np.uint64)
    state.sessions += n_sel

    # ---- requests ---------------------------------------------------------------------
    pv_nreq = pv_nreq[:v_sel]
    n_req_all = int(pv_nreq.sum())
    r_pv = np.repeat(np.arange(v_sel), pv_nreq)
    first_req = _segment_starts(pv_nreq)
    pos = np.arange(n_req_all) - first_req[r_pv]
    r_slot = np.full(n_req_all, -1, dtype=np.int64)
    r_slot[pos > 0] = np.nonzero(mask[:v_sel])[1]
    r_pv, pos, r_slot = r_pv[:quota], pos[:quota], r_slot[:quota]
    n_req = quota
    r_sess = pv_sess[r_pv]
    is_page = r_slot < 0
    is_img = r_slot == _SLOT_IMG
    r_ret = returning[r_pv]
    r_first = pv_first[r_pv]
    u = rng.random((n_req, 3))

    # status
    asset_status = np.where(r_ret | ~r_first, 304, 200)
    img_status = np.where(r_ret & (u[:, 0] < 0.5), 304, np.where(u[:, 0] > 0.996, 404, 200))
    r_status = np.where(is_page, pv_status[r_pv], np.where(is_img, img_status, asset_status))

    # bytes
    pv_cat_r = pv_cat[r_pv]
    page_bytes = np.select(
        [pv_status == 200, pv_status == 404, pv_status == 301, pv_status == 500],
        [cat.bytes[pv_cat] + rng.integers(0, 400, n_pv), np.full(n_pv, 4_862), np.full(n_pv, 239), np.full(n_pv, 531)],
        0,
    )
    page_bytes[pv_method == _HEAD] = 0
    common = _COMMON_BYTES[np.clip(r_slot, 0, _SLOT_IMG - 1)]
    asset_bytes = np.where(is_img, cat.img_bytes[pv_cat_r], common)
    r_bytes = np.where(
        is_page,
        page_bytes[r_pv],
        np.select([r_status == 200, r_status == 404], [asset_bytes, np.full(n_req, 4_862)], 0),
    )

    # time to serve (us)
    pv_d_med = np.select(
        [
            pv_status == 304,
            pv_status == 500,
            pv_method == _POST,
            np.isin(pv_status, (301, 302)),
            pv_cat == _SEARCH,
            ~cat.html[pv_cat],
        ],
        [9_000.0, 1_800_000.0, 85_000.0, 450.0, 140_000.0, 900.0],
        _CLASS_D[pv_cls],
    )
    pv_d = (pv_d_med * rng.lognormal(0.0, 0.55, n_pv)).astype(np.int64)[:v_sel] + 80
    asset_med = np.select([r_status == 304, r_status == 404, is_img], [260.0, 3_000.0, 1_600.0], 750.0)
    slow = (r_status == 200) & ~is_page & (u[:, 1] < 0.02)  # big download on a slow phone
    asset_d = asset_med * np.exp(0.5 * rng.standard_normal(n_req)) * np.where(slow, 20 + 180 * u[:, 2], 1.0)
    r_dur = np.where(is_page, pv_d[r_pv], asset_d.astype(np.int64) + 60)

    # request time: session start + think times; assets follow the page's HTML
    asset_delay = np.where(is_page, 0, pv_d[r_pv] + pos * (4_000 + (u[:, 2] * 90_000).astype(np.int64)))
    r_ts = s_start[r_sess] + pv_off[r_pv] + asset_delay
    sess_first_req = _segment_starts(np.bincount(r_sess, minlength=n_sel))
    sess_max = np.maximum.reduceat(r_ts, sess_first_req)
    shift = np.maximum(sess_max - tl.we, 0)  # sessions running past `now` start earlier
    r_ts = r_ts - shift[r_sess]

    # ---- strings ----------------------------------------------------------------------
    s_vid = vid[:n_sel]
    s_mode = mode[:n_sel]
    s_ip = _ips(state, s_vid, s_mode)
    h_ua = _visitor_hash(state, s_vid, 3)
    ua_idx = np.select(
        [s_mode == _M_GOOGLE, s_mode == _M_BING, s_mode == _M_CURL],
        [
            _UA_IDX_GOOGLEBOT + (h_ua & np.uint64(1)).astype(np.int64),
            np.full(n_sel, _UA_IDX_BINGBOT),
            _UA_IDX_CURL + (h_ua % np.uint64(len(_UA_CURL))).astype(np.int64),
        ],
        np.minimum(np.searchsorted(_BROWSER_UA_CDF, _unit(h_ua), side="right"), len(_BROWSER_UAS) - 1),
    )
    u_cookie = _unit(_visitor_hash(state, s_vid, 4))
    has_cookie = ((s_mode == _M_BROWSER) & (u_cookie >= 0.12)) | (s_mode == _M_STAFF)
    sid_a = _mix(session_ids ^ state.salt ^ np.uint64(0xA5A5A5A5))
    sid_b = _mix(sid_a)
    sid_hex = _hex(sid_a, 16) + _hex(sid_b, 10)
    sid = pl.select(pl.when(pl.Series(has_cookie)).then(sid_hex).otherwise(pl.lit("-"))).to_series()
    h2 = (_unit(_visitor_hash(state, s_vid, 5)) < 0.45) & (s_mode != _M_CURL) & (s_mode != _M_BING)
    staff_user = np.where(s_mode == _M_STAFF, 1 + (h_ua % np.uint64(3)).astype(np.int64), 0)

    pv_url, pv_ref = _page_strings(rng, state, pv_cat[:v_sel], pv_first[:v_sel], pv_mode[:v_sel])
    n_common = len(_COMMON_ASSETS)
    url_table = pl.concat(
        [pv_url, pl.Series([p for p, _ in _COMMON_ASSETS], dtype=pl.String), _pick(cat.img, pv_cat[:v_sel])]
    )
    url_idx = np.where(is_page, r_pv, np.where(is_img, v_sel + n_common + r_pv, v_sel + r_slot))
    ref_table = pl.concat([pv_ref, SITE + pv_url, pl.Series([SITE + _COMMON_ASSETS[0][0]])])
    ref_idx = np.where(is_page, r_pv, np.where(r_slot == _SLOT_FONT, 2 * v_sel, v_sel + r_pv))
    method_idx = np.where(is_page, pv_method[:v_sel][r_pv], _GET)
    admin_page = is_page & (pv_cat[r_pv] < len(_FIXED)) & _FIXED_ADMIN[np.minimum(pv_cat[r_pv], len(_FIXED) - 1)]
    user_idx = np.where(admin_page, staff_user[r_sess], 0)
    rows = pl.DataFrame(
        {
            "ip": _pick(s_ip, r_sess),
            "user": _pick(_STAFF_USERS, user_idx),
            "ts": r_ts,
            "m": _pick(_METHODS, method_idx),
            "url": _pick(url_table, url_idx),
            "proto": _pick(_PROTOCOLS, h2[r_sess].astype(np.int64)),
            "status": r_status.astype(np.int64),
            "bytes": r_bytes.astype(np.int64),
            "ref": _pick(ref_table, ref_idx),
            "ua": _pick(_UA_ALL, ua_idx[r_sess]),
            "dur": r_dur.astype(np.int64),
            "sid": _pick(sid, r_sess),
        }
    )
    return rows.select(
        "ip",
        "user",
        "ts",
        pl.concat_str([pl.col("m"), pl.col("url"), pl.col("proto")], separator=" ").alias("req"),
        "status",
        "bytes",
        "ref",
        "ua",
        "dur",
        "sid",
    )


def _ips(state: _State, vid: U64, mode: I64) -> pl.Series:
    """Client address of each visitor, derived from its id (stable across sessions)."""
    h = _visitor_hash(state, vid, 1)
    o1 = _FIRST_OCTETS[(h % np.uint64(len(_FIRST_OCTETS))).astype(np.int64)]
    o2 = ((h >> np.uint64(16)) & np.uint64(255)).astype(np.int64)
    o3 = ((h >> np.uint64(24)) & np.uint64(255)).astype(np.int64)
    o4 = 1 + ((h >> np.uint64(32)) % np.uint64(254)).astype(np.int64)
    google = mode == _M_GOOGLE
    o1 = np.where(google, 66, o1)
    o2 = np.where(google, 249, o2)
    o3 = np.where(google, 64 + o3 % 16, o3)
    v4 = pl.DataFrame({"a": o1, "b": o2, "c": o3, "d": o4}).select(
        pl.concat_str([pl.col(c).cast(pl.String) for c in "abcd"], separator=".")
    ).to_series()
    bing = np.nonzero(mode == _M_BING)[0]
    if len(bing):
        nets = pl.Series(_BING_NETS)
        net = _pick(nets, (h[bing] % np.uint64(len(_BING_NETS))).astype(np.int64))
        v4 = v4.scatter(bing, net + "." + pl.Series(o4[bing]).cast(pl.String))
    u6 = _unit(_visitor_hash(state, vid, 2))
    v6 = np.nonzero((u6 < 0.04) & ((mode == _M_BROWSER) | (mode == _M_STAFF)))[0]
    if len(v6):
        g = _visitor_hash(state, vid[v6], 6)
        g2 = _visitor_hash(state, vid[v6], 7)
        groups = [
            (g >> np.uint64(16 * k)) & np.uint64(0xFFFF) for k in range(4)
        ] + [(g2 >> np.uint64(16 * k)) & np.uint64(0xFFFF) for k in range(2)]
        # keep every group four digits long without a leading zero (canonical text form)
        parts = [_hex(np.uint64(0x1000) + grp % np.uint64(0xF000), 4) for grp in groups]
        prefix = _pick(pl.Series(_IPV6_PREFIXES), (g2 >> np.uint64(40)) % np.uint64(len(_IPV6_PREFIXES)))
        v6s = pl.select(pl.concat_str([prefix, *parts], separator=":")).to_series()
        v4 = v4.scatter(v6, v6s)
    return v4


def _page_strings(
    rng: np.random.Generator, state: _State, pv_cat: I64, pv_first: BoolA, pv_mode: I64
) -> tuple[pl.Series, pl.Series]:
    """URL (path and query) and Referer of each page view."""
    cat = state.catalog
    n = len(pv_cat)
    qkind = cat.qkind[pv_cat]
    u = rng.random((n, 4))
    two_words = u[:, 0] < 0.5
    paged = (qkind == _Q_PAGE) & (u[:, 1] < 0.25)
    page_no = 2 + np.minimum(rng.geometric(0.45, n) - 1, 18)
    landing = pv_first & (pv_mode == _M_BROWSER)
    ref_opt = np.minimum(np.searchsorted(_REF_CDF, u[:, 2], side="right"), len(_LANDING_REFERRERS) - 1)
    utm = landing & _REF_UTM_FLAG[ref_opt] & cat.html[pv_cat] & (cat.status[pv_cat] == 200)
    nw = len(_WORDS)
    frame = pl.DataFrame(
        {
            "path": _pick(cat.path, pv_cat),
            "search": qkind == _Q_SEARCH,
            "two": two_words,
            "w1": _pick(cat.words, rng.integers(0, nw, n)),
            "w2": _pick(cat.words, rng.integers(0, nw, n)),
            "paged": paged,
            "page": page_no,
            "utm": utm,
            "utm_q": _pick(pl.Series([q for _, q, _ in _LANDING_REFERRERS]), ref_opt),
            "landing": landing,
            "ext_ref": _pick(pl.Series([r for r, _, _ in _LANDING_REFERRERS]), ref_opt),
            "first": pv_first,
        }
    )
    main = (
        pl.when(pl.col("search"))
        .then(
            pl.concat_str(
                [
                    pl.lit("q="),
                    pl.col("w1"),
                    pl.when(pl.col("two")).then(pl.lit("+") + pl.col("w2")).otherwise(pl.lit("")),
                ]
            )
        )
        .when(pl.col("paged"))
        .then(pl.lit("page=") + pl.col("page").cast(pl.String))
        .otherwise(pl.lit(""))
    )
    out = frame.with_columns(main=main).with_columns(
        query=pl.when(pl.col("utm"))
        .then(
            pl.when(pl.col("main") == "")
            .then(pl.col("utm_q"))
            .otherwise(pl.col("main") + "&" + pl.col("utm_q"))
        )
        .otherwise(pl.col("main"))
    )
    out = out.with_columns(
        url=pl.when(pl.col("query") == "")
        .then(pl.col("path"))
        .otherwise(pl.col("path") + "?" + pl.col("query"))
    )
    out = out.with_columns(
        ref=pl.when(pl.col("landing"))
        .then(pl.col("ext_ref"))
        .when(pl.col("first"))
        .then(pl.lit("-"))
        .otherwise(pl.lit(SITE) + pl.col("url").shift(1, fill_value=""))
    )
    return out.get_column("url"), out.get_column("ref")


# --------------------------------------------------------------------------------------
# Planted actors, odd lines and malformed lines
# --------------------------------------------------------------------------------------

_SCANNER_ALL: tuple[tuple[str, str, int], ...] = (
    ("GET", "/", 200), ("GET", "/robots.txt", 200), ("GET", "/.env", 404), ("GET", "/.env.bak", 404),
    ("GET", "/.env.production", 404), ("GET", "/.git/config", 404), ("GET", "/.git/HEAD", 404),
    ("GET", "/.svn/entries", 404), ("GET", "/.DS_Store", 404), ("GET", "/.htaccess", 403),
    ("GET", "/.aws/credentials", 404), ("GET", "/wp-login.php", 404), ("GET", "/wp-admin/", 404),
    ("GET", "/wp-admin/install.php", 404), ("POST", "/xmlrpc.php", 404),
    ("GET", "/wp-content/plugins/revslider/temp/update_extract/revslider/", 404),
    ("GET", "/wp-includes/wlwmanifest.xml", 404), ("GET", "/blog/wp-login.php", 404),
    ("GET", "/wordpress/wp-admin/", 404), ("GET", "/phpmyadmin/", 404), ("GET", "/phpMyAdmin/", 404),
    ("GET", "/pma/", 404), ("GET", "/myadmin/", 404), ("GET", "/phpmyadmin/index.php", 404),
    ("GET", "/mysql/admin/", 404), ("GET", "/admin.php", 404), ("GET", "/admin/", 401),
    ("GET", "/administrator/", 404), ("GET", "/admin/login.php", 404), ("GET", "/admin/config.php", 404),
    ("GET", "/login.php", 404), ("GET", "/user/login", 404), ("GET", "/cgi-bin/test.cgi", 404),
    ("GET", "/cgi-bin/php", 404), ("GET", "/cgi-bin/luci", 404), ("GET", "/cgi-bin/config.exp", 404),
    ("POST", "/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh", 400), ("GET", "/cgi-bin/.%2e/.%2e/.%2e/etc/passwd", 400),
    ("GET", "/config.php", 404), ("GET", "/config.json", 404), ("GET", "/config.yml", 404),
    ("GET", "/backup.zip", 404), ("GET", "/backup.sql", 404), ("GET", "/db.sql", 404),
    ("GET", "/dump.sql", 404), ("GET", "/site.tar.gz", 404), ("GET", "/server-status", 403),
    ("GET", "/server-info", 403), ("GET", "/actuator/env", 404), ("GET", "/actuator/health", 404),
    ("GET", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", 404), ("GET", "/shell.php", 404),
    ("GET", "/info.php", 404), ("GET", "/phpinfo.php", 404), ("GET", "/test.php", 404),
    ("GET", "/owa/auth/logon.aspx", 404), ("GET", "/solr/admin/info/system", 404),
    ("GET", "/boaform/admin/formLogin", 404), ("GET", "/HNAP1/", 404), ("GET", "/manager/html", 404),
    ("GET", "/console/", 404), ("GET", "/api/v1/pods", 404), ("GET", "/.well-known/security.txt", 404),
    ("GET", "/sitemap.xml", 200), ("GET", "/debug/default/view", 404), ("GET", "/telescope/requests", 404),
    ("GET", "/_profiler/phpinfo", 404), ("GET", "/.vscode/sftp.json", 404), ("GET", "/storage/logs/laravel.log", 404),
    ("GET", "/web.config", 404), ("GET", "/_ignition/execute-solution", 404), ("GET", "/autodiscover/autodiscover.xml", 404),
    ("GET", "/remote/login", 404), ("GET", "/Telerik.Web.UI.WebResource.axd", 404),
)  # fmt: skip
# the probes every scan starts with, so that even a small log has a recognisable scan
_SCANNER_FIRST = (
    "/", "/wp-login.php", "/.env", "/phpmyadmin/", "/admin.php", "/cgi-bin/luci", "/.git/config",
    "/wp-admin/", "/xmlrpc.php", "/.aws/credentials",
)  # fmt: skip
_SCANNER_PROBES = tuple(
    sorted(_SCANNER_ALL, key=lambda p: _SCANNER_FIRST.index(p[1]) if p[1] in _SCANNER_FIRST else len(_SCANNER_FIRST))
)
_SCANNER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.129 Safari/537.36"
)
_BRUTE_UA = "python-requests/2.32.3"
_FLOOD_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
_SQLMAP_UA = "sqlmap/1.8.11#stable (https://sqlmap.org)"
_INJECTION_BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
# (method, target, status, bytes, user agent); percent-encoded as clients send them
_INJECTIONS: tuple[tuple[str, str, int, int, str], ...] = (
    ("GET", "/products/?id=1%27%20OR%201%3D1--", 200, 24_702, _SQLMAP_UA),
    ("GET", "/search?q=%27%20OR%201%3D1--%20", 200, 12_410, _SQLMAP_UA),
    ("GET", "/search?q=1%27%20UNION%20SELECT%20username%2Cpassword%20FROM%20users--", 500, 531, _SQLMAP_UA),
    ("GET", "/products/?sort=name%27%3B%20DROP%20TABLE%20orders%3B--", 500, 531, _SQLMAP_UA),
    ("GET", "/download?file=..%2F..%2F..%2F..%2Fetc%2Fpasswd", 404, 4_862, _INJECTION_BROWSER_UA),
    ("GET", "/index.php?page=../../../../etc/passwd", 404, 4_862, _INJECTION_BROWSER_UA),
    ("GET", "/search?q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E", 200, 12_388, _INJECTION_BROWSER_UA),
    ("GET", "/blog/?s=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E", 200, 16_512, _INJECTION_BROWSER_UA),
)


class _Rows:
    """Accumulates hand-made rows (planted actors) in the background's schema."""

    def __init__(self) -> None:
        self.cols: dict[str, list[object]] = {name: [] for name in _ROW_SCHEMA.names()}

    def add(
        self,
        ip: str,
        ts: int,
        req: str,
        status: int,
        size: int,
        ua: str,
        dur: int,
        *,
        ref: str = "-",
        sid: str = "-",
        user: str = "-",
    ) -> None:
        for name, value in (
            ("ip", ip), ("user", user), ("ts", ts), ("req", req), ("status", status),
            ("bytes", size), ("ref", ref), ("ua", ua), ("dur", dur), ("sid", sid),
        ):  # fmt: skip
            self.cols[name].append(value)

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.cols, schema=_ROW_SCHEMA)


def _rand_ipv4(rng: np.random.Generator) -> str:
    o1 = int(_FIRST_OCTETS[rng.integers(0, len(_FIRST_OCTETS))])
    return f"{o1}.{rng.integers(0, 256)}.{rng.integers(0, 256)}.{rng.integers(1, 255)}"


def _planted(
    rng: np.random.Generator, state: _State, lines: int, offset_s: int, offset: str
) -> tuple[pl.DataFrame, Planted]:
    """Rows of the planted actors plus the malformed lines, with their write keys."""
    we, ws = state.timeline.we, state.timeline.ws
    cat = state.catalog
    hour = 3600 * _US
    rows = _Rows()
    windows: list[tuple[str, datetime, datetime]] = []

    def ms(lo: float, hi: float) -> int:
        return int(rng.uniform(lo, hi) * 1000)

    # scanner: up to 74 probes, 2-7.5 s apart -> under 10 minutes
    scanner_ip = f"203.0.113.{rng.integers(10, 120)}"
    t = we - 20 * hour
    t0 = t
    n_scan = min(len(_SCANNER_PROBES), max(len(_SCANNER_FIRST), lines // 20))
    for method, target, status in _SCANNER_PROBES[:n_scan]:
        size = {200: 18_432, 404: 4_862, 403: 199, 400: 226, 401: 381}[status]
        if target == "/robots.txt":
            size = 312
        elif target == "/sitemap.xml":
            size = 183_240
        rows.add(scanner_ip, t, f"{method} {target} HTTP/1.1", status, size, _SCANNER_UA, ms(2, 15))
        last = t
        t += int(rng.uniform(2.0, 7.5) * _US)
    windows.append(("scanner", _from_us(t0), _from_us(last)))

    # brute force: POST /login every ~2 s for up to 14 minutes, 401 until it guesses right
    brute_ip = f"198.51.100.{rng.integers(10, 250)}"
    n_brute = int(np.clip(lines // 40, 10, 400))
    t = t0 = we - 16 * hour
    for i in range(n_brute):
        ok = i in (n_brute - 3, n_brute - 1)
        status, size = (200, 7_311) if ok else (401, 6_120 + int(rng.integers(0, 40)))
        ref = f"{SITE}/login"
        rows.add(brute_ip, t, "POST /login HTTP/1.1", status, size, _BRUTE_UA, ms(180, 340), ref=ref)
        last = t
        t += int(rng.uniform(1.0, 3.1) * _US)
    windows.append(("bruteforce", _from_us(t0), _from_us(last)))

    # flood: thousands of GETs within ~110 s, the site starts answering 503
    flood_ip = f"192.0.2.{rng.integers(10, 250)}"
    n_flood = int(np.clip(lines // 10, 20, 3_000))
    t0 = we - 12 * hour
    times = np.sort(t0 + (rng.random(n_flood) * 110 * _US).astype(np.int64))
    prod0, nprod = int(cat.offsets[_C_PRODUCT]), int(cat.sizes[_C_PRODUCT])
    prods = cat.path.gather(prod0 + rng.integers(0, nprod, n_flood)).to_list()
    kinds = rng.random(n_flood)
    for i in range(n_flood):
        if kinds[i] < 0.4:
            target, size = "/", 18_432
        elif kinds[i] < 0.7:
            target, size = f"/search?q={_WORDS[rng.integers(0, len(_WORDS))]}{rng.integers(0, 10_000)}", 12_288
        else:
            target, size = prods[i], 41_000
        overloaded = i > n_flood * 0.4 and rng.random() < 0.35
        status, size, dur = (503, 299, ms(20, 60)) if overloaded else (200, size, ms(150, 2_400))
        rows.add(flood_ip, int(times[i]), f"GET {target} HTTP/1.1", status, size, _FLOOD_UA, dur)
    windows.append(("flood", _from_us(int(times[0])), _from_us(int(times[-1]))))

    # injection attempts, a few minutes apart, plus an XSS payload in the User-Agent
    inj_ip = f"203.0.113.{rng.integers(130, 250)}"
    t = t0 = we - 8 * hour
    for method, target, status, size, ua in _INJECTIONS:
        rows.add(inj_ip, t, f"{method} {target} HTTP/1.1", status, size, ua, ms(8, 400))
        last = t
        t += int(rng.uniform(60, 200) * _US)
    rows.add(inj_ip, t, "GET / HTTP/1.1", 200, 18_432, 'Mozilla/5.0 \\"><script>alert(1)</script>', ms(20, 60))
    windows.append(("injection", _from_us(t0), _from_us(t)))

    # planted IPv6 visitors: full, compressed and short forms
    g = [int(x) for x in rng.integers(0x1000, 0xFFFF, 8)]
    ipv6 = (
        f"2001:db8:{g[0]:x}:{g[1]:x}:{g[2]:x}:{g[3]:x}:{g[4]:x}:{g[5]:x}",
        f"2001:db8:{g[6]:x}::{g[7]:x}",
        f"2001:db8:{g[2]:x}:{g[4]:x}::1",
    )
    prod_paths = cat.path.gather(prod0 + rng.integers(0, min(nprod, 50), 6)).to_list()
    for k, ip in enumerate(ipv6):
        t = we - int((6 - 1.5 * k) * hour)
        sid = f"{int(rng.integers(0, 2**62)):016x}{int(rng.integers(0, 2**40)):010x}"
        ua = _BROWSER_UAS[int(rng.integers(0, len(_BROWSER_UAS)))]
        prev = "https://duckduckgo.com/"
        for page in ("/", prod_paths[2 * k], prod_paths[2 * k + 1]):
            d = ms(20, 70)
            rows.add(ip, t, f"GET {page} HTTP/2.0", 200, 30_000 + int(rng.integers(0, 9_000)), ua, d, ref=prev, sid=sid)
            for j, (asset, size) in enumerate(_COMMON_ASSETS[:3] if page == "/" else ()):
                rows.add(
                    ip, t + d + 20_000 * (j + 1), f"GET {asset} HTTP/2.0", 200, size, ua, ms(0.3, 2),
                    ref=f"{SITE}{page}", sid=sid,
                )  # fmt: skip
            prev = f"{SITE}{page}"
            t += int(rng.uniform(8, 90) * _US)

    # valid but odd lines: an idle connection timing out, a TLS handshake on port 80
    span = we - ws
    rows.add(_rand_ipv4(rng), ws + int(span * 0.31), "-", 408, 0, "-", 20_000_000 + ms(0, 2))
    tls = "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03"
    rows.add(_rand_ipv4(rng), ws + int(span * 0.64), tls, 400, 226, "-", ms(0.1, 0.5))

    planted = _format(rows.frame(), offset_s, offset)

    # malformed lines
    fake = f'{_rand_ipv4(rng)} - - [{{}}] "GET /products/ HTTP/1.1" 200 24576 "-" "curl/8.5.0" 1200 "-"'

    def at(frac: float) -> int:
        return ws + int(span * frac)

    def apache_t(ts: int) -> str:
        local = _from_us(ts) + timedelta(seconds=offset_s)
        return local.strftime("%d/%b/%Y:%H:%M:%S ") + offset

    bad: list[tuple[int, str]] = [
        (at(0.13), ""),
        (at(0.37), fake.format(apache_t(at(0.37)))[:61]),
        (
            at(0.55),
            (_from_us(at(0.55)) + timedelta(seconds=offset_s)).strftime("[%a %b %d %H:%M:%S.%f %Y]")
            + " [mpm_event:notice] [pid 1187:tid 1187] AH00489: Apache/2.4.62 (Unix) configured"
            " -- resuming normal operations",
        ),
        (at(0.71), fake.replace("[{}]", "[" + _from_us(at(0.71)).isoformat(timespec="seconds") + "]")),
        (at(0.93), fake.format(apache_t(at(0.93))) + fake.format(apache_t(at(0.93)))),
    ]
    assert len(bad) == _MALFORMED
    malformed = pl.DataFrame(
        {"key": [k for k, _ in bad], "line": [line for _, line in bad]},
        schema={"key": pl.Int64(), "line": pl.String()},
    )
    info = Planted(
        scanner_ip=scanner_ip,
        bruteforce_ip=brute_ip,
        flood_ip=flood_ip,
        injection_ip=inj_ip,
        ipv6_ips=ipv6,
        windows=tuple(windows),
    )
    return pl.concat([planted, malformed]), info


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------


def generate_log(
    path: Path,
    *,
    now: datetime,
    days: int = 7,
    lines: int = 20_000,
    seed: int = 1,
    utc_offset: str = "+0100",
    gzip: bool = False,
) -> GeneratedLog:
    """Write a synthetic access log of exactly ``lines`` lines to ``path``.

    The log covers the ``days`` days ending at ``now`` (an aware datetime; every
    timestamp is in ``[now - days, now]``) and is written with timestamps in
    ``utc_offset``. ``gzip=True`` compresses the output (deterministically; the
    name is used as given). The same arguments always produce the same bytes.
    At least 200 lines are needed to hold the planted actors; they are scaled
    down for small logs (see :class:`Planted`).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ConfigError("generate_log: `now` must be timezone-aware, e.g. datetime.now(UTC)")
    if days < 1:
        raise ConfigError(f"generate_log: days must be >= 1, got {days}")
    if lines < _MIN_LINES:
        raise ConfigError(f"generate_log: lines must be >= {_MIN_LINES}, got {lines}")
    offset_s = _parse_offset(utc_offset)
    path = Path(path)
    now_utc = now.astimezone(UTC)
    start_utc = now_utc - timedelta(days=days)
    ws = -(-_epoch_us(start_utc) // _US) * _US  # first whole second in the window
    we = _epoch_us(now_utc) // _US * _US  # last whole second in the window

    seq = np.random.SeedSequence([seed & 0xFFFF_FFFF, seed >> 32 & 0xFFFF_FFFF, 0x10_66E4])
    s_catalog, s_time, s_planted, s_chunks = seq.spawn(4)
    catalog = _build_catalog(np.random.default_rng(s_catalog), lines, now_utc.year)
    timeline = _timeline(np.random.default_rng(s_time), ws, we, offset_s)
    salt = np.uint64(int(np.random.default_rng(s_chunks).integers(0, 2**63)))
    state = _State(catalog=catalog, timeline=timeline, salt=salt)
    extras, planted = _planted(np.random.default_rng(s_planted), state, lines, offset_s, utc_offset)

    n_bg = lines - extras.height
    n_chunks = max(1, math.ceil(n_bg / _CHUNK_LINES))
    n_cells = len(timeline.cell_start)
    n_chunks = min(n_chunks, n_cells)
    cell_bounds = (np.arange(n_chunks + 1) * n_cells) // n_chunks
    masses = np.add.reduceat(timeline.cell_mass, cell_bounds[:-1])
    quotas = _split_exact(n_bg, masses)
    time_bounds = timeline.cell_start[cell_bounds[1:-1]]
    extra_slice = np.searchsorted(time_bounds, extras.get_column("key").to_numpy(), side="right")
    extras = extras.with_columns(slice=pl.Series(extra_slice, dtype=pl.Int64))
    chunk_seeds = s_chunks.spawn(n_chunks)

    written = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw:
        out: IO[bytes] = (
            cast(IO[bytes], _gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=1))
            if gzip
            else raw
        )
        try:
            for k in range(n_chunks):
                parts: list[pl.DataFrame] = [extras.filter(pl.col("slice") == k).drop("slice")]
                if quotas[k] > 0:
                    rng = np.random.default_rng(chunk_seeds[k])
                    rows = _background(state, rng, (int(cell_bounds[k]), int(cell_bounds[k + 1])), int(quotas[k]))
                    parts.append(_format(rows, offset_s, utc_offset))
                chunk = pl.concat(parts).sort("key", maintain_order=True)
                chunk.select("line").write_csv(out, include_header=False, quote_style="never")
                written += chunk.height
        finally:
            if out is not raw:
                out.close()
    if written != lines:  # pragma: no cover - internal consistency
        raise AssertionError(f"wrote {written} lines, expected {lines}")
    return GeneratedLog(
        path=path,
        lines=lines,
        malformed=_MALFORMED,
        start=start_utc,
        end=now_utc,
        planted=planted,
        format=DEMO_FORMAT,
    )


def _main(argv: Sequence[str] | None = None) -> None:  # pragma: no cover - manual use
    """``python -m accesslake.loggen OUT [LINES]``: write a log ending now."""
    import sys
    import time

    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0] if args else "access.log")
    n = int(args[1]) if len(args) > 1 else 20_000
    t = time.perf_counter()
    result = generate_log(out, now=datetime.now(UTC), lines=n, gzip=out.suffix == ".gz")
    print(f"{result.lines} lines -> {result.path} in {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":  # pragma: no cover
    _main()
