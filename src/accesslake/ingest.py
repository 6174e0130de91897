"""Raw log files -> the lake, with a ledger that makes re-ingest a no-op.

:func:`ingest_file` reads a plain or gzip file in batches (memory does not
grow with the file; a worker thread reads batch k+1 and runs its regexes while
batch k is typed and written), parses each batch, enriches user agents, applies the
policy before the first write (rows already past ``anonymize_after`` are
anonymised, or moved intact to held/ if an active hold covers them; rule P3)
and stages Parquet files under ``<lake>/_tmp``. Only when the whole file has
been read and enough of it parsed are the staged files moved into place and
the ledger appended, so a bad file writes nothing.

Crash safety: before moving, an intent file lists the targets; a run that
finds an intent without its ledger record removes those targets first
(:func:`recover`), so a crash at any point plus a re-run equals a clean run.

A file is known by the SHA-256 of its first line (``file_key``), so a rotated
or re-compressed copy of a file is recognised, and a file that has grown
since (a live ``access.log``) ingests only its new lines.
"""

from __future__ import annotations

import gzip
import io
import hashlib
import json
import shutil
import uuid
import zlib
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

import numpy as np
import polars as pl

from accesslake import auditlog, holds
from accesslake import lake as lakefs
from accesslake.config import Settings
from accesslake.errors import InputError
from accesslake.faults import fault
from accesslake.formats import FieldSpec, compile_format, detect_format
from accesslake.parse import ExtractedBatch, ParsedBatch, extract_batch, split_lines, type_batch
from accesslake.policy import anonymize_exprs, due_mask, scrub_text_expr
from accesslake.schema import REQUEST_SCHEMA, UTC_US, conform
from accesslake.useragents import enrich

FAULT_POINTS = (
    "ingest-after-intent",  # intent written, nothing published
    "ingest-after-first-publish",  # some files in place, no ledger record
    "ingest-after-ledger",  # ledger record appended, intent not removed
)

__all__ = ["FAULT_POINTS", "IngestResult", "file_key", "ingest_file", "landing_files", "landing_state",
           "ledger_records", "recover"]

# Text per batch: the peak memory of an ingest is about 15x this (two batches in flight,
# allocator slack included) plus ~130 MiB of libraries. 20 MiB keeps it under 512 MiB
# with Parquet files of about 70,000 rows (docs/performance.md).
BATCH_BYTES = 20 * 1024 * 1024
DETECT_LINES = 200
_CLF_IN_LINE = r"\[(\d{1,2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\]"


@dataclass
class IngestResult:
    """What one ingest of one file did; also the ledger record."""

    source_file: str
    site: str
    file_key: str
    format: str
    detected: bool
    status: str  # "ingested", "grown", "unchanged", "empty"
    lines_before: int = 0  # lines already in the lake from earlier ingests
    lines_read: int = 0  # new lines read now = rows + held + rejects
    rows: int = 0
    held: int = 0
    rejects: int = 0
    anonymized_on_write: int = 0
    scrubbed_rejects: int = 0
    offset: int = 0  # uncompressed bytes consumed in total
    pending_partial_line: bool = False
    compressed: bool = False
    min_ts: str | None = None  # earliest request time read (ISO), for landing retention
    days: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    ingested_at: str = ""

    @property
    def lines_total(self) -> int:
        return self.lines_before + self.lines_read

    def summary(self) -> str:
        if self.status == "unchanged":
            return f"{self.source_file}: already ingested ({self.lines_before} lines); nothing to do"
        if self.status == "empty":
            return f"{self.source_file}: empty file; nothing to do"
        how = "detected" if self.detected else "given"
        grown = f", {self.lines_before} already ingested" if self.lines_before else ""
        return (
            f"{self.source_file}: format {self.format} ({how}); {self.lines_read} lines read{grown} = "
            f"{self.rows} rows + {self.held} held + {self.rejects} rejected; "
            f"{self.anonymized_on_write} anonymised on write (past anonymize_after)"
        )


def _ledger_path(lake: Path) -> Path:
    return lake / "ledger" / "ingest.jsonl"


def ledger_records(lake: Path) -> list[dict[str, object]]:
    text = lakefs.read_bytes_or_empty(_ledger_path(lake)).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _append_ledger(lake: Path, record: dict[str, object]) -> None:
    lakefs.append_text(_ledger_path(lake), json.dumps(record, sort_keys=True) + "\n")


