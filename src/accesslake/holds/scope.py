"""The scope of an incident hold: which rows it covers, and the predicate that selects them.

A :class:`Scope` is a UTC time window ``[start, end)`` narrowed by client IPs,
networks, session ids, path globs or user-agent substrings; :func:`scope_expr`
turns it into a Polars expression over request columns. A hold
(:mod:`accesslake.holds`) carries one scope.

Scope rules, all checked when a :class:`Scope` is built (also when loaded):

* the window ``[start, end)`` is UTC-aware, non-empty and at most 31 days;
* at least one of ips / cidrs / session ids / paths / user agents narrows it;
* IPs are normalised (``2001:DB8::1`` -> ``2001:db8::1``, IPv4-mapped IPv6
  -> IPv4); a CIDR with host bits set is refused (a typo must not silently
  widen or move a scope); networks wider than /8 (IPv4) or /16 (IPv6) are
  refused as not narrow;
* paths are shell globs with :mod:`fnmatch` meaning (``*`` also crosses
  ``/``), anchored at both ends, case-sensitive; a glob that is only
  wildcards and slashes is refused;
* user agents are case-insensitive substrings; empty ones are refused.

Every refusal raises :class:`~accesslake.errors.HoldError` naming the option
at fault (``--start``, ``--ip``, ``--cidr``, ...).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from accesslake.errors import HoldError

__all__ = ["MAX_WINDOW_DAYS", "Scope", "aware_utc", "criteria_expr", "scope_expr", "strings", "window_expr"]

MAX_WINDOW_DAYS = 31
MIN_PREFIX = {4: 8, 6: 16}
_NARROWING = "--ip, --cidr, --session, --path, --user-agent"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


# ---------------------------------------------------------------- validation


def aware_utc(value: object, option: str) -> datetime:
    if not isinstance(value, datetime):
        raise HoldError(f"{option}: {value!r} is not a date-time")
    if value.tzinfo is None or value.utcoffset() is None:
        raise HoldError(f"{option}: {value.isoformat()} has no time zone; give it in UTC, e.g. {value.isoformat()}Z")
    return value.astimezone(UTC)


def strings(values: Iterable[str] | str, option: str) -> tuple[str, ...]:
    items = (values,) if isinstance(values, str) else tuple(values)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise HoldError(f"{option}: {item!r} is empty; give a value or leave the option out")
        if item not in out:
            out.append(item)
    return tuple(out)


def _unmap(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _parse_ip(value: str) -> IPAddress | None:
    """A logged client address as an IP (brackets and zone dropped), else None."""
    text = value.strip().removeprefix("[").removesuffix("]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _normal_ip(value: str) -> str:
    ip = _parse_ip(value)
    if ip is None:
        raise HoldError(f"--ip: {value!r} is not a valid IP address")
    return str(_unmap(ip))


def _normal_cidr(value: str) -> str:
    text = value.strip()
    try:
        net: IPNetwork = ipaddress.ip_network(text)
    except ValueError:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise HoldError(f"--cidr: {value!r} is not a valid network") from None
        raise HoldError(f"--cidr: {value!r} has host bits set; did you mean '{loose}'?") from None
    mapped = net.network_address.ipv4_mapped if isinstance(net, ipaddress.IPv6Network) else None
    if mapped is not None and net.prefixlen >= 96:
        net = ipaddress.IPv4Network((mapped, net.prefixlen - 96))
    if net.prefixlen < MIN_PREFIX[net.version]:
        raise HoldError(
            f"--cidr: {value!r} is wider than /{MIN_PREFIX[net.version]} "
            f"(IPv{net.version}); a hold must be narrow: name smaller networks"
        )
    return str(net)


def _literal(text: str) -> str:
    """``text`` as a Rust-regex literal: ASCII letters and digits kept, the rest ``\\x{..}``."""
    return "".join(ch if ch.isascii() and ch.isalnum() else f"\\x{{{ord(ch):x}}}" for ch in text)


def _glob_to_regex(glob: str) -> str:
    """An fnmatch glob as an unanchored Rust-regex fragment."""
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        ch = glob[i]
        i += 1
        if ch == "*":
            if not out or out[-1] != ".*":
                out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            j = i + (1 if i < n and glob[i] == "!" else 0)
            j += 1 if j < n and glob[j] == "]" else 0
            close = glob.find("]", j)
            if close < 0:
                out.append(_literal("["))
                continue
            body, i = glob[i:close], close + 1
            negate = body.startswith("!")
            body = body[1:] if negate else body
            parts = [("-" if k and k < len(body) - 1 and c == "-" else _literal(c)) for k, c in enumerate(body)]
            out.append("[" + ("^" if negate else "") + "".join(parts) + "]")
        else:
            out.append(_literal(ch))
    return "".join(out)


def _check_glob(glob: str) -> str:
    if not glob.replace("*", "").replace("?", "").replace("/", "").strip():
        raise HoldError(f"--path: {glob!r} matches (almost) every path: a whole time window is not a narrow scope")
    regex = f"(?s)^(?:{_glob_to_regex(glob)})$"
    try:
        pl.select(pl.lit("/").str.contains(regex)).item()
    except pl.exceptions.ComputeError as exc:
        raise HoldError(f"--path: {glob!r} is not a valid glob ({exc})") from exc
    return glob


@dataclass(frozen=True)
class Scope:
    """The rows a hold covers: a time window narrowed by at least one criterion.

    A row is in scope when ``start <= ts < end`` and any criterion matches.
    Values are validated and normalised on construction (see module docs).
    """

    start: datetime
    end: datetime
    ips: tuple[str, ...] = ()
    cidrs: tuple[str, ...] = ()
    session_ids: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    user_agents: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        start = aware_utc(self.start, "--start")
        end = aware_utc(self.end, "--end")
        if end <= start:
            raise HoldError(f"--end: {end.isoformat()} is not after --start {start.isoformat()}")
        if end - start > timedelta(days=MAX_WINDOW_DAYS):
            days = (end - start) / timedelta(days=1)
            raise HoldError(
                f"--start/--end: the window spans {days:g} days, more than {MAX_WINDOW_DAYS}; "
                "narrow it, or open a second hold for the later period"
            )
        ips = tuple(dict.fromkeys(_normal_ip(v) for v in strings(self.ips, "--ip")))
        cidrs = tuple(dict.fromkeys(_normal_cidr(v) for v in strings(self.cidrs, "--cidr")))
        sessions = strings(self.session_ids, "--session")
        paths = tuple(_check_glob(g) for g in strings(self.paths, "--path"))
        agents = strings(self.user_agents, "--user-agent")
        if not (ips or cidrs or sessions or paths or agents):
            raise HoldError(f"a hold must name at least one of {_NARROWING}: a whole time window is not a narrow scope")
        for name, value in [
            ("start", start),
            ("end", end),
            ("ips", ips),
            ("cidrs", cidrs),
            ("session_ids", sessions),
            ("paths", paths),
            ("user_agents", agents),
        ]:
            object.__setattr__(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(start=self.start.isoformat(), end=self.end.isoformat())
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def redacted(cls, scope: Scope, *, ipv4_prefix: int = 16, ipv6_prefix: int = 32) -> Scope:
        """The scope as an ended hold's record keeps it: addresses cut to networks
        (IPv4 /16, IPv6 /32 by default, as rule A1 allows), session ids dropped.

        Such a scope may name no criterion any more; it is never matched again
        (only active holds are), so the narrowness check does not apply.
        """
        networks: list[str] = []
        for value in (*scope.ips, *scope.cidrs):
            net = ipaddress.ip_network(value, strict=False)
            prefix = ipv4_prefix if net.version == 4 else ipv6_prefix
            if net.prefixlen > prefix:
                net = net.supernet(new_prefix=prefix)
            networks.append(str(net))
        return cls._unchecked(
            start=scope.start, end=scope.end, ips=(), cidrs=tuple(dict.fromkeys(networks)), session_ids=(),
            paths=scope.paths, user_agents=scope.user_agents,
        )

    @classmethod
    def _unchecked(cls, **values: Any) -> Scope:
        scope = object.__new__(cls)
        for name, value in values.items():
            object.__setattr__(scope, name, value)
        return scope

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, redacted: bool = False) -> Scope:
        if redacted:
            return cls._unchecked(
                start=datetime.fromisoformat(data["start"]),
                end=datetime.fromisoformat(data["end"]),
                **{k: tuple(data.get(k, ())) for k in ("ips", "cidrs", "session_ids", "paths", "user_agents")},
            )
        return cls(
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            **{k: tuple(data.get(k, ())) for k in ("ips", "cidrs", "session_ids", "paths", "user_agents")},
        )


# ---------------------------------------------------------------- predicate


def _ip_matcher(scope: Scope) -> Callable[[pl.Series], pl.Series]:
    ips = {ipaddress.ip_address(v) for v in scope.ips}
    nets = [ipaddress.ip_network(v) for v in scope.cidrs]

    def hit(value: str) -> bool:
        ip = _parse_ip(value)
        if ip is None:
            return False  # a host name matches no IP or network
        forms = {ip, _unmap(ip)}
        return bool(forms & ips) or any(form in net for form in forms for net in nets)

    def match(series: pl.Series) -> pl.Series:
        mapping = {value: hit(value) for value in series.drop_nulls().unique().to_list()}
        return series.replace_strict(mapping, default=False, return_dtype=pl.Boolean)

    return match


def scope_expr(scope: Scope) -> pl.Expr:
    """Boolean expression over request columns: is the row in ``scope``? Never null."""
    return (window_expr(scope) & criteria_expr(scope)).fill_null(False)


def window_expr(scope: Scope) -> pl.Expr:
    """True where ``ts`` is inside the scope's window ``[start, end)``; never null."""
    return ((pl.col("ts") >= pl.lit(scope.start)) & (pl.col("ts") < pl.lit(scope.end))).fill_null(False)


def criteria_expr(scope: Scope) -> pl.Expr:
    """True where any of the scope's narrowing criteria matches, whatever the time; never null."""
    terms: list[pl.Expr] = []
    if scope.ips or scope.cidrs:
        terms.append(
            pl.col("client_ip")
            .cast(pl.String)
            .map_batches(_ip_matcher(scope), return_dtype=pl.Boolean, is_elementwise=True)
        )
    if scope.session_ids:
        terms.append(pl.col("session_id").cast(pl.String).is_in(list(scope.session_ids)))
    if scope.paths:
        regex = "(?s)^(?:" + "|".join(_glob_to_regex(g) for g in scope.paths) + ")$"
        terms.append(pl.col("path").cast(pl.String).str.contains(regex))
    if scope.user_agents:
        regex = "(?i)" + "|".join(_literal(a) for a in scope.user_agents)
        terms.append(pl.col("user_agent").cast(pl.String).str.contains(regex))
    if not terms:
        return pl.lit(False)  # a redacted scope may name nothing: it matches nothing
    return pl.any_horizontal([t.fill_null(False) for t in terms]).fill_null(False)
