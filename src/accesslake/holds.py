"""Incident holds: the record (rule H1), its scope predicate and its lifecycle.

A hold exempts the rows inside its :class:`Scope` from anonymisation while it
is active (rule H2): ``anonymize`` selects them with :func:`holds_expr` and
labels them with :func:`matching_hold_id_expr`. A hold stops being active when
it is released or passes its review date without renewal (rule H4).

One JSON file per hold, ``<lake>/incidents/<id>.json`` (folder 0700, files
0600), written atomically. Every change appends ``hold.open``, ``hold.renew``
or ``hold.release`` to the audit log with the id, the case reference and the
SHA-256 of the written JSON; the scope itself (IPs, session ids) stays out of
the audit log.

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
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import json
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from accesslake.auditlog import append_event
from accesslake.errors import HoldError
from accesslake.lake import INCIDENTS, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, fsync_dir

__all__ = [
    "LEGAL_BASES",
    "MAX_WINDOW_DAYS",
    "Hold",
    "Renewal",
    "Scope",
    "active_holds",
    "get_hold",
    "holds_expr",
    "list_holds",
    "matching_hold_id_expr",
    "open_hold",
    "release_hold",
    "renew_hold",
    "scope_expr",
]

MAX_WINDOW_DAYS = 31
HARD_MAX_REVIEW_DAYS = 30  # rule H1; the policy may lower it
MIN_PREFIX = {4: 8, 6: 16}
LEGAL_BASES = ("Art. 6(1)(c) GDPR", "Art. 6(1)(f) GDPR", "§24 BDSG")
_LEGAL_ALIASES = {"6-1-c": LEGAL_BASES[0], "6-1-f": LEGAL_BASES[1], "bdsg-24": LEGAL_BASES[2]}
_LEGAL_ALIASES.update({basis.lower(): basis for basis in LEGAL_BASES})
_ID = re.compile(r"^INC-\d{8}-[0-9a-f]{4}$")
_STATUSES = ("active", "released")
_NARROWING = "--ip, --cidr, --session, --path, --user-agent"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


# ---------------------------------------------------------------- scope


def _aware_utc(value: object, option: str) -> datetime:
    if not isinstance(value, datetime):
        raise HoldError(f"{option}: {value!r} is not a date-time")
    if value.tzinfo is None or value.utcoffset() is None:
        raise HoldError(f"{option}: {value.isoformat()} has no time zone; give it in UTC, e.g. {value.isoformat()}Z")
    return value.astimezone(UTC)


def _strings(values: Iterable[str] | str, option: str) -> tuple[str, ...]:
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
        start = _aware_utc(self.start, "--start")
        end = _aware_utc(self.end, "--end")
        if end <= start:
            raise HoldError(f"--end: {end.isoformat()} is not after --start {start.isoformat()}")
        if end - start > timedelta(days=MAX_WINDOW_DAYS):
            days = (end - start) / timedelta(days=1)
            raise HoldError(
                f"--start/--end: the window spans {days:g} days, more than {MAX_WINDOW_DAYS}; "
                "narrow it, or open a second hold for the later period"
            )
        ips = tuple(dict.fromkeys(_normal_ip(v) for v in _strings(self.ips, "--ip")))
        cidrs = tuple(dict.fromkeys(_normal_cidr(v) for v in _strings(self.cidrs, "--cidr")))
        sessions = _strings(self.session_ids, "--session")
        paths = tuple(_check_glob(g) for g in _strings(self.paths, "--path"))
        agents = _strings(self.user_agents, "--user-agent")
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
    def from_dict(cls, data: dict[str, Any]) -> Scope:
        return cls(
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            **{k: tuple(data.get(k, ())) for k in ("ips", "cidrs", "session_ids", "paths", "user_agents")},
        )


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
    narrow = pl.any_horizontal([t.fill_null(False) for t in terms])
    window = (pl.col("ts") >= pl.lit(scope.start)) & (pl.col("ts") < pl.lit(scope.end))
    return (window.fill_null(False) & narrow).fill_null(False)


def holds_expr(holds: list[Hold]) -> pl.Expr:
    """True where any of ``holds`` covers the row (False for no holds).

    Pass the holds that count, normally :func:`active_holds`.
    """
    if not holds:
        return pl.lit(False)
    return pl.any_horizontal([scope_expr(h.scope) for h in holds]).fill_null(False)


def matching_hold_id_expr(holds: list[Hold]) -> pl.Expr:
    """Id (String) of the first hold, by id, whose scope covers the row; else null."""
    expr = pl.lit(None, dtype=pl.String)
    for hold in sorted(holds, key=lambda h: h.id, reverse=True):
        expr = pl.when(scope_expr(hold.scope)).then(pl.lit(hold.id, dtype=pl.String)).otherwise(expr)
    return expr


# ---------------------------------------------------------------- the record


def _legal_bases(values: Iterable[str] | str) -> tuple[str, ...]:
    found: set[str] = set()
    for value in _strings(values, "--legal-basis"):
        basis = _LEGAL_ALIASES.get(" ".join(value.split()).lower())
        if basis is None:
            raise HoldError(
                f"--legal-basis: {value!r} is not one of {', '.join(LEGAL_BASES)} "
                f"(short: {', '.join(list(_LEGAL_ALIASES)[:3])})"
            )
        found.add(basis)
    if not found:
        raise HoldError(f"--legal-basis: name at least one of {', '.join(LEGAL_BASES)}")
    return tuple(b for b in LEGAL_BASES if b in found)


def _text(value: object, option: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise HoldError(f"{option}: must not be empty")
    return value.strip()


@dataclass(frozen=True)
class Renewal:
    """One extension of a hold's review date."""

    at: datetime
    by: str
    review_at: datetime


