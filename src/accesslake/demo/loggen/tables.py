"""The data the generator draws from: words, networks, User-Agents, referrers, pages, attacks.

Only constants live here (and the few arrays derived from them at import time);
how they are drawn is in :mod:`.catalog`, :mod:`.visitors`, :mod:`.background`
and :mod:`.planted`.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import numpy as np
import polars as pl

from accesslake.demo.loggen.arrays import F64

SITE: Final[str] = "https://www.example.com"

# --------------------------------------------------------------------------------------
# Vocabulary (product names, blog slugs, search terms)
# --------------------------------------------------------------------------------------

CATEGORIES = (
    "shoes", "jackets", "bags", "backpacks", "watches", "lamps", "chairs", "tables",
    "mugs", "notebooks", "headphones", "bikes", "tents", "knives",
)  # fmt: skip
ADJECTIVES = (
    "classic", "urban", "alpine", "compact", "vintage", "light", "modern", "rustic",
    "nordic", "smart", "solid", "soft", "bold", "slim", "tough", "quiet", "bright",
    "waxed", "merino", "oak", "walnut", "steel", "linen", "canvas", "leather", "bamboo",
    "trail", "city", "travel", "studio", "coastal", "midnight", "forest", "desert",
    "arctic", "everyday", "pro", "mini", "grand", "retro",
)  # fmt: skip
NOUNS = (
    "runner", "parka", "tote", "daypack", "chronograph", "pendant", "stool", "desk",
    "cup", "journal", "earbuds", "roadster", "dome", "chef", "sneaker", "shell",
    "duffel", "rucksack", "diver", "lantern", "armchair", "bench", "tumbler", "planner",
    "headset", "gravel", "shelter", "paring", "loafer", "vest", "messenger", "sling",
    "field", "spotlight", "rocker", "console", "kettle", "sketchbook", "speaker", "cruiser",
)  # fmt: skip
WORDS = (
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

# --------------------------------------------------------------------------------------
# Networks
# --------------------------------------------------------------------------------------

# Public /8 networks the background uses (no private, loopback, CGNAT, link-local,
# multicast, or the 192/198/203 blocks that hold the TEST-NETs the attackers use).
_EXCLUDED_FIRST_OCTETS = {0, 10, 100, 127, 169, 172, 192, 198, 203}
FIRST_OCTETS = np.array([o for o in range(1, 224) if o not in _EXCLUDED_FIRST_OCTETS], dtype=np.int64)
IPV6_PREFIXES = (
    "2a02:8108", "2003:ea", "2a01:c22", "2a02:810d", "2001:16b8", "2a0a:a540",
    "2a00:20", "2a02:3100", "2600:1700", "2607:fb90", "2a01:e0a", "2a02:908",
)  # fmt: skip
BING_NETS = ("157.55.39", "40.77.167", "207.46.13", "52.167.144")

# --------------------------------------------------------------------------------------
# User-Agents
# --------------------------------------------------------------------------------------

_CHROME = tuple(str(v) for v in range(134, 143))
_FIREFOX = tuple(str(v) for v in range(139, 146))
_SAFARI = ("17.6", "18.5", "18.6", "26.0", "26.1")
_BROWSER_UA_TEMPLATES: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/{v}.0.0.0 Safari/537.36", _CHROME, 24.0),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/{v}.0.0.0 Safari/537.36", _CHROME, 7.0),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/{v}.0.0.0 Safari/537.36", _CHROME, 2.0),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/{v}.0.0.0 Mobile Safari/537.36", _CHROME, 18.0),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0", _CHROME, 7.0),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", _FIREFOX, 5.0),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", _FIREFOX, 1.2),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", _FIREFOX, 1.0),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", _FIREFOX, 0.6),
    ("Mozilla/5.0 (Android 15; Mobile; rv:{v}.0) Gecko/{v}.0 Firefox/{v}.0", _FIREFOX, 0.8),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/{v} Safari/605.1.15", _SAFARI, 6.0),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS {u} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/{v} Mobile/15E148 Safari/604.1", _SAFARI, 17.0),
    ("Mozilla/5.0 (iPad; CPU OS {u} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/{v} Mobile/15E148 Safari/604.1", _SAFARI, 2.5),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "CriOS/{v}.0.7390.96 Mobile/15E148 Safari/604.1", _CHROME, 2.0),
    ("Mozilla/5.0 (Linux; Android 15; SAMSUNG SM-S931B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/28.0 Chrome/{v}.0.0.0 Mobile Safari/537.36", _CHROME, 3.0),
)  # fmt: skip
UA_GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
UA_GOOGLEBOT_MOBILE = (
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/141.0.7390.122 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)
UA_BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
UA_CURL = ("curl/8.5.0", "curl/7.88.1", "curl/8.14.1", "curl/7.81.0")


def _browser_user_agents() -> tuple[list[str], F64]:
    """Browser User-Agents (newer versions more common) and their weights."""
    uas: list[str] = []
    weights: list[float] = []
    for template, versions, share in _BROWSER_UA_TEMPLATES:
        ramp = np.array([1.7**i for i in range(len(versions))])
        ramp /= ramp.sum()
        for version, w in zip(versions, ramp, strict=True):
            uas.append(template.format(v=version, u=version.replace(".", "_")))
            weights.append(share * float(w))
    arr = np.array(weights)
    return uas, arr / arr.sum()


BROWSER_UAS, _BROWSER_UA_P = _browser_user_agents()
BROWSER_UA_CDF = np.cumsum(_BROWSER_UA_P)
USER_AGENTS = pl.Series("ua", [*BROWSER_UAS, UA_GOOGLEBOT, UA_GOOGLEBOT_MOBILE, UA_BINGBOT, *UA_CURL], dtype=pl.String)
"""Every background User-Agent; the ``UA_INDEX_*`` constants are positions in it."""
UA_INDEX_GOOGLEBOT = len(BROWSER_UAS)  # followed by the smartphone Googlebot
UA_INDEX_BINGBOT = len(BROWSER_UAS) + 2
UA_INDEX_CURL = len(BROWSER_UAS) + 3

# --------------------------------------------------------------------------------------
# Referrers for the first page of a browser session: (referrer, utm query, weight)
# --------------------------------------------------------------------------------------

LANDING_REFERRERS: tuple[tuple[str, str, float], ...] = (
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
_REFERRER_WEIGHTS = np.array([w for _, _, w in LANDING_REFERRERS])
REFERRER_CDF = np.cumsum(_REFERRER_WEIGHTS / _REFERRER_WEIGHTS.sum())
REFERRER_HAS_UTM = np.array([bool(u) for _, _, u in LANDING_REFERRERS])

# --------------------------------------------------------------------------------------
# Assets every HTML page loads: (path, bytes)
# --------------------------------------------------------------------------------------

COMMON_ASSETS: tuple[tuple[str, int], ...] = (
    ("/css/site.css", 48_213),
    ("/js/app.js", 131_587),
    ("/img/logo.png", 9_120),
    ("/fonts/inter-var.woff2", 48_256),
    ("/favicon.ico", 15_086),
)

# --------------------------------------------------------------------------------------
# Requests and the fixed pages of the catalogue
# --------------------------------------------------------------------------------------

GET, POST, HEAD = 0, 1, 2
METHODS = pl.Series("m", ["GET", "POST", "HEAD"])
"""Method names, indexed by ``GET``, ``POST`` and ``HEAD``."""
PROTOCOLS = pl.Series("p", ["HTTP/1.1", "HTTP/2.0"])
Q_NONE, Q_PAGE, Q_SEARCH = 0, 1, 2  # query kinds: none, ``?page=N``, ``?q=...``


class FixedPage(NamedTuple):
    """One hand-written page of the catalogue."""

    path: str
    weights: tuple[float, float, float, float, float]  # per profile: landing, browsing, crawler, curl, staff
    status: int
    method: int
    bytes: int
    html: bool
    query: int  # Q_NONE, Q_PAGE or Q_SEARCH
    img: str  # the page's own image, "" for none


FIXED_PAGES: tuple[FixedPage, ...] = (
    FixedPage("/", (60, 8, 5, 70, 0), 200, GET, 18_432, True, Q_NONE, "/img/hero.png"),
    FixedPage("/products/", (6, 10, 3, 0, 0), 200, GET, 24_576, True, Q_PAGE, ""),
    FixedPage("/blog/", (6, 4, 3, 0, 0), 200, GET, 16_384, True, Q_PAGE, ""),
    FixedPage("/search", (3, 14, 0, 0, 0), 200, GET, 12_288, True, Q_SEARCH, ""),
    FixedPage("/about/", (2, 2, 1, 0, 0), 200, GET, 11_204, True, Q_NONE, "/img/team.png"),
    FixedPage("/contact/", (1.5, 2.5, 1, 0, 0), 200, GET, 9_873, True, Q_NONE, ""),
    FixedPage("/imprint/", (0.3, 0.8, 1, 0, 0), 200, GET, 7_310, True, Q_NONE, ""),
    FixedPage("/privacy/", (0.3, 1.0, 1, 0, 0), 200, GET, 21_654, True, Q_NONE, ""),
    FixedPage("/faq/", (1, 2, 1, 0, 0), 200, GET, 14_502, True, Q_NONE, ""),
    FixedPage("/shipping/", (0.5, 2, 1, 0, 0), 200, GET, 8_733, True, Q_NONE, ""),
    FixedPage("/returns/", (0.3, 1, 1, 0, 0), 200, GET, 8_120, True, Q_NONE, ""),
    FixedPage("/login", (1.5, 3, 0.5, 0, 0), 200, GET, 6_120, True, Q_NONE, ""),
    FixedPage("/login", (0, 2, 0, 0, 0), 302, POST, 0, False, Q_NONE, ""),
    FixedPage("/cart/", (0.5, 6, 0, 0, 0), 200, GET, 10_240, True, Q_NONE, ""),
    FixedPage("/cart/add", (0, 5, 0, 0, 0), 302, POST, 0, False, Q_NONE, ""),
    FixedPage("/checkout/", (0, 2.5, 0, 0, 0), 200, GET, 15_872, True, Q_NONE, ""),
    FixedPage("/checkout/complete", (0, 0.8, 0, 0, 0), 200, GET, 9_216, True, Q_NONE, ""),
    FixedPage("/newsletter/subscribe", (0, 0.5, 0, 0, 0), 302, POST, 0, False, Q_NONE, ""),
    FixedPage("/robots.txt", (0, 0, 10, 20, 0), 200, GET, 312, False, Q_NONE, ""),
    FixedPage("/sitemap.xml", (0, 0, 4, 0, 0), 200, GET, 183_240, False, Q_NONE, ""),
    FixedPage("/feed.xml", (0.5, 0.1, 2, 10, 0), 200, GET, 64_528, False, Q_NONE, ""),
    FixedPage("/shop", (0.8, 0.3, 1, 0, 0), 301, GET, 239, False, Q_NONE, ""),
    FixedPage("/blog", (0.3, 0.3, 1, 0, 0), 301, GET, 239, False, Q_NONE, ""),
    FixedPage("/index.html", (0.2, 0.1, 0.5, 0, 0), 301, GET, 239, False, Q_NONE, ""),
    FixedPage("/account/", (0.2, 1.5, 0.2, 0, 0), 302, GET, 0, False, Q_NONE, ""),
    FixedPage("/admin/", (0, 0, 0, 0, 6), 200, GET, 22_016, True, Q_NONE, ""),
    FixedPage("/admin/orders/", (0, 0, 0, 0, 10), 200, GET, 48_640, True, Q_PAGE, ""),
    FixedPage("/admin/products/", (0, 0, 0, 0, 6), 200, GET, 40_960, True, Q_PAGE, ""),
    FixedPage("/admin/stats/", (0, 0, 0, 0, 4), 200, GET, 30_720, True, Q_NONE, ""),
)

# --------------------------------------------------------------------------------------
# Planted attacks
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
    ("GET", "/web.config", 404), ("GET", "/_ignition/execute-solution", 404),
    ("GET", "/autodiscover/autodiscover.xml", 404), ("GET", "/remote/login", 404),
    ("GET", "/Telerik.Web.UI.WebResource.axd", 404),
)  # fmt: skip
# the probes every scan starts with, so that even a small log has a recognisable scan
SCANNER_FIRST = (
    "/", "/wp-login.php", "/.env", "/phpmyadmin/", "/admin.php", "/cgi-bin/luci", "/.git/config",
    "/wp-admin/", "/xmlrpc.php", "/.aws/credentials",
)  # fmt: skip
SCANNER_PROBES = tuple(
    sorted(_SCANNER_ALL, key=lambda p: SCANNER_FIRST.index(p[1]) if p[1] in SCANNER_FIRST else len(SCANNER_FIRST))
)
SCANNER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.129 Safari/537.36"
BRUTEFORCE_UA = "python-requests/2.32.3"
FLOOD_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
_SQLMAP_UA = "sqlmap/1.8.11#stable (https://sqlmap.org)"
_INJECTION_BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
# (method, target, status, bytes, user agent); percent-encoded as clients send them
INJECTIONS: tuple[tuple[str, str, int, int, str], ...] = (
    ("GET", "/products/?id=1%27%20OR%201%3D1--", 200, 24_702, _SQLMAP_UA),
    ("GET", "/search?q=%27%20OR%201%3D1--%20", 200, 12_410, _SQLMAP_UA),
    ("GET", "/search?q=1%27%20UNION%20SELECT%20username%2Cpassword%20FROM%20users--", 500, 531, _SQLMAP_UA),
    ("GET", "/products/?sort=name%27%3B%20DROP%20TABLE%20orders%3B--", 500, 531, _SQLMAP_UA),
    ("GET", "/download?file=..%2F..%2F..%2F..%2Fetc%2Fpasswd", 404, 4_862, _INJECTION_BROWSER_UA),
    ("GET", "/index.php?page=../../../../etc/passwd", 404, 4_862, _INJECTION_BROWSER_UA),
    ("GET", "/search?q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E", 200, 12_388, _INJECTION_BROWSER_UA),
    ("GET", "/blog/?s=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E", 200, 16_512, _INJECTION_BROWSER_UA),
)
