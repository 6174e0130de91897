"""The ingest ledger: one record per ingest of a file, and the crash-recovery intents.

``<lake>/ledger/ingest.jsonl`` holds one JSON record per ingest (an
:class:`IngestResult`): the counts (rows + held + rejects = lines read, rule P4)
and the offset read up to, so re-ingesting a file is a no-op and a grown file
ingests only its new lines. An ingest publishes its files under an intent
(``ledger/pending/``) that lists them; a run that finds an intent without its
ledger record removes those files first (:func:`recover`), so a crash at any
point plus a re-run equals a clean run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from accesslake import storage
from accesslake.faults import fault
from accesslake.storage import LakePath, Layout

__all__ = ["FAULT_POINTS", "IngestResult", "commit", "ledger_records", "recover", "rows_by_site"]

FAULT_POINTS = (
    "ingest-after-intent",  # intent written, nothing published
    "ingest-after-first-publish",  # some files in place, no ledger record
    "ingest-after-ledger",  # ledger record appended, intent not removed
)


@dataclass
class IngestResult:
    """What one ingest of one file did; also the ledger record."""

    source_file: str
    site: str
    file_key: str
    format: str
    detected: bool
    status: str  # "ingested", "grown", "waiting", "unchanged", "empty", "quarantined"
    lines_before: int = 0  # lines already in the lake from earlier ingests
    lines_read: int = 0  # new lines read now = rows + held + rejects
    rows: int = 0
    held: int = 0
    rejects: int = 0
    anonymized_on_write: int = 0
    scrubbed_rejects: int = 0
    offset: int = 0  # uncompressed bytes consumed in total
    seen_bytes: int = 0  # uncompressed bytes looked at: offset + the partial last line held back
    seen_sha256: str = ""  # SHA-256 of those bytes: the file continues only while it still starts with them
    head_sha256: str = ""  # SHA-256 of the first min(seen_bytes, 64 KiB): which records a file may continue
    pending_partial_line: bool = False
    compressed: bool = False
    site_from_vhost: bool = False  # rows went to site=<vhost> (their rows + held per site in ``sites``)
    sites: dict[str, int] = field(default_factory=dict)
    min_ts: str | None = None  # earliest request time read (ISO), for landing retention
    days: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    ingested_at: str = ""
    note: str | None = None  # e.g. the site a file keeps from its first ingest
    error: str | None = None  # why the file was quarantined

    @property
    def lines_total(self) -> int:
        return self.lines_before + self.lines_read

    def summary(self) -> str:
        if self.status == "unchanged":
            return f"{self.source_file}: already ingested ({self.lines_before} lines); nothing to do"
        if self.status == "quarantined":
            return f"{self.source_file}: QUARANTINED: {self.error}"
        if self.status == "empty":
            return f"{self.source_file}: empty file; nothing to do"
        if self.status == "waiting":
            return (f"{self.source_file}: {self.lines_before} lines already ingested; its last line has no newline "
                    "yet: it is read once the file is unchanged for 5 minutes (or `ingest --complete`)")
        how = "detected" if self.detected else "given"
        grown = f", {self.lines_before} already ingested" if self.lines_before else ""
        sites = f" in {len(self.sites)} sites by virtual host" if self.site_from_vhost else ""
        waiting = "; the last line (no newline yet) waits" if self.pending_partial_line else ""
        note = f" ({self.note})" if self.note else ""
        return (
            f"{self.source_file}: format {self.format} ({how}); {self.lines_read} lines read{grown} = "
            f"{self.rows} rows{sites} + {self.held} held + {self.rejects} rejected; "
            f"{self.anonymized_on_write} anonymised on write (past anonymize_after){waiting}{note}"
        )



def ledger_records(lake: LakePath) -> list[dict[str, object]]:
    text = storage.read_bytes_or_empty(Layout(lake).ledger).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def recover(lake: LakePath) -> int:
    """Undo the moves of an ingest that crashed before its ledger record; clean staging."""
    undone = 0
    intents = storage.list_files(Layout(lake).intents, ".json")
    if intents:
        done = {(r["file_key"], r["site"], r["offset"]) for r in ledger_records(lake)}
        for intent_path in intents:
            intent = json.loads(storage.read_bytes_or_empty(intent_path))
            if (intent["file_key"], intent["site"], intent["offset"]) not in done:
                for target in intent["files"]:
                    storage.remove_file(lake / target)
                    undone += 1
            storage.remove_file(intent_path)
    storage.clean_tmp(lake)
    return undone


def rows_by_site(record: dict[str, object]) -> dict[str, int]:
    """Rows + held a ledger record put in each site (several with ``--site-from-vhost``); its rejected
    lines are all in the record's ``site``."""
    sites = record.get("sites")
    if isinstance(sites, dict) and sites:
        return {str(site): int(str(n)) for site, n in sites.items()}
    return {str(record["site"]): int(str(record["rows"])) + int(str(record["held"]))}


def commit(lake: LakePath, result: IngestResult, staged: list[tuple[Path, LakePath]]) -> None:
    """Intent, moves, ledger record, intent removed: crash-safe with :func:`recover`."""
    layout = Layout(lake)
    result.files = [storage.relative(final, lake) for _, final in staged]
    intent = layout.intents / f"{result.file_key}-{result.site}.json"
    storage.write_text_atomic(intent, json.dumps({"file_key": result.file_key, "site": result.site,
                                                  "offset": result.offset, "files": result.files}))
    fault("ingest-after-intent")
    held_root = storage.relative(layout.held, lake) + "/"
    for index, (staged_path, final) in enumerate(staged):
        private = storage.relative(final, lake).startswith(held_root)
        storage.publish(staged_path, final, root=layout.held, private=private)
        if index == 0:
            fault("ingest-after-first-publish")
    record = asdict(result)
    record.pop("files")
    storage.append_text(layout.ledger, json.dumps(record, sort_keys=True) + "\n")
    fault("ingest-after-ledger")
    storage.remove_file(intent)
