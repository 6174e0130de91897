"""Retention of the main dataset: the backlog rewrite of ``requests/`` (rules P2, A1-A3, H2).

Every file holding rows past ``anonymize_after`` that are not yet anonymised is
rewritten (the manifest of verified files tells which, else Parquet statistics, without
reading their data; requests/ is listed once, not partition by partition):
rows in the scope of an active hold move intact to ``held/incident=<id>/``,
the others are anonymised in place. Each file is rewritten beside itself and
renamed over it; the main -> held move is journaled (:mod:`.journal`).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from accesslake import holds, storage
from accesslake.config import Settings
from accesslake.faults import fault
from accesslake.policy import anonymize_exprs, due_mask
from accesslake.retention.journal import free_target, write_journal
from accesslake.retention.quarantine import READ_ERRORS, read_or_note
from accesslake.retention.result import AnonymizeResult
from accesslake.retention.verified import Reads, due_before
from accesslake.schema import REQUEST_SCHEMA
from accesslake.storage import LakePath, Layout, Partition
from accesslake.storage.manifest import Manifest, partitions_listed

__all__ = ["anonymize_partition", "anonymize_partition_of", "needs_rewrite", "partitions_due", "rewrite_main"]

#: Without these (every version of the pipeline wrote them) a file is not one of the dataset: it is
#: quarantined. A column added later that an older file lacks is read as NULL.
REQUIRED = ("row_id", "ts", "received_at", "anonymized_at", "client_ip", "session_id", "remote_user",
            "forwarded_for", "query", "user_agent", "referrer")


def needs_rewrite(path: LakePath, cutoff: datetime) -> bool:
    """From Parquet statistics: any row not anonymised whose time is before ``cutoff``? True also when
    the footer cannot tell (unreadable, or without those columns): the rewrite then reads the file,
    and quarantines it if it cannot."""
    try:
        meta = storage.parquet_metadata(path)
        names = [meta.schema.column(i).name for i in range(meta.num_columns)]
        idx = {n: names.index(n) for n in ("anonymized_at", "ts", "received_at")}
    except READ_ERRORS:
        return True
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


def partitions_due(settings: Settings, now: datetime, manifest: Manifest | None = None) -> list[Partition]:
    """The partitions of requests/ with a file to rewrite at ``now``: from one listing of requests/, and for
    each file from its record in the manifest of verified files (``manifest``: loaded when None) or, for a
    file not verified as it is, from its Parquet statistics."""
    lake = settings.lake
    cutoff = now - settings.policy.anonymize_after
    reads = Reads(lake, manifest)
    counted = AnonymizeResult()

    def due(relative: str, path: LakePath, stat: storage.FileStat) -> bool:
        verified = reads.verified(relative, stat, counted)
        return due_before(verified, "pending", cutoff) if verified is not None else needs_rewrite(path, cutoff)

    return [part for part, files in partitions_listed(Layout(lake).requests, lake).items()
            if any(due(*file) for file in files)]


def anonymize_partition(
    settings: Settings, now: datetime, part: Partition, *, dry_run: bool = False,
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
        if not needs_rewrite(path, cutoff):
            continue
        frame = read_or_note(lake, path, REQUIRED, result, REQUEST_SCHEMA)
        if frame is None:
            continue  # noted: run_retention quarantines it, the other files go on
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
        rewrite_main(lake, path, keep.with_columns(anonymize_exprs(policy, now, due)), to_hold)
    return result


def anonymize_partition_of(part: Partition, settings: Settings, now: datetime) -> AnonymizeResult:
    """:func:`anonymize_partition` with the partition first (the nightly maps it over partitions)."""
    return anonymize_partition(settings, now, part)


def rewrite_main(lake: LakePath, path: LakePath, keep: pl.DataFrame, to_hold: pl.DataFrame) -> None:
    """Replace the requests file ``path`` by ``keep`` and move ``to_hold`` (with ``_hold``: the hold id of each
    row) into held/, journaled so that a crash between the two is finished by the next run (the anonymiser's
    and a data-subject erasure's one way to change a requests file)."""
    site, day = storage.partition_of(path)
    if to_hold.height:
        # A later run can move more rows of the same main file to the same hold, and
        # ingest names late held rows like the main file: never overwrite held rows.
        targets = {
            str(i): free_target(storage.partition_dir(Layout(lake).held, site, day, str(i)) / path.name)
            for i in to_hold["_hold"].unique().sort()
        }
        journal = write_journal(
            lake, f"hold-{path.name}-{site}-{day}",
            {"op": "hold", "source": storage.relative(path, lake),
             "row_ids": to_hold["row_id"].to_list(),
             "outputs": [storage.relative(t, lake) for t in targets.values()]},
        )
        for (incident,), part in to_hold.partition_by("_hold", as_dict=True).items():
            target = targets[str(incident)]
            storage.make_private(Layout(lake).held, target.parent)
            storage.write_parquet_atomic(part.drop("_hold").select(list(REQUEST_SCHEMA.names())), target, private=True)
        fault("after-held-write")
    if keep.height:
        storage.write_parquet_atomic(keep.select(list(REQUEST_SCHEMA.names())), path)
    else:
        storage.remove_file(path)
    fault("after-main-write")
    if to_hold.height:
        storage.remove_file(journal)


