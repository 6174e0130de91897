"""The backlog rewrite: anonymise past ``anonymize_after``, move held rows apart.

:func:`anonymize` is what the nightly run (and ``accesslake anonymize``)
calls, with the writer lock held. For the whole lake, not only yesterday
(rule P2), it:

1. rewrites every requests file holding rows past ``anonymize_after`` that are
   not yet anonymised: rows in the scope of an active hold move intact to
   ``held/incident=<id>/`` (rule H2), the others are anonymised in place (A1-A3);
2. returns the rows of holds that were released or passed their review date,
   anonymised, to the main dataset (H4), unless another active hold covers them,
   and then redacts those holds' records (addresses cut to networks, session
   ids dropped);
3. scrubs IP-like tokens from rejected lines past their deadline (A4);
4. deletes abuse candidates (they carry IPs) past ``anonymize_after``;
5. deletes raw landing files that are fully ingested and past ``anonymize_after``.

Crash safety: each file is rewritten beside itself and renamed over it. An
operation that touches two files (main -> held, held -> main) first writes a
journal naming its outputs; :func:`recover` rolls a half-done operation back,
so a crash at any point followed by a re-run ends in the state of a clean run
(rule P4). Named failure points (``ACCESSLAKE_FAULT=<point>`` or
``<point>:kill``) let tests crash the rewrite at each step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl

from accesslake import auditlog, detect, holds, ingest, lake as lakefs
from accesslake.config import Settings
from accesslake.faults import InjectedFault, fault
from accesslake.policy import anonymize_exprs, due_mask, scrub_text_expr
from accesslake.schema import REJECT_SCHEMA, REQUEST_SCHEMA, UTC_US

__all__ = ["FAULT_POINTS", "AnonymizeResult", "InjectedFault", "anonymize", "anonymize_partition", "partitions_due", "recover"]

FAULT_POINTS = (
    "after-held-write",  # held copy written, main file not yet rewritten
    "after-main-write",  # main file rewritten, journal not yet removed
    "after-return-write",  # released rows written back to main, held file not yet removed
    "after-held-delete",  # held file removed, journal not yet removed
    "after-reject-write",
)


@dataclass
class AnonymizeResult:
    """Counts of one run; ``dry_run`` results describe what would happen."""

    dry_run: bool = False
    files_rewritten: int = 0
    rows_anonymized: int = 0
    rows_held: int = 0
    rows_returned: int = 0
    rejects_scrubbed: int = 0
    landing_deleted: list[str] = field(default_factory=list)
    candidates_deleted: int = 0
    holds_redacted: list[str] = field(default_factory=list)
    recovered: int = 0
    holds_active: list[str] = field(default_factory=list)
    holds_returned: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        verb = "would be" if self.dry_run else "were"
        return [
            f"{self.rows_anonymized} rows {verb} anonymised in {self.files_rewritten} files",
            f"{self.rows_held} rows {verb} moved to held/ (active holds: {', '.join(self.holds_active) or 'none'})",
            f"{self.rows_returned} held rows {verb} returned anonymised "
            f"(released or expired: {', '.join(self.holds_returned) or 'none'})",
            f"{self.rejects_scrubbed} rejected lines {verb} scrubbed",
            f"{len(self.landing_deleted)} landing files {verb} deleted",
            f"{self.candidates_deleted} abuse candidates {verb} deleted (past anonymize_after)",
            f"{len(self.holds_redacted)} ended holds {verb} redacted "
            f"(scope cut to networks, session ids dropped): {', '.join(self.holds_redacted) or 'none'}",
        ]


def _journal_dir(lake: Path) -> Path:
    return lake / "ledger" / "journal"


def _write_journal(lake: Path, name: str, body: dict[str, object]) -> Path:
    return lakefs.write_text_atomic(_journal_dir(lake) / f"{name}.json", json.dumps(body))


def recover(lake: Path) -> int:
    """Roll back half-done operations of a crashed run; returns how many."""
    count = ingest.recover(lake)
    folder = _journal_dir(lake)
    for journal in lakefs.list_files(folder, ".json"):
        body = json.loads(journal.read_text(encoding="utf-8"))
        if body["op"] == "hold":
            source = lake / body["source"]
            moved = set(body["row_ids"])
            still_there = source.exists() and bool(
                lakefs.read_parquet(source, columns=["row_id"])["row_id"].is_in(list(moved)).any()
            )
            if still_there:  # main not rewritten yet: undo the held copies
                for target in body["outputs"]:
                    lakefs.remove_file(lake / target)
                count += 1
        elif body["op"] == "return":
            if (lake / body["source"]).exists():  # held file not removed yet: undo the copy
                lakefs.remove_file(lake / body["output"])
                count += 1
        lakefs.remove_file(journal)
    for stray in lakefs.list_files(folder, ".tmp"):
        lakefs.remove_file(stray)
    return count


def _needs_rewrite(path: Path, cutoff: datetime) -> bool:
    """From Parquet statistics: any row not anonymised whose time is before ``cutoff``?"""
    meta = lakefs.parquet_metadata(path)
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    idx = {n: names.index(n) for n in ("anonymized_at", "ts", "received_at")}
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        anon = group.column(idx["anonymized_at"]).statistics
        if anon is None or anon.null_count != 0:
            # Some rows are personal; are any of them old enough? (ts and received_at minima)
            mins = []
            for col in ("ts", "received_at"):
                stats = group.column(idx[col]).statistics
                if stats is None or not stats.has_min_max:
                    return True
                mins.append(stats.min)
            earliest = min(mins)
            if earliest.tzinfo is None:
                earliest = earliest.replace(tzinfo=cutoff.tzinfo)
            if earliest <= cutoff:
                return True
    return False


def partitions_due(settings: Settings, now: datetime) -> list[lakefs.Partition]:
    """The partitions of requests/ with a file to rewrite at ``now`` (from Parquet statistics only)."""
    cutoff = now - settings.policy.anonymize_after
    return [part for part in lakefs.list_partitions(settings.lake / lakefs.REQUESTS)
            if any(_needs_rewrite(path, cutoff) for path in part.files())]


def anonymize_partition(
    settings: Settings, now: datetime, part: lakefs.Partition, *, dry_run: bool = False,
    active: list[holds.Hold] | None = None,
) -> AnonymizeResult:
    """Step 1 for one partition of requests/: anonymise its due rows, move rows under a hold to held/.

    Partitions are independent (each file's journal and held targets are its own), so the
    flow runs them in parallel on Dask; the caller holds the writer lock and has run
    :func:`recover`. Returns the counts of this partition only.
    """
    lake = settings.lake
    policy = settings.policy
    result = AnonymizeResult(dry_run=dry_run)
    active = holds.active_holds(lake, now) if active is None else active
    cutoff = now - policy.anonymize_after
    due = due_mask(policy, now)
    hold_id = holds.matching_hold_id_expr(active)
    for path in part.files():
        if not _needs_rewrite(path, cutoff):
            continue
        frame = lakefs.read_parquet(path)
        marked = frame.with_columns(pl.when(due).then(hold_id).otherwise(None).alias("_hold"))
        to_hold = marked.filter(pl.col("_hold").is_not_null())
        keep = marked.filter(pl.col("_hold").is_null()).drop("_hold")
        n_anon = int(keep.select(due.sum()).item())
        if not n_anon and not to_hold.height:
            continue
        result.files_rewritten += 1
        result.rows_anonymized += n_anon
        result.rows_held += to_hold.height
        if dry_run:
            continue
        _rewrite_main(lake, path, keep.with_columns(anonymize_exprs(policy, now, due)), to_hold)
    return result


def anonymize(
    settings: Settings, now: datetime, *, dry_run: bool = False, main: list[AnonymizeResult] | None = None
) -> AnonymizeResult:
    """Run the backlog rewrite at ``now`` (the caller holds the writer lock).

    ``main``: the results of step 1 when the caller already ran :func:`anonymize_partition`
    for every partition of :func:`partitions_due` (the Dask flow does, one task per partition).
    """
    lake = settings.lake
    policy = settings.policy
    result = AnonymizeResult(dry_run=dry_run)
    if not dry_run:
        result.recovered = recover(lake)
    active = holds.active_holds(lake, now)
    result.holds_active = [h.id for h in active]
    hold_id = holds.matching_hold_id_expr(active)

    # 1. main dataset, partition by partition
    if main is None:
        main = [anonymize_partition(settings, now, part, dry_run=dry_run, active=active)
                for part in lakefs.list_partitions(lake / lakefs.REQUESTS)]
    for done in main:
        result.files_rewritten += done.files_rewritten
        result.rows_anonymized += done.rows_anonymized
        result.rows_held += done.rows_held

    # 2. held rows of holds that no longer count
    active_ids = {h.id for h in active}
    for part in lakefs.list_partitions(lake / lakefs.HELD):
        if part.incident in active_ids:
            continue
        for path in part.files():
            frame = lakefs.read_parquet(path)
            marked = frame.with_columns(hold_id.alias("_hold"))
            rehold = marked.filter(pl.col("_hold").is_not_null())
            back = marked.filter(pl.col("_hold").is_null()).drop("_hold")
            result.rows_returned += back.height
            result.rows_held += rehold.height
            if part.incident and part.incident not in result.holds_returned:
                result.holds_returned.append(part.incident)
            if dry_run:
                continue
            everything = pl.lit(True)
            back = back.with_columns(anonymize_exprs(policy, now, everything & pl.col("anonymized_at").is_null()))
            _return_held(lake, path, part, back, rehold)

    # 2b. records of ended holds whose rows are all back: their scopes keep no addresses
    still_held = {part.incident for part in lakefs.list_partitions(lake / lakefs.HELD) if part.files()}
    for hold in holds.list_holds(lake):
        if hold.redacted_at is None and not hold.is_active(now) and (dry_run or hold.id not in still_held):
            result.holds_redacted.append(hold.id)
            if not dry_run:
                holds.redact_hold(lake, hold.id, now=now, ipv4_prefix=policy.ipv4_prefix,
                                  ipv6_prefix=policy.ipv6_prefix)

    # 3. rejected lines
    reject_cutoff = (pl.col("received_at") + pl.duration(hours=policy.anonymize_after_hours)) <= pl.lit(now)
    for path in lakefs.list_files(lake / lakefs.REJECTS):
        frame = lakefs.read_parquet(path)
        late = reject_cutoff & pl.col("scrubbed_at").is_null()
        n = int(frame.select(late.sum()).item())
        if not n:
            continue
        result.rejects_scrubbed += n
        if dry_run:
            continue
        scrubbed = frame.with_columns(
            pl.when(late).then(scrub_text_expr("line")).otherwise(pl.col("line")).alias("line"),
            pl.when(late).then(pl.lit(now).cast(UTC_US)).otherwise(pl.col("scrubbed_at")).alias("scrubbed_at"),
        ).select(list(REJECT_SCHEMA.names()))
        lakefs.write_parquet_atomic(scrubbed, path)
        fault("after-reject-write")

    # 4. abuse candidates (they carry IPs; a hold opened from one keeps its own scope)
    result.candidates_deleted = detect.expire_candidates(settings, now, dry_run=dry_run)

    # 5. raw landing files
    expired = _expired_landing(settings, now)
    result.landing_deleted = [str(p) for p in expired]
    if not dry_run:
        for landed in expired:
            lakefs.remove_file(landed)
        lakefs.clean_tmp(lake)
        auditlog.append_event(
            lake, "anonymize", now, files_rewritten=result.files_rewritten,
            rows_anonymized=result.rows_anonymized, rows_held=result.rows_held,
            rows_returned=result.rows_returned, rejects_scrubbed=result.rejects_scrubbed,
            landing_deleted=len(result.landing_deleted), recovered=result.recovered,
            candidates_deleted=result.candidates_deleted, holds_redacted=result.holds_redacted,
            holds_active=result.holds_active, holds_returned=result.holds_returned,
            anonymize_after_hours=policy.anonymize_after_hours, max_age_hours=policy.max_age_hours,
            policy_override=policy.is_override,
        )
    return result


def _rewrite_main(lake: Path, path: Path, keep: pl.DataFrame, to_hold: pl.DataFrame) -> None:
    site, day = lakefs.partition_of(path)
    if to_hold.height:
        # A later run can move more rows of the same main file to the same hold, and
        # ingest names late held rows like the main file: never overwrite held rows.
        targets = {
            str(i): _free_target(lakefs.partition_dir(lake / lakefs.HELD, site, day, str(i)) / path.name)
            for i in to_hold["_hold"].unique().sort()
        }
        journal = _write_journal(
            lake, f"hold-{path.name}-{site}-{day}",
            {"op": "hold", "source": lakefs.relative(path, lake),
             "row_ids": to_hold["row_id"].to_list(),
             "outputs": [lakefs.relative(t, lake) for t in targets.values()]},
        )
        for (incident,), part in to_hold.partition_by("_hold", as_dict=True).items():
            target = targets[str(incident)]
            lakefs.make_private(lake / lakefs.HELD, target.parent)
            lakefs.write_parquet_atomic(part.drop("_hold").select(list(REQUEST_SCHEMA.names())), target, private=True)
        fault("after-held-write")
    if keep.height:
        lakefs.write_parquet_atomic(keep.select(list(REQUEST_SCHEMA.names())), path)
    else:
        lakefs.remove_file(path)
    fault("after-main-write")
    if to_hold.height:
        lakefs.remove_file(journal)


def _free_target(target: Path) -> Path:
    """``target``, or ``<stem>-<n>.parquet`` beside it when that name is taken."""
    n = 1
    free = target
    while free.exists():
        n += 1
        free = target.with_name(f"{target.stem}-{n}{target.suffix}")
    return free


def _return_held(lake: Path, path: Path, part: lakefs.Partition, back: pl.DataFrame, rehold: pl.DataFrame) -> None:
    """Move a released hold's file: anonymised rows to main, still-held rows to their hold."""
    outputs: list[tuple[pl.DataFrame, Path, bool]] = []
    name = f"returned-{part.incident}-{path.name}"
    if back.height:
        target = _free_target(lakefs.partition_dir(lake / lakefs.REQUESTS, part.site, part.day) / name)
        outputs.append((back, target, False))
    for (incident,), rows in rehold.partition_by("_hold", as_dict=True).items() if rehold.height else []:
        target = _free_target(lakefs.partition_dir(lake / lakefs.HELD, part.site, part.day, str(incident)) / name)
        outputs.append((rows.drop("_hold"), target, True))
    journals = []
    for index, (_, target, _) in enumerate(outputs):
        journals.append(_write_journal(
            lake, f"return-{part.incident}-{part.site}-{part.day}-{path.name}-{index}",
            {"op": "return", "source": lakefs.relative(path, lake), "output": lakefs.relative(target, lake)},
        ))
    for rows, target, private in outputs:
        if private:
            lakefs.make_private(lake / lakefs.HELD, target.parent)
        lakefs.write_parquet_atomic(rows.select(list(REQUEST_SCHEMA.names())), target, private=private)
    fault("after-return-write")
    lakefs.remove_file(path)
    fault("after-held-delete")
    for journal in journals:
        lakefs.remove_file(journal)


def _expired_landing(settings: Settings, now: datetime) -> list[Path]:
    """Fully ingested landing files whose oldest line is past ``anonymize_after``.

    The age of a raw file is that of its oldest line (request time or first
    receipt, whichever is earlier; ledger ``min_ts``), so an old archive
    dropped into landing/ is deleted by the same nightly run that ingests it.
    """
    landing = settings.lake / lakefs.LANDING
    records = ingest.ledger_records(settings.lake)
    expired: list[Path] = []
    for path in ingest.landing_files(landing):
        oldest, complete = ingest.landing_state(path, records)
        if oldest is not None and complete and oldest + settings.policy.anonymize_after <= now:
            expired.append(path)
    return expired
