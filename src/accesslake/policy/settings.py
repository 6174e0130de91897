"""The policy file: every setting, validated once into a frozen :class:`Policy`.

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

Unknown sections and keys are refused by name; values of the wrong type, or
not finite, are refused naming the key.
"""

from __future__ import annotations

import logging
import math
import tomllib
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

from accesslake.errors import ConfigError
from accesslake.policy.sites import SiteSettings, site_options

__all__ = ["HARD_LIMIT_HOURS", "Policy", "load_policy", "policy_from_mapping"]

log = logging.getLogger("accesslake.policy")  # the name operators configure, stable across modules

HARD_LIMIT_HOURS = 168

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
    raw, per_site = site_options(raw, source)
    kwargs: dict[str, Any] = {"site_options": per_site}
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