@dataclass(frozen=True)
class Hold:
    """An incident hold record (rule H1); build with :func:`open_hold`."""

    id: str
    case_reference: str
    scope: Scope
    purpose: str
    legal_basis: tuple[str, ...]
    authorized_by: str
    opened_at: datetime
    review_at: datetime
    status: str = "active"
    released_by: str | None = None
    released_at: datetime | None = None
    renewals: tuple[Renewal, ...] = ()
    source_candidate: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID.match(self.id):
            raise HoldError(f"hold id {self.id!r} is not of the form INC-YYYYMMDD-xxxx")
        if not isinstance(self.scope, Scope):
            raise HoldError(f"hold {self.id}: scope must be a Scope")
        set_ = object.__setattr__
        set_(self, "case_reference", _text(self.case_reference, "--case"))
        set_(self, "purpose", _text(self.purpose, "--purpose"))
        set_(self, "authorized_by", _text(self.authorized_by, "--authorized-by"))
        set_(self, "legal_basis", _legal_bases(self.legal_basis))
        set_(self, "opened_at", _aware_utc(self.opened_at, "opened_at"))
        set_(self, "review_at", _aware_utc(self.review_at, "--review-days"))
        renewals = tuple(
            Renewal(_aware_utc(r.at, "renewed at"), _text(r.by, "--by"), _aware_utc(r.review_at, "review_at"))
            for r in self.renewals
        )
        set_(self, "renewals", renewals)
        last = renewals[-1].at if renewals else self.opened_at
        if not last < self.review_at <= last + timedelta(days=HARD_MAX_REVIEW_DAYS):
            raise HoldError(
                f"hold {self.id}: review date {self.review_at.isoformat()} must be after "
                f"{last.isoformat()} and at most {HARD_MAX_REVIEW_DAYS} days later (rule H1)"
            )
        if self.status not in _STATUSES:
            raise HoldError(f"hold {self.id}: status {self.status!r} is not one of {', '.join(_STATUSES)}")
        if self.status == "released":
            set_(self, "released_by", _text(self.released_by, "--by"))
            set_(self, "released_at", _aware_utc(self.released_at, "released_at"))
        elif self.released_by is not None or self.released_at is not None:
            raise HoldError(f"hold {self.id}: an active hold has no released_by / released_at")

    def is_active(self, now: datetime) -> bool:
        """Opened, not released, and before its review date (rule H4)."""
        now = _aware_utc(now, "--now")
        return self.status == "active" and self.opened_at <= now < self.review_at

    def to_dict(self) -> dict[str, Any]:
        def stamp(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "case_reference": self.case_reference,
            "scope": self.scope.to_dict(),
            "purpose": self.purpose,
            "legal_basis": list(self.legal_basis),
            "authorized_by": self.authorized_by,
            "opened_at": stamp(self.opened_at),
            "review_at": stamp(self.review_at),
            "status": self.status,
            "released_by": self.released_by,
            "released_at": stamp(self.released_at),
            "renewals": [{"at": stamp(r.at), "by": r.by, "review_at": stamp(r.review_at)} for r in self.renewals],
            "source_candidate": self.source_candidate,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "hold") -> Hold:
        """Parse and validate; errors name ``source`` (the file)."""

        def when(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        try:
            data = json.loads(text)
            return cls(
                id=data["id"],
                case_reference=data["case_reference"],
                scope=Scope.from_dict(data["scope"]),
                purpose=data["purpose"],
                legal_basis=tuple(data["legal_basis"]),
                authorized_by=data["authorized_by"],
                opened_at=datetime.fromisoformat(data["opened_at"]),
                review_at=datetime.fromisoformat(data["review_at"]),
                status=data["status"],
                released_by=data.get("released_by"),
                released_at=when(data.get("released_at")),
                renewals=tuple(
                    Renewal(datetime.fromisoformat(r["at"]), r["by"], datetime.fromisoformat(r["review_at"]))
                    for r in data.get("renewals", [])
                ),
                source_candidate=data.get("source_candidate"),
            )
        except HoldError as exc:
            raise HoldError(f"{source}: {exc}") from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise HoldError(f"{source}: not a valid hold record ({type(exc).__name__}: {exc})") from exc


# ---------------------------------------------------------------- storage


def _folder(lake: Path) -> Path:
    folder = lake / INCIDENTS
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, PRIVATE_DIR_MODE)
    return folder


