"""Settings, the clock and the progress hook.

One frozen :class:`Settings` object is built once (by the CLI, a flow or a
notebook) and passed in; nothing here reads the environment at import time.

The clock: every function that depends on "now" takes it as an argument. The
CLI fills it from ``--now`` or ``ACCESSLAKE_NOW`` (rule T4), else the real clock.

Progress: a long library function (the demo, building marts over many days, the
backlog anonymisation) takes an optional ``progress`` callback of type
:data:`Progress`, called as ``progress(what, done, total)`` (``total`` None when
unknown) as its work advances. The library knows nothing of terminals; the
command line draws it on a terminal (``accesslake.cli.progress``), flows and
notebooks pass nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from accesslake.errors import ConfigError
from accesslake.policy import Policy, SiteSettings, load_policy, site_settings
from accesslake.storage import lake_root, local_path

__all__ = ["DEFAULT_LAKE", "Progress", "Settings", "load_settings", "parse_now", "report_progress", "resolve_now"]

DEFAULT_LAKE = Path("data/lake")
ENV_LAKE = "ACCESSLAKE_LAKE"
ENV_NOW = "ACCESSLAKE_NOW"
ENV_POLICY = "ACCESSLAKE_POLICY"

#: ``progress(what, done, total)``: ``what`` names the work ("ingest access.log", "marts"),
#: ``done`` counts finished units, ``total`` is the number of units or None when unknown.
Progress = Callable[[str, int, int | None], None]


def report_progress(progress: Progress | None, what: str, done: int, total: int | None) -> None:
    """Call ``progress`` when there is one (the library's one way to report progress)."""
    if progress is not None:
        progress(what, done, total)


@dataclass(frozen=True)
class Settings:
    """Where the lake lives, the site's time zone and the retention policy."""

    lake: Path = DEFAULT_LAKE  # or an upath.UPath for s3:// (accesslake.storage.lake_root)
    policy: Policy = field(default_factory=Policy)

    @property
    def site_tz(self) -> str:
        return self.policy.site_timezone

    def site(self, name: str) -> SiteSettings:
        """How the marts and the report treat site ``name`` (policy [sites.NAME] over [site])."""
        return site_settings(self.policy, name)


#: The years a clock may name (``--now``, hold windows): far from the calendar's ends.
FIRST_YEAR, LAST_YEAR = 1900, 9000


def parse_now(value: str, *, option: str = "--now") -> datetime:
    """Parse an ISO-8601 instant; a value without offset is taken as UTC."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(
            f"{option}: {value!r} is not an ISO-8601 time; write e.g. 2026-11-29T03:00:00Z"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError as exc:
        raise ConfigError(f"{option}: {value!r} is outside the calendar once converted to UTC") from exc
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        # Every rule adds or subtracts hours, days and years (max_age, review dates, message periods):
        # a clock near the ends of the calendar would overflow them.
        raise ConfigError(f"{option}: {value!r} is outside the years {FIRST_YEAR} to {LAST_YEAR} this clock accepts")
    return moment


def resolve_now(value: str | None = None, env: dict[str, str] | None = None) -> datetime:
    """The clock: ``value`` (``--now``), else ``$ACCESSLAKE_NOW``, else the real clock."""
    environ = os.environ if env is None else env
    if value:
        return parse_now(value)
    if environ.get(ENV_NOW):
        return parse_now(environ[ENV_NOW], option=ENV_NOW)
    return datetime.now(UTC)


def load_settings(
    lake: str | Path | None = None,
    policy_path: str | Path | None = None,
    env: dict[str, str] | None = None,
) -> Settings:
    """Build the settings from options, then environment, then defaults."""
    environ = os.environ if env is None else env
    option = ENV_LAKE if not lake and environ.get(ENV_LAKE) else "--lake"
    lake_path = lake_root(lake or environ.get(ENV_LAKE) or DEFAULT_LAKE, option=option)
    local = local_path(lake_path)
    if local is not None and local.exists() and not local.is_dir():
        raise ConfigError(f"{option}: {local} is a file, not a lake folder; pass a folder (or s3://bucket/prefix)")
    policy_file = policy_path or environ.get(ENV_POLICY)
    if policy_file is None and (lake_path / "policy.toml").is_file():
        policy_file = lake_path / "policy.toml"
    if isinstance(policy_file, str):
        policy_file = lake_root(policy_file, option="--policy")
    policy = load_policy(policy_file) if policy_file else Policy()
    try:
        ZoneInfo(policy.site_timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        where = policy_file or "the default policy"
        raise ConfigError(f"{where}: [site] timezone: unknown time zone {policy.site_timezone!r}; "
                          "write an IANA name such as Europe/Berlin") from exc
    return Settings(lake=lake_path, policy=policy)
