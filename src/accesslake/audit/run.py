"""The audit: every store checked against invariant P1 and accounting P4 at an explicit ``now``.

:func:`run_audit` classifies every file under the lake (an unknown one is a
violation), then looks at the main dataset, held/, rejects/, the marts,
landing/, the candidates, the quarantine, staging and journals, the ingest
ledger and the audit log's hash chain, and returns every violation with the
file it is in. Odd content never stops it: a file that cannot be read is a
named violation, and a check that cannot run at all is one too. It appends
its own result to the audit log (rule D2); the CLI exits non-zero and the
nightly flow fails when anything is found.

Incremental: the dataset files an earlier audit verified and that have not
changed since are not read again (:mod:`.verified`, the manifest of verified
files); ``full=True`` (``accesslake audit --full``, the weekly deployment)
reads every file. The report says how many files were read and skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from accesslake import holds
from accesslake.audit.datasets import Findings, check_datasets
from accesslake.audit.files import classify
from accesslake.audit.report import AuditReport
from accesslake.audit.stores import (
    check_candidates,
    check_ended_holds,
    check_landing,
    check_private_modes,
    check_quarantine,
)
from accesslake.audit.verified import fingerprint, plan_reads
from accesslake.config import Settings
from accesslake.storage import LakePath, auditlog
from accesslake.storage.manifest import Manifest, load_manifest, save_manifest

__all__ = ["run_audit"]


def run_audit(settings: Settings, now: datetime, *, record: bool = True, anchor: str | None = None,
              full: bool = False) -> AuditReport:
    """Check every store against the rules; ``anchor``: a ``SEQ:HASH`` from an earlier audit that
    the log must still hold (the chain alone cannot show that its last lines were removed).

    ``full``: read every dataset file, even those verified before and unchanged since. With
    ``record`` the audit appends its result to the audit log and keeps the manifest of verified files."""
    if anchor is not None:
        auditlog.parse_anchor(anchor)  # a malformed anchor is an error before anything runs
    lake = settings.lake
    policy = settings.policy
    report = AuditReport(now=now.isoformat(), full=full)
    files, misplaced = classify(lake)
    active = [h.id for h in holds.active_holds(lake, now)]
    rules = fingerprint(settings)
    plan = plan_reads(files, Manifest() if full else load_manifest(lake, rules), settings, now, set(active),
                      full=full)
    report.files_read, report.files_skipped = plan.count_read, plan.count_skipped
    found = Findings()
    checks: list[tuple[str, Callable[[], list[str]]]] = [
        ("datasets", lambda: check_datasets(settings, now, files, report.checked, plan, found)),
        ("permissions", lambda: check_private_modes(lake)),
        ("hold records", lambda: check_ended_holds(lake, now, policy.max_age)),
        ("landing", lambda: check_landing(settings, now, files.of("landing"))),
        ("candidates", lambda: check_candidates(settings, now, files.of("candidates"))),
        ("quarantine", lambda: check_quarantine(settings, now, active)),
        ("files", lambda: misplaced),
        ("audit log", lambda: auditlog.verify_chain(lake)),
    ]
    if anchor is not None:
        checks.append(("anchor", lambda: auditlog.verify_anchor(lake, anchor)))
    completed: set[str] = set()
    for name, check in checks:
        try:
            report.violations += check()
            completed.add(name)
        except Exception as exc:  # noqa: BLE001 - odd content must not stop the audit: it is named instead
            report.violations.append(f"audit: the {name} check could not run ({type(exc).__name__}: "
                                     f"{(str(exc) or '-').splitlines()[0]}); fix what it names, then audit again")
    if record and "datasets" in completed:
        _keep(lake, plan.record(rules, found.facts, found.failed))
    if record:
        written = auditlog.append_event(lake, "audit", now, ok=report.ok, violations=len(report.violations),
                                        checked=report.checked, max_age_hours=policy.max_age_hours,
                                        policy_override=policy.is_override, full=full,
                                        files_read=report.files_read, files_skipped=report.files_skipped)
        report.log_head = f"{written['seq']}:{written['hash']}"
    else:
        report.log_head = auditlog.head(lake)
    return report


def _keep(lake: LakePath, manifest: Manifest) -> None:
    """Write the manifest of verified files; a failure costs the next audit a full read, nothing more."""
    try:
        save_manifest(lake, manifest)
    except Exception:  # noqa: BLE001 - only an optimisation (storage.manifest): never a reason to fail
        return