def _intent_dir(lake: Path) -> Path:
    return lake / "ledger" / "pending"


def recover(lake: Path) -> int:
    """Undo the moves of an ingest that crashed before its ledger record; clean staging."""
    undone = 0
    intents = lakefs.list_files(_intent_dir(lake), ".json")
    if intents:
        done = {(r["file_key"], r["site"], r["offset"]) for r in ledger_records(lake)}
        for intent_path in intents:
            intent = json.loads(intent_path.read_text(encoding="utf-8"))
            if (intent["file_key"], intent["site"], intent["offset"]) not in done:
                for target in intent["files"]:
                    lakefs.remove_file(lake / target)
                    undone += 1
            lakefs.remove_file(intent_path)
    lakefs.clean_tmp(lake)
    return undone


def _open(path: Path) -> IO[bytes]:
    try:
        fh: IO[bytes] = path.open("rb")
        if lakefs.is_remote(path):  # an fsspec file: give it the io interface (readline(limit), peek)
            fh = io.BufferedReader(fh, buffer_size=8 << 20)  # type: ignore[arg-type]
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror}); check the path and permissions") from exc
    magic = fh.read(2)
    fh.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[return-value]
    return fh


def _head(path: Path, lines: int) -> bytes:
    """The first ``lines`` lines of ``path``, decompressed; a broken gzip is an InputError."""
    with _open(path) as fh:
        try:
            return b"".join(fh.readline(1 << 20) for _ in range(lines))
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: cannot decompress ({exc}); is the file complete?") from exc


def file_key(path: Path) -> str | None:
    """A log file's identity: SHA-256 of its first (decompressed) line, 16 hex digits.

    A rotated or recompressed copy has the same key. None for an empty file; a
    file that cannot be read or decompressed raises :class:`InputError`.
    """
    first = _head(path, 1)
    return hashlib.sha256(first).hexdigest()[:16] if first else None


def _chunks(
    path: Path, offset: int, is_gzip: bool, hold_partial: bool
) -> Generator[tuple[np.ndarray | bytes, bool], None, None]:
    """Yield (complete lines, last) from ``offset``; the final unterminated line too unless held.

    Each batch is read straight into a fresh, uninitialised buffer behind the
    partial line carried over from the previous one, and handed on as a view
    up to its last newline: the batch text is never copied or zero-filled
    (the parser then keeps zero-copy views of it).
    """
    with _open(path) as fh:
        try:
            if offset:
                if is_gzip:
                    remaining = offset
                    while remaining:
                        got = fh.read(min(remaining, BATCH_BYTES))
                        if not got:
                            break
                        remaining -= len(got)
                else:
                    fh.seek(offset)
            carry = b""
            while True:
                data = np.empty(len(carry) + BATCH_BYTES, dtype=np.uint8)
                data[: len(carry)] = np.frombuffer(carry, dtype=np.uint8)
                filled = len(carry)
                with data.data as view:
                    while filled < len(data):
                        got = fh.readinto(view[filled:])  # type: ignore[attr-defined]
                        if not got:
                            break
                        filled += got
                if filled == len(carry):
                    if carry and not hold_partial:
                        yield carry, True
                    return
                cut = _last_newline(data, filled) + 1
                carry = data[cut:filled].tobytes()
                if cut:
                    yield data[:cut], False
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: cannot read or decompress ({exc}); is the file complete?") from exc


def _last_newline(data: np.ndarray, end: int) -> int:
    """Index of the last newline in ``data[:end]``, or -1; looks at the tail first."""
    tail = max(0, end - (1 << 16))
    found = data[tail:end].tobytes().rfind(b"\n")
    if found >= 0:
        return tail + found
    hits = np.flatnonzero(data[:tail] == 10)
    return int(hits[-1]) if hits.size else -1


def _previous(lake: Path, site: str, file_key: str) -> tuple[int, int, int]:
    """(lines, uncompressed bytes, rejects) already ingested from the file ``file_key``."""
    lines = offset = rejects = 0
    for record in ledger_records(lake):
        if record["site"] == site and record["file_key"] == file_key and int(record["offset"]) >= offset:
            lines, offset = int(record["lines_before"]) + int(record["lines_read"]), int(record["offset"])
            rejects += int(record["rejects"])
    return lines, offset, rejects


def landing_files(landing: Path) -> list[Path]:
    """Files waiting in the landing folder (hidden files skipped), oldest name first."""
    if not landing.exists():
        return []
    if lakefs.is_remote(landing):
        return [p for p in lakefs.list_files(landing, "") if p.parent == landing]
    return sorted(p for p in landing.iterdir() if p.is_file() and not p.name.startswith("."))


