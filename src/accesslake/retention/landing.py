"""Retention of ``landing/``: raw files are personal data too (rule P1)."""

from __future__ import annotations

from datetime import datetime

from accesslake import ingest, storage
from accesslake.config import Settings
from accesslake.retention.result import AnonymizeResult
from accesslake.storage import LakePath, Layout

__all__ = ["delete_landing", "expired_landing"]


def delete_landing(settings: Settings, now: datetime, result: AnonymizeResult, *, dry_run: bool = False) -> None:
    """Delete the raw files of :func:`expired_landing`."""
    expired = expired_landing(settings, now)
    result.landing_deleted = [str(p) for p in expired]
    if not dry_run:
        for landed in expired:
            storage.remove_file(landed)


def expired_landing(settings: Settings, now: datetime) -> list[LakePath]:
    """Fully ingested landing files whose oldest line is past ``anonymize_after``.

    The age of a raw file is that of its oldest line (request time or first
    receipt, whichever is earlier; ledger ``min_ts``), so an old archive
    dropped into landing/ is deleted by the same nightly run that ingests it.
    """
    landing = Layout(settings.lake).landing
    records = ingest.ledger_records(settings.lake)
    expired: list[LakePath] = []
    for path in ingest.landing_files(landing):
        oldest, complete = ingest.landing_state(path, records)
        if oldest is not None and complete and oldest + settings.policy.anonymize_after <= now:
            expired.append(path)
    return expired
