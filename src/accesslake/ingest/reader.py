"""Reading raw log files: plain or gzip, local or on object storage, in batches of complete lines.

A file's identity (:func:`file_key`) is the SHA-256 of its first (decompressed)
line, so a rotated or re-compressed copy of a file is recognised.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zlib
from collections.abc import Generator
from typing import cast

import numpy as np

from accesslake import storage
from accesslake.errors import InputError
from accesslake.storage import LakePath

__all__ = ["BATCH_BYTES", "chunks", "file_key", "head", "is_gzip", "open_log", "uncompressed_size"]

# Text per batch: the peak memory of an ingest is about 15x this (two batches in flight,
# allocator slack included) plus ~130 MiB of libraries. 20 MiB keeps it under 512 MiB
# with Parquet files of about 70,000 rows (docs/performance.md).
BATCH_BYTES = 20 * 1024 * 1024


def open_log(path: LakePath) -> io.BufferedIOBase:
    """A binary reader of ``path``, decompressed when it is gzip."""
    try:
        fh = cast(io.BufferedIOBase, storage.open_read(path))
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc}); check the path and permissions") from exc
    magic = fh.read(2)
    fh.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=fh, mode="rb")
    return fh


def is_gzip(path: LakePath) -> bool:
    with open_log(path) as probe:
        return isinstance(probe, gzip.GzipFile)


def head(path: LakePath, lines: int) -> bytes:
    """The first ``lines`` lines of ``path``, decompressed; a broken gzip is an InputError."""
    with open_log(path) as fh:
        try:
            return b"".join(fh.readline(1 << 20) for _ in range(lines))
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: cannot decompress ({exc}); is the file complete?") from exc


def file_key(path: LakePath) -> str | None:
    """A log file's identity: SHA-256 of its first (decompressed) line, 16 hex digits.

    A rotated or recompressed copy has the same key. None for an empty file; a
    file that cannot be read or decompressed raises :class:`InputError`.
    """
    first = head(path, 1)
    return hashlib.sha256(first).hexdigest()[:16] if first else None


def chunks(
    path: LakePath, offset: int, gzipped: bool, hold_partial: bool
) -> Generator[tuple[np.ndarray | bytes, bool], None, None]:
    """Yield (complete lines, last) from ``offset``; the final unterminated line too unless held.

    Each batch is read straight into a fresh, uninitialised buffer behind the
    partial line carried over from the previous one, and handed on as a view
    up to its last newline: the batch text is never copied or zero-filled
    (the parser then keeps zero-copy views of it).
    """
    with open_log(path) as fh:
        try:
            if offset:
                if gzipped:
                    remaining = offset
                    while remaining:
                        skipped = fh.read(min(remaining, BATCH_BYTES))
                        if not skipped:
                            break
                        remaining -= len(skipped)
                else:
                    fh.seek(offset)
            carry = b""
            while True:
                data = np.empty(len(carry) + BATCH_BYTES, dtype=np.uint8)
                data[: len(carry)] = np.frombuffer(carry, dtype=np.uint8)
                filled = len(carry)
                with data.data as view:
                    while filled < len(data):
                        got = fh.readinto(view[filled:])
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



def uncompressed_size(path: LakePath) -> int:
    """Bytes of text in ``path`` (decompressed for gzip), to compare with the ledger's offset."""
    with open_log(path) as fh:
        if not isinstance(fh, gzip.GzipFile):
            return int(path.stat().st_size)
        try:
            return sum(len(block) for block in iter(lambda: fh.read(1 << 24), b""))
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: cannot decompress ({exc}); is the file complete?") from exc
