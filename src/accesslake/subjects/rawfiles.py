"""Raw files that may name a subject: landing files and quarantined inputs, searched and masked by line.

A raw file is read whole (decompressed when it is gzip) as bytes, decoded as Latin-1 so that
every character is one byte: offsets stay byte offsets and the file round-trips exactly. A file
that cannot be read that way (a broken gzip, a Parquet file moved to the quarantine) cannot be
searched: it *may contain* the subject, and is reported as such.

Masking overwrites each token naming the subject with as many ``x`` (:meth:`Subject.masked`):
lines are neither removed nor shortened, so line numbers and the ledger's byte offsets still
point at the same lines, and a landing file that grows later is read on from where ingest
stopped. When bytes an ingest already saw change, the file gets a new identity (ingest knows a file
by the bytes an ingest saw): :func:`carry_over` then appends a ledger record for the new identity
with the old one's lines and offset and no rows, so a re-ingest of the scrubbed file reads nothing
twice and the audit's accounting (rows + held + rejects = lines read) holds.
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import json
import re
import zlib
from dataclasses import asdict, dataclass

from accesslake import ingest, storage
from accesslake.ingest.identity import known_files
from accesslake.ingest.reader import HEAD_BYTES, key_of
from accesslake.storage import LakePath, Layout
from accesslake.subjects.target import Subject

__all__ = ["RawText", "carry_over", "mentions", "read_raw", "write_raw"]

PARQUET_MAGIC = b"PAR1"


@dataclass
class RawText:
    """A raw file's text (Latin-1), or why it cannot be searched."""

    path: LakePath
    text: str | None
    gzipped: bool = False
    problem: str | None = None


def read_raw(path: LakePath) -> RawText:
    """The decompressed text of a raw file, or the reason it cannot be searched line by line."""
    try:
        data = storage.read_bytes_or_empty(path)
    except OSError as exc:
        return RawText(path, None, problem=f"cannot be read ({exc.strerror or exc})")
    gzipped = data[:2] == b"\x1f\x8b"
    if gzipped:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            return RawText(path, None, gzipped, problem=f"a gzip file that cannot be decompressed ({exc})")
    if data[:4] == PARQUET_MAGIC:
        return RawText(path, None, gzipped, problem="a Parquet file that cannot be read (binary, compressed pages)")
    return RawText(path, data.decode("latin-1"), gzipped)


def mentions(raw: RawText, subject: Subject) -> list[tuple[int, str]]:
    """(1-based line number, line) of every line of ``raw`` naming the subject."""
    spans = subject.spans(raw.text) if raw.text else []
    if not spans or raw.text is None:
        return []
    text = raw.text
    breaks = [m.start() for m in re.finditer("\n", text)]
    found: dict[int, str] = {}
    for start, _ in spans:
        index = bisect.bisect_left(breaks, start)  # the line's end is breaks[index] (or the end of the text)
        begin = breaks[index - 1] + 1 if index else 0
        end = breaks[index] if index < len(breaks) else len(text)
        found.setdefault(index + 1, text[begin:end].rstrip("\r"))
    return sorted(found.items())


def write_raw(raw: RawText, text: str, *, private: bool) -> None:
    """Replace the file with ``text`` (same bytes per character), gzip again when it was gzip;
    ``private`` (0600) for a store that is (the quarantine)."""
    data = text.encode("latin-1")
    if raw.gzipped:
        data = gzip.compress(data, mtime=0)
    storage.write_bytes_atomic(raw.path, data, private=private)


def carry_over(lake: LakePath, path: LakePath, original: bytes, masked: bytes, now_iso: str) -> int:
    """After masking changed bytes an ingest already saw: the file's ledger state under a new identity.

    Ingest continues a file only while it starts with the bytes an earlier ingest saw (SHA-256 of
    the first ``seen_bytes``, :mod:`accesslake.ingest.identity`). For each known file the original
    text continued, one record for the masked text: a new key, the same offset and lines, hashes of
    the masked bytes, no new lines and the old oldest time (retention deletes the file when it
    would have). Returns the number of records appended.
    """
    records = ingest.ledger_records(lake)
    taken = {str(r["file_key"]) for r in records}
    appended = 0
    for known in known_files(records).values():
        seen = known.position.seen
        unchanged = masked[:seen] == original[:seen]
        if unchanged or hashlib.sha256(original[:seen]).hexdigest() != known.position.seen_sha256:
            continue  # nothing it saw changed, or the file is not this one
        salt = 0
        while key_of(masked[:HEAD_BYTES], salt) in taken:
            salt += 1
        last = known.record
        record = ingest.IngestResult(
            source_file=str(path), site=known.site, file_key=key_of(masked[:HEAD_BYTES], salt),
            format=str(last["format"]), detected=bool(last["detected"]), status="scrubbed",
            lines_before=known.lines, offset=known.position.offset, seen_bytes=seen,
            seen_sha256=hashlib.sha256(masked[:seen]).hexdigest(),
            head_sha256=hashlib.sha256(masked[:min(seen, HEAD_BYTES)]).hexdigest(),
            pending_partial_line=bool(last.get("pending_partial_line")), compressed=bool(last.get("compressed")),
            min_ts=known.oldest.isoformat(), ingested_at=known.oldest.isoformat(),
            note=f"subject erase: {known.key} with tokens masked",
        )
        taken.add(record.file_key)
        body = asdict(record)
        body.pop("files")
        storage.append_text(Layout(lake).ledger, json.dumps(body, sort_keys=True) + "\n")
        appended += 1
    return appended
