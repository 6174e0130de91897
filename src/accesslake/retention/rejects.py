"""Retention of ``rejects/``: rejected lines past ``anonymize_after`` lose their personal tokens (A4)."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from accesslake import ingest, storage
from accesslake.config import Settings
from accesslake.faults import fault
from accesslake.retention.quarantine import read_or_note
from accesslake.retention.result import AnonymizeResult
from accesslake.retention.verified import Reads, due_before
from accesslake.schema import REJECT_SCHEMA
from accesslake.storage import Layout

__all__ = ["scrub_rejects"]


def scrub_rejects(settings: Settings, now: datetime, result: AnonymizeResult, reads: Reads | None = None, *,
                  dry_run: bool = False) -> None:
    """Scrub every rejected line received more than ``anonymize_after`` ago and not yet scrubbed. A file
    verified and unchanged since (``reads``: the manifest of verified files) is read only when its record
    says it holds such lines."""
    policy = settings.policy
    due = (pl.col("received_at") + pl.duration(hours=policy.anonymize_after_hours)) <= pl.lit(now)
    reads = reads or Reads(settings.lake)
    cutoff = now - policy.anonymize_after
    for relative, path, stat in reads.listing(Layout(settings.lake).rejects):
        if not path.name.endswith(".parquet") or path.name.startswith("."):
            continue
        verified = reads.verified(relative, stat, result)
        if verified is not None and not due_before(verified, "unscrubbed", cutoff):
            continue
        frame = read_or_note(settings.lake, path, ("row_id", "line", "received_at", "scrubbed_at"), result,
                             REJECT_SCHEMA)
        if frame is None:
            continue  # noted: quarantined at the end of the run
        late = due & pl.col("scrubbed_at").is_null()
        n = int(frame.select(late.sum()).item())
        if not n:
            continue
        result.rejects_scrubbed += n
        if dry_run:
            continue
        # Format-aware (issue 11): each line loses the personal fields of the format it was read with.
        scrubbed = frame.with_columns(ingest.reject_scrub_exprs(frame, late, now)).select(list(REJECT_SCHEMA.names()))
        storage.write_parquet_atomic(scrubbed, path)
        fault("after-reject-write")
