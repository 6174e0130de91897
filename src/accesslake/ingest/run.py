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

import ipaddress
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

import polars as pl

from accesslake import holds, storage
from accesslake.config import Progress, Settings
from accesslake.errors import ConfigError, InputError
from accesslake.ingest.identity import Known, open_known
from accesslake.ingest.ledger import IngestResult, commit, ledger_records
from accesslake.ingest.reader import LogFile, head
from accesslake.ingest.scrub import reject_scrub_exprs
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
from accesslake.policy import anonymize_exprs, due_mask
from accesslake.schema import REQUEST_SCHEMA, UTC_US, conform
from accesslake.storage import LakePath, Layout, auditlog

__all__ = ["SETTLE", "ingest_file"]

MIB = 1024 * 1024

DETECT_LINES = 200
# A last line without newline is read once its file is unchanged for this long (by the run's clock).
SETTLE = timedelta(minutes=5)
_CLF_IN_LINE = r"\[(\d{1,2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\]"


def _late_rejects_scrubbed(rejects: pl.DataFrame, settings: Settings, now: datetime) -> pl.DataFrame:
    """Scrub rejected lines whose own timestamp is already past anonymize_after (rule A4)."""
    hint = rejects["line"].str.extract(_CLF_IN_LINE, 1).str.strptime(UTC_US, "%d/%b/%Y:%H:%M:%S %z", strict=False)
    cutoff = now - settings.policy.anonymize_after
    late = (hint <= cutoff).fill_null(False)
    if not late.any():
        return rejects
    return rejects.with_columns(reject_scrub_exprs(rejects, pl.lit(late), now))


def _stage(frame: pl.DataFrame, root: Path, name: str, private: bool, incident: str | None = None) -> list[Path]:
    """Write one file per site and UTC day of ``frame`` (which has ``_site`` and ``_day`` columns) under ``root``."""
    written: list[Path] = []
    if not frame.height:
        return written
    # Most batches hold one site and day: write them without partitioning (which copies every column).
    if frame["_day"].n_unique() == 1 and frame["_site"].n_unique() == 1:
        parts = {(frame["_site"][0], frame["_day"][0]): frame}
    else:
        parts = frame.partition_by("_site", "_day", as_dict=True, maintain_order=True)
    for (site, day), part in parts.items():
        target = storage.partition_dir(root, str(site), day, incident) / name
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
    site_from_vhost: bool = False,
    progress: Progress | None = None,
) -> IngestResult:
    """Ingest one file (or its new lines); returns the counts, also kept in the ledger.

    ``progress`` is told after each batch (:data:`accesslake.config.Progress`): MiB read of the
    file's size, or, for a gzip file (whose text size is not known before the end), lines read.

    ``hold_partial_line``: a last line without newline waits (the file may still be written) until
    the file is unchanged for :data:`SETTLE` since the ingest that first held it back. A file the
    ledger knows keeps the site (and ``site_from_vhost``) it was first ingested under. The caller
    holds the writer lock (:func:`accesslake.storage.writer_lock`).
    """
    lake = settings.lake
    storage.check_site(site)
    name = str(path)
    log, known, key = open_known(path, ledger_records(lake))
    with log:
        if key is None:
            return IngestResult(name, site, "", fmt or "-", fmt is None, "empty", ingested_at=now.isoformat())
        note = None
        if known is not None:
            if known.site != site:
                note = f"site {known.site}, where it was first ingested; --site {site} does not apply to it"
            site, site_from_vhost = known.site, bool(known.record.get("site_from_vhost"))
        # A given format is compiled now (a bad one is an error even for a file with nothing new);
        # detection waits for the first complete line to read.
        spec = compile_format(fmt, cookie=cookie) if fmt is not None else None
        result = IngestResult(name, site, key, spec.name if spec else "-", spec is None, "ingested",
                              known.lines if known else 0,
                              offset=log.offset, compressed=log.gzipped, site_from_vhost=site_from_vhost,
                              ingested_at=now.isoformat(), note=note)
        # A gzip file is complete: its last line is never held (it could not be completed later).
        hold = hold_partial_line and not log.gzipped and not _settled(known, log, now)
        if not _read(log, hold, spec, cookie, settings, now, result, known, _ticker(progress, log)):
            result.status = "unchanged"
            return result
    auditlog.append_event(
        lake, "ingest", now, source_file=name, site=site, file_key=key, format=result.format,
        lines_read=result.lines_read, rows=result.rows, held=result.held, rejects=result.rejects,
        anonymized_on_write=result.anonymized_on_write, offset=result.offset,
    )
    return result


