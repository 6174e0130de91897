"""Who visits: the kind of each visitor and what identifies it (address, User-Agent, cookie).

Everything here is derived from the visitor id with :func:`.hashing.visitor_hash`,
so a returning visitor keeps its kind, address and User-Agent in every session,
and none of it consumes the random stream.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from accesslake.demo.loggen.arrays import I64, U64, BoolA, pick
from accesslake.demo.loggen.hashing import (
    H_COOKIE,
    H_HTTP2,
    H_IPV4,
    H_IPV6,
    H_IPV6_HIGH,
    H_IPV6_LOW,
    H_KIND,
    H_USER_AGENT,
    hex_digits,
    mix,
    unit,
    visitor_hash,
)
from accesslake.demo.loggen.tables import (
    BING_NETS,
    BROWSER_UA_CDF,
    BROWSER_UAS,
    FIRST_OCTETS,
    IPV6_PREFIXES,
    UA_CURL,
    UA_INDEX_BINGBOT,
    UA_INDEX_CURL,
    UA_INDEX_GOOGLEBOT,
)

# Visitor kinds
BROWSER, GOOGLEBOT, BINGBOT, CURL, STAFF = range(5)
STAFF_USERS = pl.Series("u", ["-", "editor", "mschulz", "kweber"])
"""``%u`` values; index 0 for everybody who is not logged in with basic auth."""


def visitor_kinds(salt: np.uint64, visitor: U64) -> I64:
    """Kind of each visitor: 1.2% Googlebot, 0.6% bingbot, 1.4% curl, 0.2% staff, the rest browsers."""
    u = unit(visitor_hash(salt, visitor, H_KIND))
    return np.select(
        [u < 0.012, u < 0.018, u < 0.032, u < 0.034],
        [GOOGLEBOT, BINGBOT, CURL, STAFF],
        BROWSER,
    ).astype(np.int64)


def client_ips(salt: np.uint64, visitor: U64, kind: I64) -> pl.Series:
    """Client address of each visitor, derived from its id (stable across sessions)."""
    h = visitor_hash(salt, visitor, H_IPV4)
    o1 = FIRST_OCTETS[(h % np.uint64(len(FIRST_OCTETS))).astype(np.int64)]
    o2 = ((h >> np.uint64(16)) & np.uint64(255)).astype(np.int64)
    o3 = ((h >> np.uint64(24)) & np.uint64(255)).astype(np.int64)
    o4 = 1 + ((h >> np.uint64(32)) % np.uint64(254)).astype(np.int64)
    google = kind == GOOGLEBOT
    o1 = np.where(google, 66, o1)
    o2 = np.where(google, 249, o2)
    o3 = np.where(google, 64 + o3 % 16, o3)
    ips = (
        pl.DataFrame({"a": o1, "b": o2, "c": o3, "d": o4})
        .select(pl.concat_str([pl.col(c).cast(pl.String) for c in "abcd"], separator="."))
        .to_series()
    )
    bing = np.nonzero(kind == BINGBOT)[0]
    if len(bing):
        net = pick(pl.Series(BING_NETS), (h[bing] % np.uint64(len(BING_NETS))).astype(np.int64))
        ips = ips.scatter(bing, net + "." + pl.Series(o4[bing]).cast(pl.String))
    u6 = unit(visitor_hash(salt, visitor, H_IPV6))
    v6 = np.nonzero((u6 < 0.04) & ((kind == BROWSER) | (kind == STAFF)))[0]
    if len(v6):
        ips = ips.scatter(v6, _ipv6_addresses(salt, visitor[v6]))
    return ips


def _ipv6_addresses(salt: np.uint64, visitor: U64) -> pl.Series:
    """A residential-looking IPv6 address (ISP prefix and six groups) for each visitor."""
    low = visitor_hash(salt, visitor, H_IPV6_LOW)
    high = visitor_hash(salt, visitor, H_IPV6_HIGH)
    groups = [(low >> np.uint64(16 * k)) & np.uint64(0xFFFF) for k in range(4)] + [
        (high >> np.uint64(16 * k)) & np.uint64(0xFFFF) for k in range(2)
    ]
    # keep every group four digits long without a leading zero (canonical text form)
    parts = [hex_digits(np.uint64(0x1000) + grp % np.uint64(0xF000), 4) for grp in groups]
    prefix = pick(pl.Series(IPV6_PREFIXES), (high >> np.uint64(40)) % np.uint64(len(IPV6_PREFIXES)))
    return pl.select(pl.concat_str([prefix, *parts], separator=":")).to_series()


def user_agent_index(salt: np.uint64, visitor: U64, kind: I64) -> I64:
    """Position in :data:`.tables.USER_AGENTS` of each visitor's User-Agent."""
    h = visitor_hash(salt, visitor, H_USER_AGENT)
    return np.select(
        [kind == GOOGLEBOT, kind == BINGBOT, kind == CURL],
        [
            UA_INDEX_GOOGLEBOT + (h & np.uint64(1)).astype(np.int64),
            np.full(len(visitor), UA_INDEX_BINGBOT),
            UA_INDEX_CURL + (h % np.uint64(len(UA_CURL))).astype(np.int64),
        ],
        np.minimum(np.searchsorted(BROWSER_UA_CDF, unit(h), side="right"), len(BROWSER_UAS) - 1),
    )


def staff_user_index(salt: np.uint64, visitor: U64, kind: I64) -> I64:
    """Position in :data:`STAFF_USERS` of the name a staff member logs in with (0 for others)."""
    h = visitor_hash(salt, visitor, H_USER_AGENT)
    return np.where(kind == STAFF, 1 + (h % np.uint64(3)).astype(np.int64), 0)


def session_cookies(salt: np.uint64, visitor: U64, kind: I64, session_ids: U64) -> pl.Series:
    """The ``sid`` cookie of each session: 26 hex digits, or ``-`` when the client sends none.

    About 12% of browsers send no cookie, nor do crawlers and curl; staff always do.
    """
    u_cookie = unit(visitor_hash(salt, visitor, H_COOKIE))
    has_cookie = ((kind == BROWSER) & (u_cookie >= 0.12)) | (kind == STAFF)
    sid_a = mix(session_ids ^ salt ^ np.uint64(0xA5A5A5A5))
    sid_b = mix(sid_a)
    sid_hex = hex_digits(sid_a, 16) + hex_digits(sid_b, 10)
    return pl.select(pl.when(pl.Series(has_cookie)).then(sid_hex).otherwise(pl.lit("-"))).to_series()


def uses_http2(salt: np.uint64, visitor: U64, kind: I64) -> BoolA:
    """Whether each visitor speaks HTTP/2.0 (45%; never curl or bingbot)."""
    fast: BoolA = (unit(visitor_hash(salt, visitor, H_HTTP2)) < 0.45) & (kind != CURL) & (kind != BINGBOT)
    return fast
