"""Retention of what cannot be read: bad and stray files quarantined, quarantine entries deleted (rule P1).

A file of ``requests/``, ``held/``, ``rejects/`` or the abuse candidates that
cannot be read (0 bytes, truncated, not Parquet, a broken footer, the wrong
columns) would stop every run at the same place; a file there that the
pipeline did not write (a hidden ``.x.parquet``, a ``.bak`` or ``.PARQUET``
copy, a note) would be read by a ``**/*.parquet`` glob yet skipped by the
anonymiser. Each step notes such files (:func:`read_or_note`,
:func:`note_strays`) and goes on; :func:`quarantine_noted` then moves them,
one at a time, to ``quarantine/``, named in the result. Their
``received_at`` is the start of their partition's UTC day (or the file's
modification time when earlier), so they are deleted conservatively early by
:func:`expire_quarantine`; a file from the rows of an active hold is kept
while the hold is.

Accounting (rule P4): a quarantined file's rows leave the dataset. Each
quarantine records how many rows of each ingested file (``file_key``) it took
out that the dataset no longer holds elsewhere (the ledger's count, minus the
rows still stored, minus what earlier quarantines recorded): a copy takes out
nothing, a broken original its rows, even when its footer is gone. The audit
adds these to what it finds stored.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from datetime import UTC, date, datetime, time

import polars as pl
import pyarrow as pa

from accesslake import ingest, storage
from accesslake.config import Settings
from accesslake.errors import AccesslakeError
from accesslake.retention.result import AnonymizeResult
from accesslake.retention.verified import Reads
from accesslake.schema import conform
from accesslake.storage import LakePath, Layout
from accesslake.storage.layout import partition_keys
from accesslake.storage.quarantine import list_quarantined, quarantine, quarantined_rows, remove_quarantined

__all__ = ["READ_ERRORS", "expire_quarantine", "note_strays", "quarantine_noted", "read_or_note"]

#: What reading a damaged or foreign Parquet file raises (storage, pyarrow, polars).
READ_ERRORS = (OSError, ValueError, KeyError, IndexError, pl.exceptions.PolarsError, pa.ArrowException)

#: The stores retention reads, by the kind of file it expects in them (Layout.kind_of).
DATASETS = {"requests": "requests", "held": "held", "rejects": "rejects", "forensics/abuse_candidates": "candidates"}
_NAME_KEY = re.compile(r"part-([0-9a-f]+)-\d+")


def read_or_note(lake: LakePath, path: LakePath, required: tuple[str, ...], result: AnonymizeResult,
                 schema: pl.Schema | None = None) -> pl.DataFrame | None:
    """The rows of ``path`` (conformed to ``schema``: a column an older file lacks is NULL), or None when it
    cannot be read, lacks a ``required`` column or has a column of another type: then it is noted in
    ``result.unreadable`` (quarantined at the end of the run) and the caller goes on."""
    try:
        frame = storage.read_parquet(path)
        why = _lacking(set(frame.columns), required)
        if why is None:
            return frame if schema is None else conform(frame, schema)
    except READ_ERRORS as exc:
        why = f"not a readable Parquet file, or a column of another type ({_first_line(exc)})"
    note(lake, path, why, result)
    return None


def note(lake: LakePath, path: LakePath, reason: str, result: AnonymizeResult) -> None:
    """Note ``path`` for the quarantine (once)."""
    rel = storage.relative(path, lake)
    if rel not in {noted for noted, _ in result.unreadable}:
        result.unreadable.append((rel, reason))


def note_strays(settings: Settings, result: AnonymizeResult, required: tuple[str, ...],
                reads: Reads | None = None) -> None:
    """Note every file in a dataset store that the pipeline did not write there (hidden, renamed, out of
    its partition); temporary files of an interrupted write are cleaned at the end of the run instead.
    The footers of held/ (which no step reads while its hold is active; the marts of its day do) are
    read too, but for files verified and unchanged since (``reads``): a broken one is noted
    (``required``: the columns a held file must have). Files of requests/ are counted as read or
    skipped by what the manifest of verified files says of them (``partitions_due`` decided so)."""
    lake = settings.lake
    reads = reads or Reads(lake)
    for folder, kind in DATASETS.items():
        for relative, path, stat in reads.listing(lake / folder):
            found = Layout.kind_of(relative)
            if found not in (kind, "temporary"):
                note(lake, path, "not a file the pipeline writes here (hidden, renamed or out of place)", result)
                continue
            if found in ("requests", "held") and reads.verified(relative, stat, result) is not None:
                continue
            try:
                why = _lacking(set(storage.parquet_metadata(path).schema.names), required) if found == "held" \
                    else None
            except READ_ERRORS as exc:
                why = f"not a readable Parquet file ({_first_line(exc)})"
            if why is not None:
                note(lake, path, why, result)


def _lacking(names: set[str], required: tuple[str, ...]) -> str | None:
    missing = [name for name in required if name not in names]
    return f"not a file of this dataset (no column {', '.join(missing)})" if missing else None


def quarantine_noted(settings: Settings, now: datetime, result: AnonymizeResult, *, dry_run: bool = False) -> None:
    """Move every noted file to the quarantine, naming each in ``result.problems``."""
    lake = settings.lake
    for rel, reason in result.unreadable:
        path = lake / rel
        if dry_run:
            result.quarantined.append(rel)
            result.problems.append(f"{rel}: {reason}; would be moved to quarantine/")
            continue
        if not path.exists():
            continue
        keys = partition_keys(tuple(rel.split("/")))
        dataset = next((kind for folder, kind in DATASETS.items() if rel.startswith(folder + "/")), None)
        site = keys.get("site")
        try:
            rows = _lost_rows(lake, path, site, dataset) if site and dataset in ("requests", "held", "rejects") \
                else {}
            entry = quarantine(lake, path, reason, now, _received(path, keys.get("date"), now), dataset=dataset,
                               site=site, hold=keys.get("incident"), rows=rows)
        except (OSError, ValueError, AccesslakeError) as exc:  # this file stays; the others still go
            result.problems.append(f"{rel}: {reason}; could not be moved to quarantine/ ({_first_line(exc)})")
            continue
        result.quarantined.append(f"{entry.folder}/{entry.name}")
        result.problems.append(f"{rel}: {reason}; moved to {entry.folder}/")
    result.unreadable = []


def expire_quarantine(settings: Settings, now: datetime, result: AnonymizeResult, active: list[str], *,
                      dry_run: bool = False) -> None:
    """Delete quarantine entries whose ``received_at`` is past ``anonymize_after`` (those from the rows of an
    active hold stay while it is active)."""
    for entry in list_quarantined(settings.lake):
        if entry.hold in active or entry.received + settings.policy.anonymize_after > now:
            continue
        result.quarantine_deleted.append(f"{entry.folder}/{entry.name}")
        if not dry_run:
            remove_quarantined(settings.lake, entry)


def _first_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]


def _received(path: LakePath, day: str | None, now: datetime) -> datetime:
    """The earliest time the file's content can be from: its partition's UTC day, or its modification time."""
    times = [now]
    with contextlib.suppress(OSError):
        times.append(datetime.fromtimestamp(storage.mtime_ns(path) / 1e9, tz=UTC))
    with contextlib.suppress(ValueError):
        times.append(datetime.combine(date.fromisoformat(day or ""), time(0), tzinfo=UTC))
    return min(times)


def _keys(path: LakePath) -> set[str]:
    """The ingested files (file keys) whose rows ``path`` holds: from its row ids, else from its name."""
    try:
        return set(storage.read_parquet(path, ["row_id"])["row_id"].str.split(":").list.first().drop_nulls())
    except READ_ERRORS:
        match = _NAME_KEY.search(path.name)
        return {match[1]} if match else set()


def _lost_rows(lake: LakePath, path: LakePath, site: str, dataset: str | None) -> dict[str, int]:
    """Rows of each ingested file that leave the dataset with ``path`` (see the module's docstring)."""
    keys = _keys(path)
    if not keys:
        return {}
    group, kinds, counts = ("rejects", ("rejects",), ("rejects",)) if dataset == "rejects" else \
        ("rows", ("requests", "held"), ("rows", "held"))
    expected: Counter[str] = Counter()
    for record in ingest.ledger_records(lake):
        if record["site"] == site and record["file_key"] in keys:
            expected[str(record["file_key"])] += sum(int(str(record[name])) for name in counts)
    stored: Counter[str] = Counter()
    for kind in kinds:
        for other in storage.list_files(Layout(lake).store(kind)):
            rel = storage.relative(other, lake)
            if other == path or Layout.kind_of(rel) != kind or _site(rel) != site:
                continue
            try:
                ids = storage.read_parquet(other, ["row_id"])["row_id"].str.split(":").list.first()
            except READ_ERRORS:
                continue  # unreadable too: its own turn counts it
            stored.update(ids.filter(ids.is_in(sorted(keys))).to_list())
    already = quarantined_rows(lake)
    lost = {key: expected[key] - stored[key] - already.get((group, site, key), 0) for key in keys}
    return {key: count for key, count in sorted(lost.items()) if count > 0}


def _site(rel: str) -> str | None:
    return partition_keys(tuple(rel.split("/"))).get("site")
