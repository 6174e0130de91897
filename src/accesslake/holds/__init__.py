"""Incident holds (rules H1-H4): the record, its scope and its lifecycle.

- :mod:`.scope`: which rows a hold covers (a time window narrowed by IPs, networks,
  sessions, paths, user agents) and the Polars predicate that selects them;
- :mod:`.records`: the hold record, its storage in ``incidents/`` and its lifecycle
  (open, renew, release, redact).
"""

from __future__ import annotations

from accesslake.holds import records as _records
from accesslake.holds.records import *  # noqa: F403 - records and scopes are the face of holds
from accesslake.holds.scope import MAX_WINDOW_DAYS, Scope, scope_expr

__all__ = [*_records.__all__, "MAX_WINDOW_DAYS", "Scope", "scope_expr"]
