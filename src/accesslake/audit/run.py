"""The audit: every store checked against invariant P1 and accounting P4 at an explicit ``now``.

:func:`run_audit` looks at the main dataset, held/, rejects/, landing/, the
marts, the candidates, staging and journals, the ingest ledger and the audit
log's hash chain, and returns every violation with the file it is in. It
appends its own result to the audit log (rule D2); the CLI exits non-zero and
the nightly flow fails when anything is found.
"""

from __future__ import annotations

from datetime import datetime

from accesslake.audit.datasets import check_datasets
from accesslake.audit.report import AuditReport
from accesslake.audit.stores import (
    check_candidates,
    check_ended_holds,
    check_landing,
    check_leftovers,
    check_marts,
    check_private_modes,
)
from accesslake.config import Settings
from accesslake.storage import auditlog

__all__ = ["run_audit"]


def run_audit(settings: Settings, now: datetime, *, record: bool = True, anchor: str | None = None) -> AuditReport:
    """Check every store against the rules; ``anchor``: a ``SEQ:HASH`` from an earlier audit that
    the log must still hold (the chain alone cannot show that its last lines were removed)."""
    if anchor is not None:
        auditlog.parse_anchor(anchor)  # a malformed anchor is an error before anything runs
    lake = settings.lake
    policy = settings.policy
    report = AuditReport(now=now.isoformat())
    report.violations += check_datasets(settings, now, report.checked)
    report.violations += check_private_modes(lake)
    report.violations += check_ended_holds(lake, now, policy.max_age)
    report.violations += check_landing(settings, now)
    report.violations += check_marts(lake)
    report.violations += check_candidates(settings, now)
    report.violations += check_leftovers(lake)
    report.violations += auditlog.verify_chain(lake)
    if anchor is not None:
        report.violations += auditlog.verify_anchor(lake, anchor)
    if record:
        written = auditlog.append_event(lake, "audit", now, ok=report.ok, violations=len(report.violations),
                                        checked=report.checked, max_age_hours=policy.max_age_hours,
                                        policy_override=policy.is_override)
        report.log_head = f"{written['seq']}:{written['hash']}"
    else:
        report.log_head = auditlog.head(lake)
    return report
