"""Retention of ``held/`` and of the hold records (rules H2, H4).

The rows of holds that were released or passed their review date are past
their deadline: they return, anonymised, to the main dataset (unless another
active hold covers them), so traffic counts stay exact. Once all of a hold's
rows are back, its record is redacted: addresses cut to networks, session ids
dropped.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from accesslake import holds, storage
from accesslake.config import Settings
from accesslake.faults import fault
from accesslake.policy import anonymize_exprs
from accesslake.retention.journal import free_target, write_journal
from accesslake.retention.quarantine import read_or_note
from accesslake.retention.requests import REQUIRED
from accesslake.retention.result import AnonymizeResult
from accesslake.schema import REQUEST_SCHEMA
from accesslake.storage import LakePath, Layout, Partition

__all__ = ["redact_ended_holds", "return_released"]


def return_released(
    settings: Settings, now: datetime, result: AnonymizeResult, active: list[holds.Hold], *, dry_run: bool = False
) -> None:
    """Move the rows of holds that no longer count back to requests/, anonymised (H4)."""
    lake = settings.lake
    policy = settings.policy
    hold_id = holds.matching_hold_id_expr(active)
    active_ids = {h.id for h in active}
    for part in storage.list_partitions(Layout(lake).held):
        if part.incident in active_ids:
            continue
        for path in part.files():
            frame = read_or_note(lake, path, REQUIRED, result, REQUEST_SCHEMA)
            if frame is None:
                continue  # noted: quarantined at the end of the run (kept while its hold is active)
            marked = frame.with_columns(hold_id.alias("_hold"))
            rehold = marked.filter(pl.col("_hold").is_not_null())
            back = marked.filter(pl.col("_hold").is_null()).drop("_hold")
            result.rows_returned += back.height
            result.rows_held += rehold.height
            if part.incident and part.incident not in result.holds_returned:
                result.holds_returned.append(part.incident)
            if dry_run:
                continue
            back = back.with_columns(anonymize_exprs(policy, now, pl.col("anonymized_at").is_null()))
            _return_held(lake, path, part, back, rehold)


def redact_ended_holds(settings: Settings, now: datetime, result: AnonymizeResult, *, dry_run: bool = False) -> None:
    """Records of ended holds whose rows are all back keep networks, not addresses or sessions."""
    lake = settings.lake
    policy = settings.policy
    still_held = {part.incident for part in storage.list_partitions(Layout(lake).held) if part.files()}
    for hold in holds.list_holds(lake):
        if hold.redacted_at is None and not hold.is_active(now) and (dry_run or hold.id not in still_held):
            result.holds_redacted.append(hold.id)
            if not dry_run:
                holds.redact_hold(lake, hold.id, now=now, ipv4_prefix=policy.ipv4_prefix,
                                  ipv6_prefix=policy.ipv6_prefix)


def _return_held(lake: LakePath, path: LakePath, part: Partition, back: pl.DataFrame, rehold: pl.DataFrame) -> None:
    """Move a released hold's file: anonymised rows to main, still-held rows to their hold."""
    outputs: list[tuple[pl.DataFrame, LakePath, bool]] = []
    name = f"returned-{part.incident}-{path.name}"
    if back.height:
        target = free_target(storage.partition_dir(Layout(lake).requests, part.site, part.day) / name)
        outputs.append((back, target, False))
    for (incident,), rows in rehold.partition_by("_hold", as_dict=True).items() if rehold.height else []:
        target = free_target(storage.partition_dir(Layout(lake).held, part.site, part.day, str(incident)) / name)
        outputs.append((rows.drop("_hold"), target, True))
    journals = []
    for index, (_, target, _) in enumerate(outputs):
        journals.append(write_journal(
            lake, f"return-{part.incident}-{part.site}-{part.day}-{path.name}-{index}",
            {"op": "return", "source": storage.relative(path, lake), "output": storage.relative(target, lake)},
        ))
    for rows, target, private in outputs:
        if private:
            storage.make_private(Layout(lake).held, target.parent)
        storage.write_parquet_atomic(rows.select(list(REQUEST_SCHEMA.names())), target, private=private)
    fault("after-return-write")
    storage.remove_file(path)
    fault("after-held-delete")
    for journal in journals:
        storage.remove_file(journal)
