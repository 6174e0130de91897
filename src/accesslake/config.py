"""Settings and the clock.

One frozen :class:`Settings` object is built once (by the CLI, a flow or a
notebook) and passed in; nothing here reads the environment at import time.

The clock: every function that depends on "now" takes it as an argument. The
CLI fills it from ``--now`` or ``ACCESSLAKE_NOW`` (rule T4), else the real clock.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from accesslake.errors import ConfigError
from accesslake.policy import Policy, load_policy
from accesslake.storage import lake_root

__all__ = ["DEFAULT_LAKE", "Settings", "load_settings", "parse_now", "resolve_now"]

DEFAULT_LAKE = Path("data/lake")
ENV_LAKE = "ACCESSLAKE_LAKE"
ENV_NOW = "ACCESSLAKE_NOW"
ENV_POLICY = "ACCESSLAKE_POLICY"


@dataclass(frozen=True)
class Settings:
    """Where the lake lives, the site's time zone and the retention policy."""

    lake: Path = DEFAULT_LAKE  # or an upath.UPath for s3:// (accesslake.storage.lake_root)
    policy: Policy = field(default_factory=Policy)

    @property
    def site_tz(self) -> str:
        return self.policy.site_timezone


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
    return moment.astimezone(UTC)


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
    lake_path = lake_root(lake or environ.get(ENV_LAKE) or DEFAULT_LAKE)
    policy_file = policy_path or environ.get(ENV_POLICY)
    if policy_file is None and (lake_path / "policy.toml").is_file():
        policy_file = lake_path / "policy.toml"
    if isinstance(policy_file, str):
        policy_file = lake_root(policy_file, option="--policy")
    policy = load_policy(policy_file) if policy_file else Policy()
    try:
        ZoneInfo(policy.site_timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"policy site_timezone: unknown time zone {policy.site_timezone!r}") from exc
    return Settings(lake=lake_path, policy=policy)