def _path(lake: Path, hold_id: str) -> Path:
    if not _ID.match(hold_id):
        raise HoldError(
            f"unknown incident hold {hold_id!r} (ids look like INC-20250101-1a2b); see `accesslake incident list`"
        )
    return lake / INCIDENTS / f"{hold_id}.json"


@contextmanager
def _locked(lake: Path) -> Iterator[Path]:
    """Serialise read-modify-write of hold records; yields the incidents folder."""
    folder = _folder(lake)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield folder
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _write(path: Path, body: bytes, *, create: bool) -> None:
    """Temp file, fsync, then rename (update) or hard-link (create: fails if taken)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
        os.write(fd, body)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if create:
            os.link(tmp, path)
            tmp.unlink()
        else:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def _save(lake: Path, hold: Hold, event: str, now: datetime, *, create: bool = False) -> Hold:
    body = hold.to_json().encode()
    _write(lake / INCIDENTS / f"{hold.id}.json", body, create=create)
    append_event(
        lake,
        event,
        now,
        hold_id=hold.id,
        case_reference=hold.case_reference,
        status=hold.status,
        review_at=hold.review_at.isoformat(),
        hold_sha256=hashlib.sha256(body).hexdigest(),
    )
    return hold


def _review_days(days: int | None, max_review_days: int) -> timedelta:
    if not 1 <= max_review_days <= HARD_MAX_REVIEW_DAYS:
        raise HoldError(f"policy [holds] max_review_days must be between 1 and {HARD_MAX_REVIEW_DAYS}")
    days = max_review_days if days is None else days
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise HoldError(f"--review-days: {days!r} must be a whole number of days, at least 1")
    if days > max_review_days:
        raise HoldError(
            f"--review-days: {days} exceeds the maximum of {max_review_days} days "
            "(policy [holds] max_review_days); renew the hold before its review date instead"
        )
    return timedelta(days=days)


def open_hold(
    lake: Path,
    *,
    case_reference: str,
    scope: Scope,
    purpose: str,
    legal_basis: Iterable[str] | str,
    authorized_by: str,
    now: datetime,
    review_days: int | None = None,
    max_review_days: int = HARD_MAX_REVIEW_DAYS,
    source_candidate: str | None = None,
) -> Hold:
    """Record a new active hold reviewed ``review_days`` (default the maximum) from ``now``."""
    now = _aware_utc(now, "--now")
    review_at = now + _review_days(review_days, max_review_days)
    with _locked(lake) as folder:
        for _ in range(1000):
            hold_id = f"INC-{now:%Y%m%d}-{secrets.token_hex(2)}"
            if (folder / f"{hold_id}.json").exists():
                continue
            hold = Hold(
                id=hold_id,
                case_reference=case_reference,
                scope=scope,
                purpose=purpose,
                legal_basis=legal_basis,  # type: ignore[arg-type]  # normalised by Hold
                authorized_by=authorized_by,
                opened_at=now,
                review_at=review_at,
                source_candidate=source_candidate,
            )
            try:
                return _save(lake, hold, "hold.open", now, create=True)
            except FileExistsError:
                continue
    raise HoldError(f"{folder}: no free hold id left for {now:%Y-%m-%d}; try again")


def get_hold(lake: Path, hold_id: str) -> Hold:
    path = _path(lake, hold_id)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HoldError(f"unknown incident hold {hold_id!r}; see `accesslake incident list`") from None
    return Hold.from_json(text, str(path))


def list_holds(lake: Path) -> list[Hold]:
    """Every hold record, by id."""
    folder = lake / INCIDENTS
    if not folder.exists():
        return []
    paths = sorted(p for p in folder.glob("INC-*.json") if _ID.match(p.stem))
    return [Hold.from_json(p.read_text(encoding="utf-8"), str(p)) for p in paths]


def active_holds(lake: Path, now: datetime) -> list[Hold]:
    """The holds that exempt rows at ``now`` (rules H2, H4), by id."""
    return [h for h in list_holds(lake) if h.is_active(now)]


def _active_for_change(lake: Path, hold_id: str, now: datetime, verb: str) -> Hold:
    hold = get_hold(lake, hold_id)
    if hold.status == "released":
        raise HoldError(
            f"hold {hold_id} was already released by {hold.released_by} at "
            f"{hold.released_at.isoformat() if hold.released_at else '?'}; cannot {verb} it"
        )
    if now < hold.opened_at:
        raise HoldError(f"hold {hold_id} opens at {hold.opened_at.isoformat()}, after --now {now.isoformat()}")
    return hold


def renew_hold(
    lake: Path,
    hold_id: str,
    *,
    by: str,
    now: datetime,
    days: int | None = None,
    max_review_days: int = HARD_MAX_REVIEW_DAYS,
) -> Hold:
    """Set an active hold's review date to ``now + days`` (default the maximum)."""
    now = _aware_utc(now, "--now")
    by = _text(by, "--by")
    review_at = now + _review_days(days, max_review_days)
    with _locked(lake):
        hold = _active_for_change(lake, hold_id, now, "renew")
        if not hold.is_active(now):
            raise HoldError(
                f"hold {hold_id} passed its review date {hold.review_at.isoformat()} and is no longer "
                "active (rule H4); its rows are being returned: open a new hold if the case needs one"
            )
        renewed = replace(hold, review_at=review_at, renewals=(*hold.renewals, Renewal(now, by, review_at)))
        return _save(lake, renewed, "hold.renew", now)


def release_hold(lake: Path, hold_id: str, *, by: str, now: datetime) -> Hold:
    """Release a hold (also one past its review date, to close it on record)."""
    now = _aware_utc(now, "--now")
    by = _text(by, "--by")
    with _locked(lake):
        hold = _active_for_change(lake, hold_id, now, "release")
        released = replace(hold, status="released", released_by=by, released_at=now)
        return _save(lake, released, "hold.release", now)
