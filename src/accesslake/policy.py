"""The retention policy and what anonymisation does to each column.

The policy file is TOML; every key is optional and defaults to the rules in
``docs/privacy-rules.md``::

    [retention]
    max_age_hours = 168            # hard limit the audit checks (rule P2)
    anonymize_after_hours = 120    # the nightly run anonymises older rows
    allow_max_age_above_168 = false

    [anonymize]
    client_ip = "null"             # or "truncate" (network statistics, rule A1)
    ipv4_prefix = 16               # kept bits when truncating, at most 24
    ipv6_prefix = 32               # kept bits when truncating, at most 32

    [site]
    timezone = "Europe/Berlin"     # zone for formats without offset; reports
    days = "local"                 # marts and report by local date in timezone, or "utc"
    own_hosts = []                 # the site's own host names ("*.example.org": and subdomains)

    [sites.NAME]                   # one site (requests/site=NAME): timezone, days, own_hosts

    [ingest]
    max_reject_ratio = 0.5         # more rejects than this: the file is refused

    [holds]
    max_review_days = 30

    [detect]                       # abuse detection, per client, site and UTC day
    scanner_min_probe_paths = 2    # distinct probe paths (/.env, /wp-login.php, ...)
    scanner_min_404_paths = 20     # or 404s on this many distinct paths ...
    scanner_min_404_share = 0.5    # ... making at least this share of its requests
    bruteforce_min_posts = 15      # POSTs to one path
    bruteforce_min_auth_failures = 10  # or 401/403 answers
    flood_min_per_minute = 120     # peak requests in one minute, at least this and
    flood_factor = 20.0            # this many times the site's median per client-minute
    injection_min_requests = 1     # requests with injection/traversal payloads
    odd_method_min_requests = 1    # requests with an unusual or junk method
    form_min_posts = 5             # POSTs to form endpoints, at least this many and
    form_factor = 2.5              # this many times the site's median per posting client,
    form_max_fill_seconds = 3.0    # or a form POSTed back this soon after loading it
    form_min_fast_posts = 1        # this many times (login forms excluded)
    credential_min_requests = 1    # turned-away requests for login/admin endpoints

    [messages]                     # contact-form messages (rules C1-C3, docs/messages.md)
    business_letter_years = 6      # commercial letters; at least 6 (HGB §257, AO §147)
    receipt_years = 8              # receipts and invoices; at least 8 (since 2025)
    books_years = 10               # books and annual accounts; at least 10
    no_contract_years = 3          # no contract: at the latest 3 (limitation period)
    pending_report_days = 30       # unclassified messages older than this are reported

Anonymisation (rules A1-A4) is one vectorised Polars transform:
:func:`anonymize_exprs` rewrites the personal columns of the rows selected by a
mask and leaves every other row untouched.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import tomllib
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from accesslake.errors import ConfigError

__all__ = [
    "HARD_LIMIT_HOURS",
    "IP_LIKE_PATTERN",
    "PERSONAL_COLUMNS",
    "Policy",
    "anonymize_exprs",
    "deadline_expr",
    "due_mask",
    "SiteSettings",
    "load_policy",
    "site_settings",
    "scrub_reject_exprs",
    "scrub_text_expr",
]

log = logging.getLogger(__name__)

HARD_LIMIT_HOURS = 168

# Columns that identify a person or link rows; all NULL after anonymisation
# (client_ip may instead be truncated when the policy asks for it).
PERSONAL_COLUMNS = ("client_ip", "session_id", "remote_user", "forwarded_for")

_SECTIONS: dict[str, dict[str, str]] = {
    "retention": {
        "max_age_hours": "max_age_hours",
        "anonymize_after_hours": "anonymize_after_hours",
        "allow_max_age_above_168": "allow_max_age_above_168",
    },
    "anonymize": {
        "client_ip": "client_ip_treatment",
        "ipv4_prefix": "ipv4_prefix",
        "ipv6_prefix": "ipv6_prefix",
    },
    "site": {"timezone": "site_timezone"},
    "ingest": {"max_reject_ratio": "max_reject_ratio"},
    "holds": {"max_review_days": "max_review_days"},
    "detect": {
        "scanner_min_probe_paths": "detect_scanner_min_probe_paths",
        "scanner_min_404_paths": "detect_scanner_min_404_paths",
        "scanner_min_404_share": "detect_scanner_min_404_share",
        "bruteforce_min_posts": "detect_bruteforce_min_posts",
        "bruteforce_min_auth_failures": "detect_bruteforce_min_auth_failures",
        "flood_min_per_minute": "detect_flood_min_per_minute",
        "flood_factor": "detect_flood_factor",
        "injection_min_requests": "detect_injection_min_requests",
        "odd_method_min_requests": "detect_odd_method_min_requests",
        "form_min_posts": "detect_form_min_posts",
        "form_factor": "detect_form_factor",
        "form_max_fill_seconds": "detect_form_max_fill_seconds",
        "form_min_fast_posts": "detect_form_min_fast_posts",
        "credential_min_requests": "detect_credential_min_requests",
    },
    "messages": {
        "business_letter_years": "messages_business_letter_years",
        "receipt_years": "messages_receipt_years",
        "books_years": "messages_books_years",
        "no_contract_years": "messages_no_contract_years",
        "pending_report_days": "messages_pending_report_days",
    },
}


@dataclass(frozen=True)
class Policy:
    """Validated retention settings; build with :func:`load_policy` or directly."""

    max_age_hours: float = HARD_LIMIT_HOURS
    anonymize_after_hours: float = 120
    allow_max_age_above_168: bool = False
    client_ip_treatment: str = "null"
    ipv4_prefix: int = 16
    ipv6_prefix: int = 32
    site_timezone: str = "Europe/Berlin"
    max_reject_ratio: float = 0.5
    max_review_days: int = 30
    # [detect]: abuse-detection thresholds, per client, site and UTC day (docs/forensics.md)
    detect_scanner_min_probe_paths: int = 2
    detect_scanner_min_404_paths: int = 20
    detect_scanner_min_404_share: float = 0.5
    detect_bruteforce_min_posts: int = 15
    detect_bruteforce_min_auth_failures: int = 10
    detect_flood_min_per_minute: int = 120
    detect_flood_factor: float = 20.0
    detect_injection_min_requests: int = 1
    detect_odd_method_min_requests: int = 1
    detect_form_min_posts: int = 5
    detect_form_factor: float = 2.5
    detect_form_max_fill_seconds: float = 3.0
    detect_form_min_fast_posts: int = 1
    detect_credential_min_requests: int = 1
    # [messages]: retention of contact-form messages in years from the end of a
    # Europe/Berlin calendar year (rules C1-C3, docs/messages.md)
    messages_business_letter_years: int = 6
    messages_receipt_years: int = 8
    messages_books_years: int = 10
    messages_no_contract_years: int = 3
    messages_pending_report_days: int = 30
    # [site] days / own_hosts and [sites.NAME] (see SiteSettings below)
    site_options: tuple[tuple[str, SiteSettings], ...] = ()

    def __post_init__(self) -> None:
        where = "policy"
        if self.max_age_hours <= 0 or self.anonymize_after_hours <= 0:
            raise ConfigError(f"{where}: max_age_hours and anonymize_after_hours must be positive")
        if self.max_age_hours > HARD_LIMIT_HOURS:
            if not self.allow_max_age_above_168:
                raise ConfigError(
                    f"{where}: max_age_hours = {self.max_age_hours} exceeds the 168 h promised in the "
                    "privacy notice; lower it, or set allow_max_age_above_168 = true if the notice changed"
                )
            log.warning("policy override: max_age_hours = %s above 168 h", self.max_age_hours)
        if self.anonymize_after_hours > self.max_age_hours:
            raise ConfigError(
                f"{where}: anonymize_after_hours ({self.anonymize_after_hours}) must not exceed "
                f"max_age_hours ({self.max_age_hours})"
            )
        if self.client_ip_treatment not in ("null", "truncate"):
            raise ConfigError(f'{where}: [anonymize] client_ip must be "null" or "truncate"')
        if not 0 <= self.ipv4_prefix <= 24:
            raise ConfigError(f"{where}: [anonymize] ipv4_prefix must be between 0 and 24")
        if not 0 <= self.ipv6_prefix <= 32:
            raise ConfigError(f"{where}: [anonymize] ipv6_prefix must be between 0 and 32")
        if not 0 < self.max_reject_ratio <= 1:
            raise ConfigError(f"{where}: [ingest] max_reject_ratio must be in (0, 1]")
        if not 1 <= self.max_review_days <= 30:
            raise ConfigError(f"{where}: [holds] max_review_days must be between 1 and 30")
        for key, name in _SECTIONS["detect"].items():
            if getattr(self, name) < 1 and not key.endswith("_share"):
                raise ConfigError(f"{where}: [detect] {key} must be at least 1")
        if not 0 < self.detect_scanner_min_404_share <= 1:
            raise ConfigError(f"{where}: [detect] scanner_min_404_share must be in (0, 1]")
        # [messages]: statutory keep periods may be raised (the notice counts from a later
        # year anyway), never lowered; the no-contract period may be lowered, never raised.
        for key, least in (("business_letter_years", 6), ("receipt_years", 8), ("books_years", 10)):
            if not least <= getattr(self, _SECTIONS["messages"][key]) <= 30:
                raise ConfigError(
                    f"{where}: [messages] {key} must be between {least} (the statutory minimum) and 30"
                )
        if not 1 <= self.messages_no_contract_years <= 3:
            raise ConfigError(
                f"{where}: [messages] no_contract_years must be between 1 and 3 "
                "(the privacy notice promises deletion after the 3-year limitation period at the latest)"
            )
        if not 1 <= self.messages_pending_report_days <= 365:
            raise ConfigError(f"{where}: [messages] pending_report_days must be between 1 and 365")

    @property
    def is_override(self) -> bool:
        """True when the hard limit was raised above 168 h (logged in the audit log)."""
        return self.max_age_hours > HARD_LIMIT_HOURS

    @property
    def anonymize_after(self) -> timedelta:
        return timedelta(hours=self.anonymize_after_hours)

    @property
    def max_age(self) -> timedelta:
        return timedelta(hours=self.max_age_hours)


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file; unknown keys are refused by name."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the policy file ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    return policy_from_mapping(raw, source=str(path))


def policy_from_mapping(raw: dict[str, Any], source: str = "policy") -> Policy:
    raw, site_options = _site_options(raw, source)
    kwargs: dict[str, Any] = {"site_options": site_options}
    types = {f.name: f.type for f in fields(Policy)}
    for section, values in raw.items():
        if section not in _SECTIONS or not isinstance(values, dict):
            raise ConfigError(f"{source}: unknown section [{section}]; known: {', '.join(_SECTIONS)}")
        for key, value in values.items():
            if key not in _SECTIONS[section]:
                known = ", ".join(_SECTIONS[section])
                raise ConfigError(f"{source}: unknown key {key!r} in [{section}]; known: {known}")
            name = _SECTIONS[section][key]
            expected = types[name]
            ok = {
                "float": isinstance(value, (int, float)) and not isinstance(value, bool),
                "int": isinstance(value, int) and not isinstance(value, bool),
                "bool": isinstance(value, bool),
                "str": isinstance(value, str),
            }[str(expected)]
            if not ok:
                raise ConfigError(f"{source}: [{section}] {key} must be of type {expected}, got {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{source}: [{section}] {key} must be a finite number, got {value!r}")
            kwargs[name] = value
    try:
        return Policy(**kwargs)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("policy:", f"{source}:", 1)) from None


def deadline_expr(policy: Policy, hours: float | None = None) -> pl.Expr:
    """Rule T3: (earlier of request time and receive time) + ``hours`` (default max_age)."""
    limit = policy.max_age_hours if hours is None else hours
    base = pl.min_horizontal(pl.col("ts"), pl.col("received_at"))
    return base + pl.duration(microseconds=int(limit * 3_600_000_000))


def due_mask(policy: Policy, now: datetime) -> pl.Expr:
    """Rows past ``anonymize_after`` at ``now`` and not yet anonymised."""
    limit = deadline_expr(policy, policy.anonymize_after_hours)
    return (limit <= pl.lit(now)) & pl.col("anonymized_at").is_null()


_IPV4 = r"\b(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b"
# Full form (eight groups) or compressed with "::" beside a hex group, as whole
# tokens; a log time (2015:04:11:25), "rv:120.0" or "std::vector" does not match.
_IPV6 = (
    r"(?i)\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b"
    r"|\b(?:[0-9a-f]{1,4}:)+:(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*\b)?"
    r"|::[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*\b"
)
#: Rule A4's IP-like token as one pattern (RE2 and Rust syntax): the audit searches stored text with it.
IP_LIKE_PATTERN = "(?i)(?:" + _IPV4 + ")|(?:" + _IPV6.removeprefix("(?i)") + ")"


# A host name standing alone (two or more labels; not in a path "/index.html" or a version "Firefox/128.0").
_HOST = r"(^|[^\w./-])((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"


def _scrub_tokens(expr: pl.Expr, *, hosts: bool) -> pl.Expr:
    expr = expr.str.replace_all(_IPV4, "[ip]").str.replace_all(_IPV6, "[ip]")
    return expr.str.replace_all(_HOST, "${1}[host]") if hosts else expr


def scrub_text_expr(text: str | pl.Expr, *, leading_host: bool = True, hosts: bool = False) -> pl.Expr:
    """Rule A4: replace IP-like tokens (and the leading field; with ``hosts``, host names too) in free text."""
    expr = _scrub_tokens(pl.col(text) if isinstance(text, str) else text, hosts=hosts)
    return expr.str.replace(r"^\S+", "[host]") if leading_host else expr


def scrub_reject_exprs(mask: pl.Expr, now: datetime, scrubbed: pl.Expr | None = None) -> list[pl.Expr]:
    """Expressions that scrub the rejected lines selected by ``mask`` (rule A4) and stamp ``scrubbed_at``;
    ``scrubbed``: the line scrubbed by its format (accesslake.ingest.scrub), else by tokens and leading field."""
    line = scrub_text_expr("line", hosts=True) if scrubbed is None else scrubbed
    return [
        pl.when(mask).then(line).otherwise(pl.col("line")).alias("line"),
        pl.when(mask).then(pl.lit(now).cast(pl.Datetime("us", "UTC"))).otherwise(pl.col("scrubbed_at"))
        .alias("scrubbed_at"),
    ]


def _truncate_ip(value: str, v4: int, v6: int) -> str | None:
    try:
        ip = ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return None  # a hostname cannot be truncated: drop it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = v4 if ip.version == 4 else v6
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def _client_ip_expr(policy: Policy) -> pl.Expr:
    if policy.client_ip_treatment == "null":
        return pl.lit(None, dtype=pl.String)
    v4, v6 = policy.ipv4_prefix, policy.ipv6_prefix

    def truncate(series: pl.Series) -> pl.Series:
        uniques = series.unique().drop_nulls()
        mapping = {u: _truncate_ip(u, v4, v6) for u in uniques.to_list()}
        return series.replace_strict(mapping, default=None, return_dtype=pl.String)

    return pl.col("client_ip").map_batches(truncate, return_dtype=pl.String)


def anonymize_exprs(policy: Policy, now: datetime, mask: pl.Expr) -> list[pl.Expr]:
    """Expressions that anonymise the rows selected by ``mask`` (rules A1-A3).

    Applied with ``frame.with_columns(anonymize_exprs(...))``: rows outside the
    mask keep every value; the schema does not change.
    """

    def when(expr: pl.Expr, column: str) -> pl.Expr:
        return pl.when(mask).then(expr).otherwise(pl.col(column)).alias(column)

    nothing = pl.lit(None, dtype=pl.String)
    scheme = pl.col("referrer").str.extract(r"^([A-Za-z][A-Za-z0-9+.\-]*://)", 1)
    host = pl.col("referrer").str.extract(r"^[A-Za-z][A-Za-z0-9+.\-]*://(?:[^@/?#]*@)?([^/?#]*)", 1)
    origin = scheme + host  # scheme://host[:port]; no user info, path or query
    return [
        when(_client_ip_expr(policy), "client_ip"),
        when(nothing, "session_id"),
        when(nothing, "remote_user"),
        when(nothing, "forwarded_for"),
        when(nothing, "query"),
        when(origin, "referrer"),
        when(nothing, "user_agent"),
        when(_scrub_tokens(pl.col("vhost"), hosts=False), "vhost"),  # A4: a client or server address logged there
        when(pl.lit(now).cast(pl.Datetime("us", "UTC")), "anonymized_at"),
    ]


# ----------------------------------------------------------------- per-site settings (marts and report)


@dataclass(frozen=True)
class SiteSettings:
    """[site] days / own_hosts and [sites.NAME] timezone / days / own_hosts: how the marts treat a site.

    ``days``: "local" (dates in ``timezone``) or "utc"; ``own_hosts``: lower case, ``*.example.org``
    is example.org and its subdomains. None in a [sites.NAME] entry: as in [site].
    """

    timezone: str | None = None
    days: str | None = None
    own_hosts: tuple[str, ...] | None = None


def _site_entry(values: Any, where: str) -> SiteSettings:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    unknown = sorted(set(values) - {"timezone", "days", "own_hosts"}) if isinstance(values, dict) else ["?"]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; known: timezone, days, own_hosts")
    zone, days, hosts = values.get("timezone"), values.get("days"), values.get("own_hosts")
    try:
        _ = None if zone is None else ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ConfigError(f"{where} timezone: unknown time zone {zone!r}; write e.g. Europe/Berlin") from exc
    if days not in (None, "local", "utc"):
        raise ConfigError(f'{where} days must be "local" or "utc", got {days!r}')
    if hosts is not None and not (isinstance(hosts, list) and all(isinstance(h, str) and h.strip(". ") for h in hosts)):
        raise ConfigError(f'{where} own_hosts must be a list of host names, e.g. ["example.org", "*.example.org"]')
    own = None if hosts is None else tuple(h.strip().strip(".").lower() for h in hosts)
    return SiteSettings(timezone=zone, days=days, own_hosts=own)


def _site_options(raw: dict[str, Any], source: str) -> tuple[dict[str, Any], tuple[tuple[str, SiteSettings], ...]]:
    """Take [site] days / own_hosts and the [sites.NAME] tables out of ``raw``; the rest goes on as before."""
    rest, site, sites = {k: v for k, v in raw.items() if k != "sites"}, raw.get("site"), raw.get("sites", {})
    options: list[tuple[str, SiteSettings]] = []
    if isinstance(site, dict) and {"days", "own_hosts"} & set(site):
        options.append(("", _site_entry({k: v for k, v in site.items() if k in ("days", "own_hosts")},
                                        f"{source}: [site]")))
        rest["site"] = {k: v for k, v in site.items() if k not in ("days", "own_hosts")}
    if not isinstance(sites, dict):
        raise ConfigError(f"{source}: [sites] must hold one table per site, e.g. [sites.blog]")
    options += [(str(name), _site_entry(values, f"{source}: [sites.{name}]")) for name, values in sites.items()]
    return rest, tuple(options)


def site_settings(policy: Policy, site: str) -> SiteSettings:
    """The settings of ``site``, every field filled: [sites.NAME] over [site] over the defaults."""
    found = dict(policy.site_options)
    base, own = found.get("", SiteSettings()), found.get(site, SiteSettings())
    hosts = own.own_hosts if own.own_hosts is not None else base.own_hosts
    return SiteSettings(timezone=own.timezone or policy.site_timezone, days=own.days or base.days or "local",
                        own_hosts=hosts or ())
