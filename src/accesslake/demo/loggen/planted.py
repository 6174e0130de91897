"""Planted actors (scanner, brute force, flood, injection, IPv6 visitors), odd lines and malformed lines.

All are placed relative to the end of the window (``now``) and drawn from their
own random stream, in a fixed order: the order of the draws and of the rows is
part of the output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

import numpy as np
import polars as pl

from accesslake.demo.loggen.catalog import C_PRODUCT, ERROR_PAGE_BYTES, Catalog
from accesslake.demo.loggen.render import ROW_SCHEMA, format_lines
from accesslake.demo.loggen.tables import (
    BROWSER_UAS,
    BRUTEFORCE_UA,
    COMMON_ASSETS,
    FIRST_OCTETS,
    FLOOD_UA,
    INJECTIONS,
    SCANNER_FIRST,
    SCANNER_PROBES,
    SCANNER_UA,
    SITE,
    WORDS,
)
from accesslake.demo.loggen.timeline import US, Timeline, from_us

MALFORMED: Final = 5
_HOUR: Final = 3600 * US

Window = tuple[str, datetime, datetime]


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


class _Rows:
    """Accumulates hand-made rows (planted actors) in the background's schema."""

    def __init__(self) -> None:
        self.cols: dict[str, list[object]] = {name: [] for name in ROW_SCHEMA.names()}

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
        return pl.DataFrame(self.cols, schema=ROW_SCHEMA)


def _rand_ipv4(rng: np.random.Generator) -> str:
    o1 = int(FIRST_OCTETS[rng.integers(0, len(FIRST_OCTETS))])
    return f"{o1}.{rng.integers(0, 256)}.{rng.integers(0, 256)}.{rng.integers(1, 255)}"


def _serve_us(rng: np.random.Generator, lo_ms: float, hi_ms: float) -> int:
    """A time to serve (us) drawn uniformly between ``lo_ms`` and ``hi_ms`` milliseconds."""
    return int(rng.uniform(lo_ms, hi_ms) * 1000)


def planted_lines(
    rng: np.random.Generator, catalog: Catalog, timeline: Timeline, lines: int, offset_s: int, offset: str
) -> tuple[pl.DataFrame, Planted]:
    """Rows of the planted actors plus the malformed lines, with their write keys."""
    rows = _Rows()
    end = timeline.last_us
    scanner_ip, scanner_window = _scanner(rng, rows, end, lines)
    brute_ip, brute_window = _bruteforce(rng, rows, end, lines)
    flood_ip, flood_window = _flood(rng, rows, end, lines, catalog)
    inj_ip, inj_window = _injection(rng, rows, end)
    ipv6 = _ipv6_visitors(rng, rows, end, catalog)
    _odd_lines(rng, rows, timeline)
    planted = format_lines(rows.frame(), offset_s, offset)
    malformed = _malformed_lines(rng, timeline, offset_s, offset)
    info = Planted(
        scanner_ip=scanner_ip,
        bruteforce_ip=brute_ip,
        flood_ip=flood_ip,
        injection_ip=inj_ip,
        ipv6_ips=ipv6,
        windows=(scanner_window, brute_window, flood_window, inj_window),
    )
    return pl.concat([planted, malformed]), info


