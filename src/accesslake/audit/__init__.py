"""The audit: every store of the lake checked against the retention invariant (P1) and accounting (P4).

- :mod:`.files`: every file of the lake classified by kind; unknown files and leftovers named;
- :mod:`.parquet`: checks over many Parquet files at once that never stop at a bad one; columns, IP scan;
- :mod:`.datasets`: requests/, held/, rejects/, marts against the deadline, the ledger and each other;
- :mod:`.stores`: hold records, permissions, landing/, candidates, the quarantine;
- :mod:`.run`: :func:`run_audit`, in order, with the audit log's chain and anchor.
"""

from __future__ import annotations

from accesslake.audit.report import AuditReport
from accesslake.audit.run import run_audit

__all__ = ["AuditReport", "run_audit"]