def _settled(known: Known | None, log: LogFile, now: datetime) -> bool:
    """The file held back a partial last line when it was last ingested, at least :data:`SETTLE` ago
    (by the run's clock), and has not changed since: that line is complete."""
    if known is None or not known.record.get("pending_partial_line"):
        return False
    unchanged = int(log.path.stat().st_size) == known.position.seen
    return unchanged and datetime.fromisoformat(str(known.record["ingested_at"])) + SETTLE <= now


def _ticker(progress: Progress | None, log: LogFile) -> Callable[[IngestResult], None] | None:
    """What :func:`_read` calls after each batch to tell ``progress`` how far it got (None: no progress)."""
    if progress is None:
        return None
    name = log.path.name
    if log.gzipped:
        return lambda result: progress(f"ingest {name} (lines)", result.lines_read, None)
    try:
        total: int | None = -(-int(log.path.stat().st_size) // MIB)  # MiB, rounded up
    except OSError:
        total = None

    def tick(result: IngestResult) -> None:
        done = -(-log.offset // MIB)
        progress(f"ingest {name} (MiB)", done if total is None else min(done, total), total)

    return tick


def _read(
    log: LogFile, hold: bool, spec: FieldSpec | None, cookie: str | None, settings: Settings, now: datetime,
    result: IngestResult, known: Known | None, tick: Callable[[IngestResult], None] | None = None,
) -> bool:
    """Read, parse and stage the new lines of ``log``, then commit them with the ledger record; False
    when there was nothing new (no line, and the same partial last line as before, if any)."""
    lake, policy, path, key = settings.lake, settings.policy, log.path, result.file_key
    lines_before, rejects_before = result.lines_before, known.rejects if known else 0
    active = holds.active_holds(lake, now)
    run = storage.staging_dir(lake, f"ingest-{uuid.uuid4().hex[:12]}")
    staged: list[tuple[Path, LakePath]] = []  # (staged path, final path)
    first_bad: str | None = None
    batches = log.chunks(hold)
    next_line = [lines_before + 1]
    formats = [spec]  # detected from the first lines when the first batch comes

    def read_and_extract() -> tuple[int, ExtractedBatch, bool] | None:
        """Read the next batch and run its regexes (in the worker thread, one batch ahead)."""
        item = next(batches, None)
        if item is None:
            return None
        chunk, last = item
        found = formats[0]
        if found is None:
            found = formats[0] = _detect_format(path, cookie)
        lines = split_lines(chunk)
        extracted = extract_batch(lines, found, first_line=next_line[0], tz=policy.site_timezone)
        next_line[0] += lines.len()
        return lines.len(), extracted, last

    try:
        # Polars and NumPy release the GIL: batch k+1 is read and its regexes run in a worker
        # thread while this one types, enriches and writes batch k (two batches in memory).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="accesslake-parse") as pool:
            pending = pool.submit(read_and_extract)
            while (item := pending.result()) is not None:
                pending = pool.submit(read_and_extract)
                n_lines, extracted, last = item
                result.format = extracted.spec.name
                batch = type_batch(extracted, source_file=result.source_file, file_key=key, received_at=now)
                del extracted
                result.lines_read += n_lines
                if first_bad is None and batch.rejects.height:
                    bad = batch.rejects.row(0, named=True)
                    first_bad = f"line {bad['source_line']}: {bad['reason']}"
                # The ratio is judged over the whole file, so a live log that gained one junk line still ingests.
                _check_ratio(path, result.format, lines_before + result.lines_read,
                             rejects_before + result.rejects + batch.rejects.height, policy.max_reject_ratio,
                             first_bad, final=last)
                staged += _write_batch(batch, run, now, settings, active, result)
                if tick is not None:
                    tick(result)
        _check_ratio(path, result.format, lines_before + result.lines_read, rejects_before + result.rejects,
                     policy.max_reject_ratio, first_bad, final=True)
        result.offset, result.seen_bytes = log.offset, log.offset + len(log.tail)
        result.pending_partial_line = bool(log.tail)
        if result.lines_read:
            result.status = "grown" if lines_before else "ingested"
        elif log.tail and (known is None or known.position.seen != result.seen_bytes):
            result.status = "waiting"  # recorded: the next run knows since when the partial line is unchanged
        else:
            return False
        result.seen_sha256, result.head_sha256 = log.seen_sha256(), log.head_sha256()
        commit(lake, result, staged)
        return True
    finally:
        batches.close()
        if run.exists():
            shutil.rmtree(run, ignore_errors=True)


def _first_line(frame: pl.DataFrame) -> int:
    """The smallest ``source_line`` of ``frame`` (0 when it has no rows)."""
    return int(cast(int, frame["source_line"].min())) if frame.height else 0


def _detect_format(path: LakePath, cookie: str | None) -> FieldSpec:
    spec = detect_format(split_lines(head(path, DETECT_LINES)), cookie=cookie)
    if spec is None:
        raise InputError(
            f"{path}: cannot detect the log format (no preset matches its first lines); "
            "pass --format with a preset (common, combined, vcombined, nginx) or your LogFormat string"
        )
    return spec


def _check_ratio(
    path: Path, fmt: str, lines: int, rejects: int, limit: float, first_bad: str | None, final: bool
) -> None:
    if lines == 0 or (not final and lines < 1000):
        return
    if rejects / lines > limit:
        raise InputError(
            f"{path}: {rejects} of {lines} lines do not parse as format {fmt} ({first_bad}); "
            "nothing was written. Pass the right --format, or raise [ingest] max_reject_ratio"
        )


def _write_batch(
    batch: ParsedBatch, run: Path, now: datetime, settings: Settings, active: list[holds.Hold], result: IngestResult,
) -> list[tuple[Path, LakePath]]:
    lake, policy = settings.lake, settings.policy
    staged: list[tuple[Path, LakePath]] = []
    rows = conform(enrich(batch.rows), REQUEST_SCHEMA)
    late = due_mask(policy, now)
    rows = rows.with_columns(pl.col("ts").dt.date().alias("_day"), _site_expr(rows, result))
    n_late = int(rows.select(late.sum()).item()) if rows.height else 0
    first_line = _first_line(rows) or _first_line(batch.rejects)
    name = f"part-{result.file_key}-{first_line:010d}.parquet"

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
        rejects = rejects.with_columns(pl.col("received_at").dt.date().alias("_day"),
                                       pl.lit(result.site).alias("_site"))
        move(_stage(rejects, run / "rejects", name, False), layout.rejects)

    result.rows += main.height
    result.held += held.height
    result.rejects += rejects.height
    if result.site_from_vhost and rows.height:
        for site, count in rows.group_by("_site").len().iter_rows():
            result.sites[site] = result.sites.get(site, 0) + count
    if rows.height:
        earliest = rows["ts"].min()
        if result.min_ts is None or earliest.isoformat() < result.min_ts:  # type: ignore[union-attr]
            result.min_ts = earliest.isoformat()  # type: ignore[union-attr]
    result.days = sorted(set(result.days) | {d.isoformat() for d in rows["_day"].unique().drop_nulls()})
    return staged


def _site_expr(rows: pl.DataFrame, result: IngestResult) -> pl.Expr:
    """The ``_site`` of each row: the file's site, or with ``site_from_vhost`` the row's virtual host
    when it makes a valid site name (port and trailing dot dropped; others stay in the file's site)."""
    if not result.site_from_vhost:
        return pl.lit(result.site).alias("_site")
    hosts = rows["vhost"].unique().drop_nulls().to_list()
    mapping = {host: _vhost_site(host, result.site) for host in hosts}
    return pl.col("vhost").replace_strict(mapping, default=result.site, return_dtype=pl.String).alias("_site")


def _vhost_site(vhost: str, default: str) -> str:
    host = vhost.strip().rstrip(".")
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit() and ":" not in name:
        host = name
    try:  # an address is no site name (a client asking for the server by IP; a scanner)
        ipaddress.ip_address(host.strip("[]"))
        return default
    except ValueError:
        pass
    try:
        return storage.check_site(host)
    except ConfigError:
        return default
