"""Retention of abuse candidates: they carry IPs, so they go with the rows they were built from.

A candidate's ``oldest_at`` is the earliest ``least(ts, received_at)`` of its
rows, so its deadline (rule T3) is ``oldest_at + max_age``; the nightly run
deletes it from ``oldest_at + anonymize_after`` on. A hold opened from a
candidate keeps its own scope: the held rows, not the candidate, are the evidence.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from accesslake import storage
from accesslake.config import Settings
from accesslake.retention.quarantine import read_or_note
from accesslake.retention.result import AnonymizeResult
from accesslake.storage import Layout

__all__ = ["expire_candidates"]


def expire_candidates(settings: Settings, now: datetime, result: AnonymizeResult, *, dry_run: bool = False) -> None:
    """Delete candidates whose ``oldest_at`` is past ``anonymize_after``."""
    due_before = now - settings.policy.anonymize_after
    for path in storage.list_files(Layout(settings.lake).candidates):
        frame = read_or_note(settings.lake, path, ("oldest_at",), result)
        if frame is None:
            continue  # noted: quarantined at the end of the run
        keep = frame.filter(pl.col("oldest_at") > due_before)
        gone = frame.height - keep.height
        if not gone:
            continue
        result.candidates_deleted += gone
        if dry_run:
            continue
        if keep.height:
            storage.write_parquet_atomic(keep, path, private=True)
        else:
            storage.remove_file(path)
