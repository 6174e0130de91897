"""One raw log file (or its new lines) -> the lake.

:func:`ingest_file` reads a plain or gzip file in batches (memory does not
grow with the file; a worker thread reads batch k+1 and runs its regexes while
batch k is typed and written), parses each batch, enriches user agents, applies the
policy before the first write (rows already past ``anonymize_after`` are
anonymised, or moved intact to held/ if an active hold covers them; rule P3)
and stages Parquet files locally. Only when the whole file has been read and
enough of it parsed are the staged files moved into place and the ledger
appended (:func:`accesslake.ingest.ledger.commit`), so a bad file writes nothing.
"""

from __future__ import annotations

import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import cast

import polars as pl

from accesslake import holds, storage
from accesslake.config import Settings
from accesslake.errors import InputError
from accesslake.ingest.ledger import IngestResult, commit, previous
from accesslake.ingest.reader import chunks, file_key, head, is_gzip
from accesslake.logs import (
    ExtractedBatch,
    FieldSpec,
    ParsedBatch,
    compile_format,
    detect_format,
    enrich,
    extract_batch,
    split_lines,
    type_batch,
)
from accesslake.policy import anonymize_exprs, due_mask, scrub_reject_exprs
from accesslake.schema import REQUEST_SCHEMA, UTC_US, conform
from accesslake.storage import LakePath, Layout, auditlog

__all__ = ["ingest_file"]

DETECT_LINES = 200
_CLF_IN_LINE = r"\[(\d{1,2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\]"


def _late_rejects_scrubbed(rejects: pl.DataFrame, settings: Settings, now: datetime) -> pl.DataFrame:
    """Scrub rejected lines whose own timestamp is already past anonymize_after (rule A4)."""
    hint = rejects["line"].str.extract(_CLF_IN_LINE, 1).str.strptime(UTC_US, "%d/%b/%Y:%H:%M:%S %z", strict=False)
    cutoff = now - settings.policy.anonymize_after
    late = (hint <= cutoff).fill_null(False)
    return rejects.with_columns(scrub_reject_exprs(pl.lit(late), now))


def _stage(frame: pl.DataFrame, root: Path, name: str, private: bool, incident: str | None = None) -> list[Path]:
    """Write one file per UTC day of ``frame`` (which has a ``_day`` column) under ``root``."""
    written: list[Path] = []
    if not frame.height:
        return written
    site = frame["_site"][0]
    days = frame["_day"]
    # Most batches hold one day: write it without partitioning (which copies every column).
    if days.n_unique() == 1:
        parts = {(days[0],): frame}
    else:
        parts = frame.partition_by("_day", as_dict=True, maintain_order=True)
    for (day,), part in parts.items():
        target = storage.partition_dir(root, site, day, incident) / name
        storage.write_parquet_atomic(part.drop("_day", "_site"), target, private=private)
        written.append(target)
    return written


def ingest_file(
    path: Path,
    settings: Settings,
    now: datetime,
    *,
    site: str = "default",
    fmt: str | None = None,
    cookie: str | None = None,
    hold_partial_line: bool = False,
) -> IngestResult:
    """Ingest one file (or its new lines); returns the counts, also kept in the ledger.

    The caller holds the writer lock (:func:`accesslake.storage.writer_lock`).
    """
    lake = settings.lake
    storage.check_site(site)
    name = str(path)
    key = file_key(path)
    if key is None:
        return IngestResult(name, site, "", fmt or "-", fmt is None, "empty", ingested_at=now.isoformat())
    lines_before, offset, rejects_before = previous(lake, site, key)
    spec, detected = _resolve_format(path, fmt, cookie)
    result = IngestResult(name, site, key, spec.name, detected, "ingested", lines_before, offset=offset)
    result.ingested_at = now.isoformat()
    gzipped = is_gzip(path)
    result.compressed = gzipped

    active = holds.active_holds(lake, now)
    policy = settings.policy
    run = storage.staging_dir(lake, f"ingest-{uuid.uuid4().hex[:12]}")
    staged: list[tuple[Path, LakePath]] = []  # (staged path, final path)
    first_bad: str | None = None
    # A gzip file is complete: its last line is never held (it could not be completed later).
    batches = chunks(path, offset, gzipped, hold_partial_line and not gzipped)
    next_line = [lines_before + 1]

    def read_and_extract() -> tuple[int, int, ExtractedBatch, bool] | None:
        """Read the next batch and run its regexes (in the worker thread, one batch ahead)."""
        item = next(batches, None)
        if item is None:
            return None
        chunk, last = item
        lines = split_lines(chunk)
        extracted = extract_batch(lines, spec, first_line=next_line[0], tz=policy.site_timezone)
        next_line[0] += lines.len()
        return len(chunk), lines.len(), extracted, last

    try:
        # Polars and NumPy release the GIL: batch k+1 is read and its regexes run in a worker
        # thread while this one types, enriches and writes batch k (two batches in memory).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="accesslake-parse") as pool:
            pending = pool.submit(read_and_extract)
            while (item := pending.result()) is not None:
                pending = pool.submit(read_and_extract)
                size, n_lines, extracted, last = item
                batch = type_batch(extracted, source_file=name, file_key=key, received_at=now)
                del extracted
                result.offset += size
                result.lines_read += n_lines
                if first_bad is None and batch.rejects.height:
                    bad = batch.rejects.row(0, named=True)
                    first_bad = f"line {bad['source_line']}: {bad['reason']}"
                # The ratio is judged over the whole file, so a live log that gained one junk line still ingests.
                _check_ratio(path, spec, lines_before + result.lines_read,
                             rejects_before + result.rejects + batch.rejects.height, policy.max_reject_ratio,
                             first_bad, final=last)
                staged += _write_batch(batch, run, lake, site, key, now, settings, active, result)
        _check_ratio(path, spec, lines_before + result.lines_read, rejects_before + result.rejects,
                     policy.max_reject_ratio, first_bad, final=True)
        if result.lines_read == 0:
            result.status = "unchanged"
            return result
        result.status = "grown" if lines_before else "ingested"
        result.pending_partial_line = hold_partial_line and _has_partial_tail(path, result.offset, gzipped)
        commit(lake, result, staged)
    finally:
        batches.close()
        if run.exists():
            shutil.rmtree(run, ignore_errors=True)
    auditlog.append_event(
        lake, "ingest", now, source_file=name, site=site, file_key=key, format=spec.name,
        lines_read=result.lines_read, rows=result.rows, held=result.held, rejects=result.rejects,
        anonymized_on_write=result.anonymized_on_write, offset=result.offset,
    )
    return result


