"""Incident holds (rules H1-H4): the record, its scope and its lifecycle.

- :mod:`.scope`: which rows a hold covers (a time window narrowed by IPs, networks,
  sessions, paths, user agents) and the Polars predicate that selects them;
- :mod:`.records`: the hold record and the predicates over a set of holds;
- :mod:`.breadth`: how much of the lake a scope matches (a broad scope needs a written reason);
- :mod:`.lifecycle`: storage in ``incidents/`` and the lifecycle (open, renew, release, redact).
"""

from __future__ import annotations

from accesslake.holds.breadth import Breadth, measure_breadth
from accesslake.holds.lifecycle import (
    active_holds,
    get_hold,
    list_holds,
    open_hold,
    redact_hold,
    release_hold,
    renew_hold,
)
from accesslake.holds.records import LEGAL_BASES, Hold, Renewal, holds_expr, matching_hold_id_expr
from accesslake.holds.scope import MAX_WINDOW_DAYS, Scope, scope_expr

__all__ = [
    "LEGAL_BASES",
    "MAX_WINDOW_DAYS",
    "Breadth",
    "Hold",
    "Renewal",
    "Scope",
    "active_holds",
    "get_hold",
    "holds_expr",
    "list_holds",
    "matching_hold_id_expr",
    "measure_breadth",
    "open_hold",
    "redact_hold",
    "release_hold",
    "renew_hold",
    "scope_expr",
]
