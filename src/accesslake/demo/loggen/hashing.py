"""Deterministic hashing: stable per-visitor draws that do not consume the random stream."""

from __future__ import annotations

from typing import Final

import numpy as np
import polars as pl

from accesslake.demo.loggen.arrays import F64, U64

_HEX_DIGITS: Final = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)

# What a visitor hash is for: each purpose gets its own, independent value.
H_KIND: Final = 0  # browser, crawler, curl or staff
H_IPV4: Final = 1  # IPv4 address (and Bing network)
H_IPV6: Final = 2  # whether a browser uses IPv6
H_USER_AGENT: Final = 3  # User-Agent (and staff user name)
H_COOKIE: Final = 4  # whether a browser sends the session cookie
H_HTTP2: Final = 5  # HTTP/2.0 or HTTP/1.1
H_IPV6_LOW: Final = 6  # four groups of the IPv6 address
H_IPV6_HIGH: Final = 7  # two more groups and the IPv6 prefix


def mix(x: U64) -> U64:
    """SplitMix64 finaliser: a fast, well-spread hash of uint64 values."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def unit(h: U64) -> F64:
    """Hash values to floats in [0, 1)."""
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def hex_digits(values: U64, width: int) -> pl.Series:
    """Lower-case hex of the low ``4 * width`` bits, zero padded to ``width``."""
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
    nibbles = (values[:, None] >> shifts[None, :]) & np.uint64(15)
    chars = np.ascontiguousarray(_HEX_DIGITS[nibbles])
    return pl.Series(chars.view(f"S{width}").ravel()).cast(pl.String)


def visitor_hash(salt: np.uint64, visitor: U64, purpose: int) -> U64:
    """A hash of each visitor id for one ``purpose`` (``H_*``), the same in every session."""
    return mix((visitor * np.uint64(16) + np.uint64(purpose)) ^ salt)
