"""Who a data-subject request is about, how their rows and raw lines are found, and the keyed hash.

A :class:`Subject` is an address (IPv4, IPv6 in any spelling, or a host name as logged, e.g. in
NASA-style logs), optionally a range (a CIDR network, an IPv4 wildcard ``203.0.113.*`` or a host
wildcard ``*.example.net``), and/or a session id. A range names more than one person's rows, so
it is refused without a written reason (``--confirm``); a network wider than /16 (IPv4) or /32
(IPv6) is refused outright.

Rows match when their ``client_ip`` is the address (or inside the range), their
``forwarded_for`` names it, or their ``session_id`` is the session; only personal rows
(``anonymized_at`` NULL) count. Free text (rejected lines, raw files) matches by token: the
address as a whole token in any spelling (``::ffff:192.0.2.1`` is ``192.0.2.1``), the session id
as a whole token.

The audit log never names the subject: it records :func:`subject_hash`, an HMAC-SHA-256 of the
subject under a random key kept in the lake (``forensics/subject.key``, 0600, never exported).
A plain hash of an IPv4 address is reversed by trying all 2^32; the keyed one cannot be without
the key, yet whoever holds the lake can show that a given request was handled.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from accesslake import storage
from accesslake.errors import ConfigError
from accesslake.storage import LakePath, Layout

__all__ = ["KEY_FILE", "Subject", "key_path", "parse_subject", "subject_hash"]

KEY_FILE = "subject.key"
WIDEST = {4: 16, 6: 32}
_IPV4 = re.compile(r"(?<![0-9.])\d{1,3}(?:\.\d{1,3}){3}(?![0-9]|\.[0-9])")
_IPV6 = re.compile(r"(?<![0-9A-Za-z:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}(?![0-9A-Za-z:])")
_HOST = re.compile(r"(?<![\w.-])[A-Za-z0-9][\w.-]*(?![\w.-])")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> Address | None:
    """A logged address as an IP (brackets and zone dropped; IPv4-mapped IPv6 as IPv4), else None."""
    value = text.strip().removeprefix("[").removesuffix("]").split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@dataclass(frozen=True)
class Subject:
    """The person a request is about: an address or range (``ip``), and/or a ``session`` id."""

    ip: str | None = None  # as given, normalised: an address, a network, or a host name (lower case)
    session: str | None = None
    network: Network | None = None  # set for an address (a /32 or /128) and for a network
    host_pattern: str | None = None  # a host name or host wildcard (no IP)
    confirm: str | None = None  # the written reason for a range

    @property
    def is_range(self) -> bool:
        """More than one address: a network wider than one address, or a host wildcard."""
        if self.network is not None:
            return self.network.num_addresses > 1
        return self.host_pattern is not None and any(c in self.host_pattern for c in "*?[")

    def canonical(self) -> str:
        """The subject as one string (what :func:`subject_hash` hashes)."""
        return f"ip={self.ip or ''}\nsession={self.session or ''}"

    def describe(self) -> str:
        parts = [f"address {self.ip}" if not self.is_range else f"range {self.ip}"] if self.ip else []
        return " and ".join(parts + ([f"session {self.session}"] if self.session else []))

    # ------------------------------------------------------------ values and rows

    def matches_client(self, value: str | None) -> bool:
        """Is a logged ``client_ip`` value the subject's address (or inside its range)?"""
        if value is None:
            return False
        if self.network is not None:
            ip = _address(value)
            return ip is not None and ip.version == self.network.version and ip in self.network
        if self.host_pattern is not None:
            return fnmatch.fnmatchcase(value.strip().lower(), self.host_pattern)
        return False

    def _client_column(self, column: str) -> pl.Expr:
        def match(series: pl.Series) -> pl.Series:
            mapping = {v: self.matches_client(v) for v in series.drop_nulls().unique().to_list()}
            return series.replace_strict(mapping, default=False, return_dtype=pl.Boolean)

        return pl.col(column).cast(pl.String).map_batches(match, return_dtype=pl.Boolean, is_elementwise=True)

    def _text_column(self, column: str) -> pl.Expr:
        def match(series: pl.Series) -> pl.Series:
            mapping = {v: self.mentioned_in(v) for v in series.drop_nulls().unique().to_list()}
            return series.replace_strict(mapping, default=False, return_dtype=pl.Boolean)

        return pl.col(column).cast(pl.String).map_batches(match, return_dtype=pl.Boolean, is_elementwise=True)

    def client_expr(self, column: str = "client_ip") -> pl.Expr:
        """True where ``column`` holds the subject's address (candidates: ``client_ip``); never null."""
        if self.ip is None:
            return pl.lit(False)
        return self._client_column(column).fill_null(False)

    def rows_expr(self) -> pl.Expr:
        """True where a stored request (requests/, held/) is about the subject and still personal."""
        terms = []
        if self.ip is not None:
            terms += [self._client_column("client_ip"), self._text_column("forwarded_for")]
        if self.session is not None:
            terms.append(pl.col("session_id") == pl.lit(self.session))
        return (pl.any_horizontal(terms).fill_null(False) & pl.col("anonymized_at").is_null()).fill_null(False)

    def lines_expr(self, column: str = "line") -> pl.Expr:
        """True where free text (a rejected line) mentions the subject; never null."""
        return self._text_column(column).fill_null(False)

    # ------------------------------------------------------------ free text

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where ``text`` names the subject: (start, end) of each token, in order, not overlapping."""
        found: list[tuple[int, int]] = []
        if self.network is not None:
            for pattern in (_IPV4, _IPV6):
                found += [m.span() for m in pattern.finditer(text) if self.matches_client(m.group())]
        elif self.host_pattern is not None:
            found += [m.span() for m in _HOST.finditer(text) if self.matches_client(m.group())]
        if self.session is not None:
            found += [m.span() for m in re.finditer(
                rf"(?<![A-Za-z0-9]){re.escape(self.session)}(?![A-Za-z0-9])", text)]
        merged: list[tuple[int, int]] = []
        for start, end in sorted(found):
            if merged and start < merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged

    def mentioned_in(self, text: str | None) -> bool:
        return bool(text) and bool(self.spans(text or ""))

    def masked(self, text: str, mask: Callable[[str], str] = lambda token: "x" * len(token)) -> str:
        """``text`` with every token naming the subject replaced (by default by as many ``x``)."""
        out, last = [], 0
        for start, end in self.spans(text):
            out += [text[last:start], mask(text[start:end])]
            last = end
        return "".join(out) + text[last:]


def _wildcard_network(text: str) -> Network | None:
    """``203.0.113.*`` -> 203.0.113.0/24 (trailing ``*`` octets only), else None."""
    parts = text.split(".")
    if len(parts) != 4 or "*" not in parts:
        return None
    stars = parts.index("*")
    if any(p != "*" for p in parts[stars:]) or not all(p.isdigit() for p in parts[:stars]):
        raise ConfigError(f"--ip: {text!r}: only trailing octets may be '*' (e.g. 203.0.113.*)")
    try:
        return ipaddress.ip_network(".".join(parts[:stars] + ["0"] * (4 - stars)) + f"/{8 * stars}")
    except ValueError as exc:
        raise ConfigError(f"--ip: {text!r} is not a valid address wildcard ({exc})") from exc


def _network(text: str) -> Network | None:
    if "/" in text:
        try:
            net: Network = ipaddress.ip_network(text.strip(), strict=True)
        except ValueError:
            raise ConfigError(f"--ip: {text!r} is not a valid network (host bits set?), e.g. 203.0.113.0/24") from None
        mapped = net.network_address.ipv4_mapped if isinstance(net, ipaddress.IPv6Network) else None
        if mapped is not None and net.prefixlen >= 96:
            net = ipaddress.IPv4Network((mapped, net.prefixlen - 96))
        return net
    wildcard = _wildcard_network(text)
    if wildcard is not None:
        return wildcard
    ip = _address(text)
    return ipaddress.ip_network(ip) if ip is not None else None


def parse_subject(ip: str | None = None, session: str | None = None, *, confirm: str | None = None) -> Subject:
    """The subject of ``--ip`` and/or ``--session``; a range needs ``confirm`` (the written reason)."""
    ip = ip.strip() if ip else None
    session = session.strip() if session else None
    if not ip and not session:
        raise ConfigError("subject: give --ip ADDRESS and/or --session ID: whom is the request about?")
    confirm = confirm.strip() if confirm else None
    network = _network(ip) if ip else None
    host = None
    if ip and network is None:
        if not re.fullmatch(r"[A-Za-z0-9*?][A-Za-z0-9.*?_-]*", ip):
            raise ConfigError(f"--ip: {ip!r} is neither an IP address, a network nor a host name")
        host = ip.lower()
    if network is not None and network.prefixlen < WIDEST[network.version]:
        raise ConfigError(f"--ip: {ip!r} is wider than /{WIDEST[network.version]}: name the subject's own "
                          "address or a small network")
    normal = (str(network.network_address) if network.num_addresses == 1 else str(network)) if network else host
    subject = Subject(ip=normal, session=session, network=network, host_pattern=host, confirm=confirm)
    if subject.is_range and not confirm:
        raise ConfigError(f"--ip: {ip!r} covers more than one address, so other people's rows too; if the request "
                          'really is about all of them, give the reason with --confirm "REASON"')
    return subject


# ---------------------------------------------------------------- the keyed hash


def key_path(lake: LakePath) -> LakePath:
    """``<lake>/forensics/subject.key``: the key of :func:`subject_hash` (0600, never exported)."""
    return Layout(lake).forensics / KEY_FILE


def _key(lake: LakePath) -> bytes:
    path = key_path(lake)
    text = storage.read_bytes_or_empty(path).strip()
    if not text:
        storage.make_private(Layout(lake).forensics, path.parent)
        with contextlib.suppress(FileExistsError):  # made by a concurrent call: use theirs
            storage.create_bytes(path, secrets.token_hex(32).encode() + b"\n", private=True)
        text = storage.read_bytes_or_empty(path).strip()
    try:
        return bytes.fromhex(text.decode("ascii"))
    except ValueError as exc:
        raise ConfigError(f"{path}: not a subject key (64 hex digits); restore it from a backup") from exc


def subject_hash(lake: LakePath, subject: Subject) -> str:
    """HMAC-SHA-256 of the subject under the lake's key (created on first use): the audit log's name for it."""
    return hmac.new(_key(lake), subject.canonical().encode("utf-8"), hashlib.sha256).hexdigest()
