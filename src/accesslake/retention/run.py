"""The retention run: every store, in order, at an explicit ``now`` (the caller holds the writer lock).

For the whole lake, not only yesterday (rule P2):

1. :func:`~.requests.anonymize_partition` for every partition of ``requests/`` with a file due
   (:func:`~.requests.partitions_due`: from the manifest of verified files, else footers);
2. :func:`~.quarantine.note_strays`: files in a dataset store the pipeline did not write;
3. :func:`~.held.return_released`, then :func:`~.held.redact_ended_holds`;
4. :func:`~.rejects.scrub_rejects`;
5. :func:`~.candidates.expire_candidates`;
6. :func:`~.quarantine.quarantine_noted`: every file a step could not read, and every stray, one at a time;
7. :func:`~.landing.delete_landing`;
8. :func:`~.quarantine.expire_quarantine`;

A file that cannot be read never stops a step: it is noted, the step goes on
with the others, and step 6 moves it to ``quarantine/`` (named in ``problems``).
Each dataset store is listed once (:class:`~.verified.Reads`); files the audit
verified and that have not changed since are decided from their record.

then staging is cleaned and one ``anonymize`` line goes to the audit log.
"""

from __future__ import annotations

from datetime import datetime

from accesslake import holds, storage
from accesslake.config import Progress, Settings, report_progress
from accesslake.retention.candidates import expire_candidates
from accesslake.retention.held import redact_ended_holds, return_released
from accesslake.retention.journal import recover
from accesslake.retention.landing import delete_landing
from accesslake.retention.quarantine import expire_quarantine, note_strays, quarantine_noted
from accesslake.retention.rejects import scrub_rejects
from accesslake.retention.requests import REQUIRED, anonymize_partition, partitions_due
from accesslake.retention.result import AnonymizeResult
from accesslake.retention.verified import Reads
from accesslake.storage import auditlog

__all__ = ["run_retention", "run_retention_after"]


def run_retention_after(settings: Settings, now: datetime, main: list[AnonymizeResult]) -> AnonymizeResult:
    """:func:`run_retention` once the caller anonymised the due partitions itself (``main``)."""
    return run_retention(settings, now, main=main)


def run_retention(
    settings: Settings, now: datetime, *, dry_run: bool = False, main: list[AnonymizeResult] | None = None,
    progress: Progress | None = None,
) -> AnonymizeResult:
    """Apply retention to every store at ``now``.

    ``main``: the results of step 1 when the caller already ran :func:`anonymize_partition`
    for every partition of :func:`~.requests.partitions_due` (the Dask flow does, one task per
    partition). The caller has run the pipeline's recovery first.
    """
    lake = settings.lake
    policy = settings.policy
    result = AnonymizeResult(dry_run=dry_run)
    if not dry_run:
        result.recovered = recover(lake)
    active = holds.active_holds(lake, now)
    result.holds_active = [h.id for h in active]

    reads = Reads(lake)
    if main is None:  # ``progress`` is told of each partition (accesslake.config.Progress)
        parts = partitions_due(settings, now, reads.manifest)
        main = []
        for number, part in enumerate(parts):
            report_progress(progress, "anonymise", number, len(parts))
            main.append(anonymize_partition(settings, now, part, dry_run=dry_run, active=active))
        report_progress(progress, "anonymise", len(parts), len(parts))
    for done in main:
        result.absorb(done)
    note_strays(settings, result, REQUIRED, reads)
    return_released(settings, now, result, active, dry_run=dry_run)
    redact_ended_holds(settings, now, result, dry_run=dry_run)
    scrub_rejects(settings, now, result, reads, dry_run=dry_run)
    expire_candidates(settings, now, result, dry_run=dry_run)
    quarantine_noted(settings, now, result, dry_run=dry_run)
    delete_landing(settings, now, result, dry_run=dry_run)
    expire_quarantine(settings, now, result, result.holds_active, dry_run=dry_run)

    if not dry_run:
        storage.clean_tmp(lake)
        auditlog.append_event(
            lake, "anonymize", now, files_rewritten=result.files_rewritten,
            rows_anonymized=result.rows_anonymized, rows_held=result.rows_held,
            rows_returned=result.rows_returned, rejects_scrubbed=result.rejects_scrubbed,
            landing_deleted=len(result.landing_deleted), recovered=result.recovered,
            candidates_deleted=result.candidates_deleted, holds_redacted=result.holds_redacted,
            quarantined=len(result.quarantined), quarantine_deleted=len(result.quarantine_deleted),
            holds_active=result.holds_active, holds_returned=result.holds_returned,
            anonymize_after_hours=policy.anonymize_after_hours, max_age_hours=policy.max_age_hours,
            policy_override=policy.is_override, files_checked=result.files_checked,
            files_skipped=result.files_skipped,
        )
    return result
