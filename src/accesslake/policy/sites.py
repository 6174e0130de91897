"""Per-site settings: how the marts and the report treat each site (time zone, local or UTC days, own hosts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from accesslake.errors import ConfigError

if TYPE_CHECKING:
    from accesslake.policy.settings import Policy

__all__ = ["SiteSettings", "site_options", "site_settings"]


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


def site_options(raw: dict[str, Any], source: str) -> tuple[dict[str, Any], tuple[tuple[str, SiteSettings], ...]]:
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