def _first_line(frame: pl.DataFrame) -> int:
    """The smallest ``source_line`` of ``frame`` (0 when it has no rows)."""
    return int(cast(int, frame["source_line"].min())) if frame.height else 0


def _has_partial_tail(path: LakePath, offset: int, gzipped: bool) -> bool:
    if gzipped:
        return False
    return bool(path.stat().st_size > offset)


def _resolve_format(path: Path, fmt: str | None, cookie: str | None) -> tuple[FieldSpec, bool]:
    if fmt is not None:  # given, even if empty: an empty format is an error, not "detect"
        return compile_format(fmt, cookie=cookie), False
    spec = detect_format(split_lines(head(path, DETECT_LINES)), cookie=cookie)
    if spec is None:
        raise InputError(
            f"{path}: cannot detect the log format (no preset matches its first lines); "
            "pass --format with a preset (common, combined, vcombined, nginx) or your LogFormat string"
        )
    return spec, True


def _check_ratio(
    path: Path, spec: FieldSpec, lines: int, rejects: int, limit: float, first_bad: str | None, final: bool
) -> None:
    if lines == 0 or (not final and lines < 1000):
        return
    if rejects / lines > limit:
        raise InputError(
            f"{path}: {rejects} of {lines} lines do not parse as format {spec.name} ({first_bad}); "
            "nothing was written. Pass the right --format, or raise [ingest] max_reject_ratio"
        )


def _write_batch(
    batch: ParsedBatch, run: Path, lake: LakePath, site: str, file_key: str, now: datetime,
    settings: Settings, active: list[holds.Hold], result: IngestResult,
) -> list[tuple[Path, LakePath]]:
    policy = settings.policy
    staged: list[tuple[Path, LakePath]] = []
    rows = conform(enrich(batch.rows), REQUEST_SCHEMA)
    late = due_mask(policy, now)
    rows = rows.with_columns(pl.col("ts").dt.date().alias("_day"), pl.lit(site).alias("_site"))
    n_late = int(rows.select(late.sum()).item()) if rows.height else 0
    first_line = _first_line(rows) or _first_line(batch.rejects)
    name = f"part-{file_key}-{first_line:010d}.parquet"

    layout = Layout(lake)

    def move(written: list[Path], dataset: LakePath) -> None:
        for staged_path in written:
            final = dataset / staged_path.relative_to(run / dataset.name).as_posix()
            staged.append((staged_path, final))

    # Only rows past anonymize_after can be held (rule P3); none are in a fresh log.
    if active and n_late:
        hold_id = holds.matching_hold_id_expr(active)
        rows = rows.with_columns(pl.when(late).then(hold_id).otherwise(None).alias("_hold"))
        held = rows.filter(pl.col("_hold").is_not_null())
        for (incident,), part in held.partition_by("_hold", as_dict=True).items():
            move(_stage(part.drop("_hold"), run / "held", name, True, str(incident)), layout.held)
        main = rows.filter(pl.col("_hold").is_null()).drop("_hold")
        n_late = int(main.select(late.sum()).item())
    else:
        held = rows.clear()
        main = rows
    result.anonymized_on_write += n_late
    if n_late:  # with no row due, the anonymising expressions would leave every value as it is
        main = main.with_columns(anonymize_exprs(policy, now, late))
    if main.height:
        move(_stage(main, run / "requests", name, False), layout.requests)

    rejects = batch.rejects
    if rejects.height:
        rejects = _late_rejects_scrubbed(rejects, settings, now)
        result.scrubbed_rejects += int(rejects["scrubbed_at"].is_not_null().sum())
        rejects = rejects.with_columns(pl.col("received_at").dt.date().alias("_day"), pl.lit(site).alias("_site"))
        move(_stage(rejects, run / "rejects", name, False), layout.rejects)

    result.rows += main.height
    result.held += held.height
    result.rejects += rejects.height
    if rows.height:
        earliest = rows["ts"].min()
        if result.min_ts is None or earliest.isoformat() < result.min_ts:  # type: ignore[union-attr]
            result.min_ts = earliest.isoformat()  # type: ignore[union-attr]
    result.days = sorted(set(result.days) | {d.isoformat() for d in rows["_day"].unique().drop_nulls()})
    return staged
