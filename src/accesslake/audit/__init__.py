"""The audit: every store of the lake checked against the retention invariant (P1) and accounting (P4).

- :mod:`.datasets`: requests/, held/, rejects/ against the deadline, the ledger and each other;
- :mod:`.stores`: hold records, permissions, landing/, marts, candidates, leftovers;
- :mod:`.run`: :func:`run_audit`, in order, with the audit log's chain and anchor.
"""

from __future__ import annotations

from accesslake.audit.report import AuditReport
from accesslake.audit.run import run_audit

__all__ = ["AuditReport", "run_audit"]
