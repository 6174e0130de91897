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
import tomllib
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from accesslake.errors import ConfigError

__all__ = [
    "HARD_LIMIT_HOURS",
    "PERSONAL_COLUMNS",
    "Policy",
    "anonymize_exprs",
    "deadline_expr",
    "due_mask",
    "load_policy",
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
    # [messages]: retention of contact-form messages in years from the end of a
    # Europe/Berlin calendar year (rules C1-C3, docs/messages.md)
    messages_business_letter_years: int = 6
    messages_receipt_years: int = 8
    messages_books_years: int = 10
    messages_no_contract_years: int = 3
    messages_pending_report_days: int = 30

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
    kwargs: dict[str, Any] = {}
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


def scrub_text_expr(column: str, *, leading_host: bool = True) -> pl.Expr:
    """Rule A4: replace IP-like tokens (and the leading host field) in free text."""
    expr = pl.col(column).str.replace_all(_IPV4, "[ip]").str.replace_all(_IPV6, "[ip]")
    if leading_host:
        expr = expr.str.replace(r"^\S+", "[host]")
    return expr


def scrub_reject_exprs(mask: pl.Expr, now: datetime) -> list[pl.Expr]:
    """Expressions that scrub the rejected lines selected by ``mask`` (rule A4) and stamp ``scrubbed_at``."""
    return [
        pl.when(mask).then(scrub_text_expr("line")).otherwise(pl.col("line")).alias("line"),
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
        when(pl.lit(now).cast(pl.Datetime("us", "UTC")), "anonymized_at"),
    ]