def _late_rejects_scrubbed(rejects: pl.DataFrame, settings: Settings, now: datetime) -> pl.DataFrame:
    """Scrub rejected lines whose own timestamp is already past anonymize_after (rule A4)."""
    hint = rejects["line"].str.extract(_CLF_IN_LINE, 1).str.strptime(UTC_US, "%d/%b/%Y:%H:%M:%S %z", strict=False)
    cutoff = now - settings.policy.anonymize_after
    late = (hint <= cutoff).fill_null(False)
    return rejects.with_columns(
        pl.when(late).then(scrub_text_expr("line")).otherwise(pl.col("line")).alias("line"),
        pl.when(late).then(pl.lit(now).cast(UTC_US)).otherwise(pl.col("scrubbed_at")).alias("scrubbed_at"),
    )


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
        target = lakefs.partition_dir(root, site, day, incident) / name
        lakefs.write_parquet_atomic(part.drop("_day", "_site"), target, private=private)
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

    The caller holds the writer lock (:func:`accesslake.lake.writer_lock`).
    """
    lake = settings.lake
    lakefs.check_site(site)
    name = str(path)
    key = file_key(path)
    if key is None:
        return IngestResult(name, site, "", fmt or "-", fmt is None, "empty", ingested_at=now.isoformat())
    lines_before, offset, rejects_before = _previous(lake, site, key)
    spec, detected = _resolve_format(path, fmt, cookie)
    result = IngestResult(name, site, key, spec.name, detected, "ingested", lines_before, offset=offset)
    result.ingested_at = now.isoformat()
    with _open(path) as probe:
        is_gzip = isinstance(probe, gzip.GzipFile)
    result.compressed = is_gzip

    active = holds.active_holds(lake, now)
    policy = settings.policy
    run = lakefs.staging_dir(lake, f"ingest-{uuid.uuid4().hex[:12]}")
    staged: list[tuple[Path, Path]] = []  # (staged path, final path)
    first_bad: str | None = None
    # A gzip file is complete: its last line is never held (it could not be completed later).
    chunks = _chunks(path, offset, is_gzip, hold_partial_line and not is_gzip)
    next_line = [lines_before + 1]

    def read_and_extract() -> tuple[int, int, ExtractedBatch, bool] | None:
        """Read the next batch and run its regexes (in the worker thread, one batch ahead)."""
        item = next(chunks, None)
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
        result.pending_partial_line = hold_partial_line and _has_partial_tail(path, result.offset, is_gzip)
        _commit(lake, result, staged)
    finally:
        chunks.close()
        if run.exists():
            shutil.rmtree(run, ignore_errors=True)
    auditlog.append_event(
        lake, "ingest", now, source_file=name, site=site, file_key=key, format=spec.name,
        lines_read=result.lines_read, rows=result.rows, held=result.held, rejects=result.rejects,
        anonymized_on_write=result.anonymized_on_write, offset=result.offset,
    )
    return result


def _has_partial_tail(path: Path, offset: int, is_gzip: bool) -> bool:
    if is_gzip:
        return False
    return path.stat().st_size > offset


def _resolve_format(path: Path, fmt: str | None, cookie: str | None) -> tuple[FieldSpec, bool]:
    if fmt is not None:  # given, even if empty: an empty format is an error, not "detect"
        return compile_format(fmt, cookie=cookie), False
    spec = detect_format(split_lines(_head(path, DETECT_LINES)), cookie=cookie)
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
    batch: ParsedBatch, run: Path, lake: Path, site: str, file_key: str, now: datetime,
    settings: Settings, active: list[holds.Hold], result: IngestResult,
) -> list[tuple[Path, Path]]:
    policy = settings.policy
    staged: list[tuple[Path, Path]] = []
    rows = conform(enrich(batch.rows), REQUEST_SCHEMA)
    late = due_mask(policy, now)
    rows = rows.with_columns(pl.col("ts").dt.date().alias("_day"), pl.lit(site).alias("_site"))
    n_late = int(rows.select(late.sum()).item()) if rows.height else 0
    first_line = int(rows["source_line"].min() or 0) if rows.height else 0
    name = f"part-{file_key}-{first_line or int(batch.rejects['source_line'].min() or 0):010d}.parquet"

    def move(written: list[Path], dataset: str) -> None:
        for staged_path in written:
            final = lake / dataset / staged_path.relative_to(run / dataset).as_posix()
            staged.append((staged_path, final))

    # Only rows past anonymize_after can be held (rule P3); none are in a fresh log.
    if active and n_late:
        hold_id = holds.matching_hold_id_expr(active)
        rows = rows.with_columns(pl.when(late).then(hold_id).otherwise(None).alias("_hold"))
        held = rows.filter(pl.col("_hold").is_not_null())
        for (incident,), part in held.partition_by("_hold", as_dict=True).items():
            move(_stage(part.drop("_hold"), run / lakefs.HELD, name, True, str(incident)), lakefs.HELD)
        main = rows.filter(pl.col("_hold").is_null()).drop("_hold")
        n_late = int(main.select(late.sum()).item())
    else:
        held = rows.clear()
        main = rows
    result.anonymized_on_write += n_late
    if n_late:  # with no row due, the anonymising expressions would leave every value as it is
        main = main.with_columns(anonymize_exprs(policy, now, late))
    if main.height:
        move(_stage(main, run / lakefs.REQUESTS, name, False), lakefs.REQUESTS)

    rejects = batch.rejects
    if rejects.height:
        rejects = _late_rejects_scrubbed(rejects, settings, now)
        result.scrubbed_rejects += int(rejects["scrubbed_at"].is_not_null().sum())
        rejects = rejects.with_columns(pl.col("received_at").dt.date().alias("_day"), pl.lit(site).alias("_site"))
        move(_stage(rejects, run / lakefs.REJECTS, name, False), lakefs.REJECTS)

    result.rows += main.height
    result.held += held.height
    result.rejects += rejects.height
    if rows.height:
        earliest = rows["ts"].min()
        if result.min_ts is None or earliest.isoformat() < result.min_ts:  # type: ignore[union-attr]
            result.min_ts = earliest.isoformat()  # type: ignore[union-attr]
    result.days = sorted(set(result.days) | {d.isoformat() for d in rows["_day"].unique().drop_nulls()})
    return staged


def _commit(lake: Path, result: IngestResult, staged: list[tuple[Path, Path]]) -> None:
    """Intent, moves, ledger record, intent removed: crash-safe with :func:`recover`."""
    result.files = [lakefs.relative(final, lake) for _, final in staged]
    intent = _intent_dir(lake) / f"{result.file_key}-{result.site}.json"
    lakefs.write_text_atomic(intent, json.dumps({"file_key": result.file_key, "site": result.site,
                                                 "offset": result.offset, "files": result.files}))
    fault("ingest-after-intent")
    for index, (staged_path, final) in enumerate(staged):
        private = lakefs.relative(final, lake).startswith(lakefs.HELD + "/")
        lakefs.publish(staged_path, final, root=lake / lakefs.HELD, private=private)
        if index == 0:
            fault("ingest-after-first-publish")
    record = asdict(result)
    record.pop("files")
    _append_ledger(lake, record)
    fault("ingest-after-ledger")
    lakefs.remove_file(intent)



def landing_state(path: Path, records: list[dict[str, object]]) -> tuple[datetime | None, bool]:
    """(oldest line or receipt known from the ledger, fully ingested?) of a raw file.

    Records are matched by content (``file_key``, the hash of the first line),
    not by name: a rotated or re-compressed copy of an ingested file gets no
    ledger record of its own (ingest recognises it and reads nothing), yet
    holds the same lines. ``(None, False)`` when the ledger knows nothing of it.
    """
    try:
        key = file_key(path)
        if key is None:
            return None, False
        mine = [r for r in records if r["file_key"] == key]
        if not mine:
            return None, False
        size = _uncompressed_size(path)
    except InputError:
        return None, False  # unreadable or truncated: never complete; the audit judges it by its age
    oldest = min(
        datetime.fromisoformat(str(r[name])) for r in mine for name in ("ingested_at", "min_ts") if r.get(name)
    )
    return oldest, max(int(str(r["offset"])) for r in mine) >= size


def _uncompressed_size(path: Path) -> int:
    """Bytes of text in ``path`` (decompressed for gzip), to compare with the ledger's offset."""
    with _open(path) as fh:
        if not isinstance(fh, gzip.GzipFile):
            return path.stat().st_size
        try:
            return sum(len(block) for block in iter(lambda: fh.read(1 << 24), b""))
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: cannot decompress ({exc}); is the file complete?") from exc
