"""Which file is this? A log file's identity, by its content and what the ledger recorded of it.

A file continues a file the ledger knows when it still starts with every byte
an ingest of that file saw: the latest record of a ``file_key`` holds the
position (``offset`` consumed, ``seen_bytes`` looked at, ``seen_sha256``) and
``head_sha256``, the SHA-256 of the first ``min(seen_bytes, 64 KiB)`` bytes,
which picks the few records worth checking. The check re-hashes the first
``seen_bytes`` bytes (:class:`accesslake.ingest.reader.LogFile`). So a rotated,
renamed or recompressed copy, or a grown live log, continues its file; two
different files that merely start alike (a header line, a blank line) do not:
the second is a new file with a key of its own (SHA-256 of its first 64 KiB;
salted when that key is taken), never read from the first one's offset.

Identity does not depend on the site: a file belongs to the site (and the
``--site-from-vhost`` choice) it was first ingested under.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accesslake.ingest.reader import HEAD_BYTES, LogFile, Mismatch, Position, head_bytes, key_of
from accesslake.storage import LakePath

__all__ = ["Known", "known_files", "open_known"]


@dataclass(frozen=True)
class Known:
    """What the ledger knows of one file: its latest record and totals over all its records."""

    key: str
    record: dict[str, Any]  # the latest record (the largest position)
    lines: int  # lines ingested so far
    rejects: int  # rejected lines so far
    oldest: datetime  # earliest of its records' ingested_at and min_ts

    @property
    def position(self) -> Position:
        record = self.record
        return Position(int(record["offset"]), int(record["seen_bytes"]), str(record["seen_sha256"]))

    @property
    def site(self) -> str:
        return str(self.record["site"])


def known_files(records: list[dict[str, Any]]) -> dict[str, Known]:
    """The files of the ledger by key (records without a recorded position are not matched)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        grouped.setdefault(str(record["file_key"]), []).append(record)
    known = {}
    for key, mine in grouped.items():
        latest = max(mine, key=lambda r: (int(r.get("seen_bytes") or 0), int(r["offset"])))
        if not latest.get("seen_sha256"):
            continue
        times = [datetime.fromisoformat(str(r[name])) for r in mine for name in ("ingested_at", "min_ts")
                 if r.get(name)]
        known[key] = Known(key, latest, int(latest["lines_before"]) + int(latest["lines_read"]),
                           sum(int(r["rejects"]) for r in mine), min(times))
    return known


def _candidates(first: bytes, known: dict[str, Known]) -> list[Known]:
    """The known files whose first bytes are those of ``first`` (a file's first 64 KiB), longest first."""
    digests: dict[int, str] = {}
    found = []
    for file in known.values():
        size = min(file.position.seen, HEAD_BYTES)
        if size > len(first):
            continue
        if size not in digests:
            digests[size] = hashlib.sha256(first[:size]).hexdigest()
        if digests[size] == file.record.get("head_sha256"):
            found.append(file)
    return sorted(found, key=lambda f: (f.position.seen, f.position.offset), reverse=True)


def open_known(path: LakePath, records: list[dict[str, Any]]) -> tuple[LogFile, Known | None, str | None]:
    """``path`` opened where its file was read up to: (reader, the known file or None, key or None).

    A file the ledger does not know is opened at its start with a new key
    (None for an empty file). Unreadable files raise :class:`InputError`.
    """
    first = head_bytes(path)
    known = known_files(records)
    for file in _candidates(first, known):
        try:
            return LogFile(path, file.position), file, file.key
        except Mismatch:
            continue
    if not first:
        return LogFile(path), None, None
    taken = {str(r["file_key"]) for r in records}
    salt = 0
    while key_of(first, salt) in taken:
        salt += 1
    return LogFile(path), None, key_of(first, salt)