def _scanner(rng: np.random.Generator, rows: _Rows, end: int, lines: int) -> tuple[str, Window]:
    """Scanner: up to 74 probes, 2-7.5 s apart -> under 10 minutes."""
    scanner_ip = f"203.0.113.{rng.integers(10, 120)}"
    t = t0 = end - 20 * _HOUR
    n_scan = min(len(SCANNER_PROBES), max(len(SCANNER_FIRST), lines // 20))
    for method, target, status in SCANNER_PROBES[:n_scan]:
        size = {200: 18_432, 404: ERROR_PAGE_BYTES, 403: 199, 400: 226, 401: 381}[status]
        if target == "/robots.txt":
            size = 312
        elif target == "/sitemap.xml":
            size = 183_240
        rows.add(scanner_ip, t, f"{method} {target} HTTP/1.1", status, size, SCANNER_UA, _serve_us(rng, 2, 15))
        last = t
        t += int(rng.uniform(2.0, 7.5) * US)
    return scanner_ip, ("scanner", from_us(t0), from_us(last))


def _bruteforce(rng: np.random.Generator, rows: _Rows, end: int, lines: int) -> tuple[str, Window]:
    """Brute force: POST /login every ~2 s for up to 14 minutes, 401 until it guesses right."""
    brute_ip = f"198.51.100.{rng.integers(10, 250)}"
    n_brute = int(np.clip(lines // 40, 10, 400))
    t = t0 = end - 16 * _HOUR
    for i in range(n_brute):
        ok = i in (n_brute - 3, n_brute - 1)
        status, size = (200, 7_311) if ok else (401, 6_120 + int(rng.integers(0, 40)))
        ref = f"{SITE}/login"
        rows.add(brute_ip, t, "POST /login HTTP/1.1", status, size, BRUTEFORCE_UA, _serve_us(rng, 180, 340), ref=ref)
        last = t
        t += int(rng.uniform(1.0, 3.1) * US)
    return brute_ip, ("bruteforce", from_us(t0), from_us(last))


def _flood(rng: np.random.Generator, rows: _Rows, end: int, lines: int, catalog: Catalog) -> tuple[str, Window]:
    """Flood: thousands of GETs within ~110 s, the site starts answering 503."""
    flood_ip = f"192.0.2.{rng.integers(10, 250)}"
    n_flood = int(np.clip(lines // 10, 20, 3_000))
    t0 = end - 12 * _HOUR
    times = np.sort(t0 + (rng.random(n_flood) * 110 * US).astype(np.int64))
    first_product, n_products = int(catalog.offsets[C_PRODUCT]), int(catalog.sizes[C_PRODUCT])
    products = catalog.path.gather(first_product + rng.integers(0, n_products, n_flood)).to_list()
    kinds = rng.random(n_flood)
    for i in range(n_flood):
        if kinds[i] < 0.4:
            target, size = "/", 18_432
        elif kinds[i] < 0.7:
            target, size = f"/search?q={WORDS[rng.integers(0, len(WORDS))]}{rng.integers(0, 10_000)}", 12_288
        else:
            target, size = products[i], 41_000
        overloaded = i > n_flood * 0.4 and rng.random() < 0.35
        if overloaded:
            status, size, dur = 503, 299, _serve_us(rng, 20, 60)
        else:
            status, dur = 200, _serve_us(rng, 150, 2_400)
        rows.add(flood_ip, int(times[i]), f"GET {target} HTTP/1.1", status, size, FLOOD_UA, dur)
    return flood_ip, ("flood", from_us(int(times[0])), from_us(int(times[-1])))


def _injection(rng: np.random.Generator, rows: _Rows, end: int) -> tuple[str, Window]:
    """Injection attempts, a few minutes apart, plus an XSS payload in the User-Agent."""
    inj_ip = f"203.0.113.{rng.integers(130, 250)}"
    t = t0 = end - 8 * _HOUR
    for method, target, status, size, ua in INJECTIONS:
        rows.add(inj_ip, t, f"{method} {target} HTTP/1.1", status, size, ua, _serve_us(rng, 8, 400))
        t += int(rng.uniform(60, 200) * US)
    xss_ua = 'Mozilla/5.0 \\"><script>alert(1)</script>'
    rows.add(inj_ip, t, "GET / HTTP/1.1", 200, 18_432, xss_ua, _serve_us(rng, 20, 60))
    return inj_ip, ("injection", from_us(t0), from_us(t))


def _ipv6_visitors(rng: np.random.Generator, rows: _Rows, end: int, catalog: Catalog) -> tuple[str, ...]:
    """Planted IPv6 visitors (full, compressed and short forms), each a short cookie session."""
    g = [int(x) for x in rng.integers(0x1000, 0xFFFF, 8)]  # address groups
    ipv6 = (
        f"2001:db8:{g[0]:x}:{g[1]:x}:{g[2]:x}:{g[3]:x}:{g[4]:x}:{g[5]:x}",
        f"2001:db8:{g[6]:x}::{g[7]:x}",
        f"2001:db8:{g[2]:x}:{g[4]:x}::1",
    )
    first_product, n_products = int(catalog.offsets[C_PRODUCT]), int(catalog.sizes[C_PRODUCT])
    prod_paths = catalog.path.gather(first_product + rng.integers(0, min(n_products, 50), 6)).to_list()
    for k, ip in enumerate(ipv6):
        t = end - int((6 - 1.5 * k) * _HOUR)
        sid = f"{int(rng.integers(0, 2**62)):016x}{int(rng.integers(0, 2**40)):010x}"
        ua = BROWSER_UAS[int(rng.integers(0, len(BROWSER_UAS)))]
        prev = "https://duckduckgo.com/"
        for page in ("/", prod_paths[2 * k], prod_paths[2 * k + 1]):
            serve = _serve_us(rng, 20, 70)
            size = 30_000 + int(rng.integers(0, 9_000))
            rows.add(ip, t, f"GET {page} HTTP/2.0", 200, size, ua, serve, ref=prev, sid=sid)
            for j, (asset, asset_size) in enumerate(COMMON_ASSETS[:3] if page == "/" else ()):
                asset_t = t + serve + 20_000 * (j + 1)  # css, js and logo 20 ms apart once the page is served
                asset_serve = _serve_us(rng, 0.3, 2)
                rows.add(
                    ip, asset_t, f"GET {asset} HTTP/2.0", 200, asset_size, ua, asset_serve, ref=f"{SITE}{page}", sid=sid
                )
            prev = f"{SITE}{page}"
            t += int(rng.uniform(8, 90) * US)
    return ipv6


def _odd_lines(rng: np.random.Generator, rows: _Rows, timeline: Timeline) -> None:
    """Valid but odd lines: an idle connection timing out, a TLS handshake on port 80."""
    first, span = timeline.first_us, timeline.last_us - timeline.first_us
    rows.add(_rand_ipv4(rng), first + int(span * 0.31), "-", 408, 0, "-", 20_000_000 + _serve_us(rng, 0, 2))
    tls = "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03"
    rows.add(_rand_ipv4(rng), first + int(span * 0.64), tls, 400, 226, "-", _serve_us(rng, 0.1, 0.5))


def _malformed_lines(rng: np.random.Generator, timeline: Timeline, offset_s: int, offset: str) -> pl.DataFrame:
    """The MALFORMED lines (``key`` and ``line``): empty, truncated, error log, ISO time, two glued."""
    first, span = timeline.first_us, timeline.last_us - timeline.first_us
    fake = f'{_rand_ipv4(rng)} - - [{{}}] "GET /products/ HTTP/1.1" 200 24576 "-" "curl/8.5.0" 1200 "-"'

    def at(frac: float) -> int:
        return first + int(span * frac)

    def apache_t(ts: int) -> str:
        local = from_us(ts) + timedelta(seconds=offset_s)
        return local.strftime("%d/%b/%Y:%H:%M:%S ") + offset

    bad: list[tuple[int, str]] = [
        (at(0.13), ""),
        (at(0.37), fake.format(apache_t(at(0.37)))[:61]),
        (
            at(0.55),
            (from_us(at(0.55)) + timedelta(seconds=offset_s)).strftime("[%a %b %d %H:%M:%S.%f %Y]")
            + " [mpm_event:notice] [pid 1187:tid 1187] AH00489: Apache/2.4.62 (Unix) configured"
            " -- resuming normal operations",
        ),
        (at(0.71), fake.replace("[{}]", "[" + from_us(at(0.71)).isoformat(timespec="seconds") + "]")),
        (at(0.93), fake.format(apache_t(at(0.93))) + fake.format(apache_t(at(0.93)))),
    ]
    assert len(bad) == MALFORMED
    return pl.DataFrame(
        {"key": [k for k, _ in bad], "line": [line for _, line in bad]},
        schema={"key": pl.Int64(), "line": pl.String()},
    )
