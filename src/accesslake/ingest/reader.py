"""Reading raw log files: plain or gzip, local or on object storage, in batches of complete lines.

A :class:`LogFile` reads a file's (decompressed) text from where an earlier
ingest stopped, and only after checking that the file still starts with
exactly the bytes that ingest saw (:class:`Position`: SHA-256 of the first
``seen`` bytes); otherwise it raises :class:`Mismatch` and the file is another
file. While it reads it hashes everything, so the ledger can record the new
position. :func:`file_key` is the identity a new file gets: SHA-256 of its
first 64 KiB (the whole text if smaller), 16 hex digits.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zlib
from collections.abc import Generator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import cast

import numpy as np

from accesslake import storage
from accesslake.errors import InputError
from accesslake.storage import LakePath

__all__ = ["BATCH_BYTES", "HEAD_BYTES", "LogFile", "Mismatch", "Position", "file_key", "head", "head_bytes",
           "key_of", "open_log"]

# Text per batch: the peak memory of an ingest is about 15x this (two batches in flight,
# allocator slack included) plus ~130 MiB of libraries. 12 MiB keeps it well under 512 MiB
# with Parquet files of about 40,000 rows (docs/performance.md).
BATCH_BYTES = 12 * 1024 * 1024
# The first bytes of a file that name it (file_key) and pick the ledger records it may continue.
HEAD_BYTES = 64 * 1024
_READ_ERRORS = (OSError, EOFError, zlib.error)


class Mismatch(Exception):
    """The file does not start with the bytes an earlier ingest saw: it is another file."""


@dataclass(frozen=True)
class Position:
    """How far an earlier ingest read a file: ``offset`` bytes consumed (complete lines, or a last line
    finished without newline), ``seen`` bytes looked at (the held partial line too) and their SHA-256."""

    offset: int = 0
    seen: int = 0
    seen_sha256: str | None = None  # None: nothing to check (a new file)


def open_log(path: LakePath) -> io.BufferedIOBase:
    """A binary reader of ``path``, decompressed when it is gzip."""
    try:
        fh = cast(io.BufferedIOBase, storage.open_read(path))
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc}); check the path and permissions") from exc
    try:
        magic = fh.read(2)
        fh.seek(0)
    except OSError as exc:
        fh.close()
        raise InputError(f"{path}: cannot read ({exc.strerror or exc}); is it a regular log file?") from exc
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=fh, mode="rb")
    return fh


def _unreadable(path: LakePath, exc: BaseException) -> InputError:
    return InputError(f"{path}: cannot read or decompress ({exc}); is the file complete?")


def head(path: LakePath, lines: int) -> bytes:
    """The first ``lines`` lines of ``path``, decompressed; a broken gzip is an InputError."""
    with open_log(path) as fh:
        try:
            return b"".join(fh.readline(1 << 20) for _ in range(lines))
        except _READ_ERRORS as exc:
            raise InputError(f"{path}: cannot decompress ({exc}); is the file complete?") from exc


def head_bytes(path: LakePath) -> bytes:
    """The first :data:`HEAD_BYTES` of the text of ``path`` (decompressed)."""
    with open_log(path) as fh:
        try:
            return _read_up_to(fh, HEAD_BYTES)
        except _READ_ERRORS as exc:
            raise InputError(f"{path}: cannot decompress ({exc}); is the file complete?") from exc


def key_of(head: bytes, salt: int = 0) -> str:
    """A file key from the first bytes of a file (``salt`` > 0 when another file already has the plain one)."""
    return hashlib.sha256(head + (b"\0%d" % salt if salt else b"")).hexdigest()[:16]


def file_key(path: LakePath) -> str | None:
    """The identity a new log file gets: SHA-256 of its first 64 KiB (decompressed), 16 hex digits.

    A copy or a recompressed copy has the same key. None for an empty file; a
    file that cannot be read or decompressed raises :class:`InputError`.
    """
    first = head_bytes(path)
    return key_of(first) if first else None


def _read_up_to(fh: io.BufferedIOBase, size: int) -> bytes:
    parts, left = [], size
    while left > 0:
        got = fh.read(left)
        if not got:
            break
        parts.append(got)
        left -= len(got)
    return b"".join(parts)


class _Digest:
    """SHA-256 of a file's text as it streams past, and of its first :data:`HEAD_BYTES`."""

    def __init__(self) -> None:
        self.whole = hashlib.sha256()
        self.head = hashlib.sha256()
        self.size = 0

    def update(self, data: bytes | memoryview | np.ndarray) -> None:
        view = memoryview(cast(bytes, data)).cast("B")
        if self.size < HEAD_BYTES:
            self.head.update(view[: HEAD_BYTES - self.size])
        self.whole.update(view)
        self.size += len(view)

    def copy(self) -> _Digest:
        other = _Digest()
        other.whole, other.head, other.size = self.whole.copy(), self.head.copy(), self.size
        return other


class LogFile:
    """One log file opened at a :class:`Position` (checked), read on in batches of complete lines.

    After :meth:`chunks` is exhausted, :attr:`offset`, :attr:`tail` (the partial last line held back)
    and :meth:`seen_sha256` / :meth:`head_sha256` describe the new position for the ledger.
    """

    def __init__(self, path: LakePath, start: Position | None = None) -> None:
        self.path = path
        self.fh = open_log(path)
        self.gzipped = isinstance(self.fh, gzip.GzipFile)
        self.digest = _Digest()
        self.offset = 0
        self.tail = b""
        self.closed_line = False  # the text read ends with a line finished without newline: nothing follows
        # Batches are hashed in a thread of their own (hashlib releases the GIL), one batch behind.
        self._hashing: ThreadPoolExecutor | None = None
        self._hashed: Future[None] | None = None
        try:
            self._resume(start or Position())
        except BaseException:
            self.fh.close()
            raise

    def __enter__(self) -> LogFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._hashing is not None:
            self._hashing.shutdown(wait=True)
        self.fh.close()

    def _resume(self, start: Position) -> None:
        try:
            last = self._skip(start.offset)
            tail = _read_up_to(self.fh, start.seen - start.offset)
            if start.seen_sha256 is not None:
                probe = self.digest.copy()
                probe.update(tail)
                if len(tail) != start.seen - start.offset or probe.whole.hexdigest() != start.seen_sha256:
                    raise Mismatch(str(self.path))
            self.offset, self.tail = start.offset, tail
            if start.offset and last != 10 and start.seen == start.offset:
                # The earlier ingest finished this line without a newline: only that newline may follow.
                if _read_up_to(self.fh, 2) not in (b"", b"\n"):
                    raise Mismatch(str(self.path))
                self.closed_line = True
        except _READ_ERRORS as exc:
            raise _unreadable(self.path, exc) from exc

    def _skip(self, size: int) -> int:
        """Read and hash the first ``size`` bytes (they were ingested before); their last byte, or -1."""
        left, last = size, -1
        buffer = np.empty(min(size, BATCH_BYTES), dtype=np.uint8)
        with buffer.data as view:
            while left > 0:
                got = self.fh.readinto(view[: min(left, len(buffer))])
                if not got:
                    raise Mismatch(str(self.path))  # shorter than what was consumed
                self.digest.update(view[:got])
                last = int(buffer[got - 1])
                left -= got
        return last

    def remaining(self) -> int:
        """Bytes of text not yet consumed (the held partial line included); reads to the end."""
        if self.closed_line:
            return 0
        try:
            rest = sum(len(block) for block in iter(lambda: self.fh.read(1 << 24), b""))
        except _READ_ERRORS as exc:
            raise _unreadable(self.path, exc) from exc
        return len(self.tail) + rest

    def seen_sha256(self) -> str:
        return self._with_tail().whole.hexdigest()

    def head_sha256(self) -> str:
        return self._with_tail().head.hexdigest()

    def _with_tail(self) -> _Digest:
        if self._hashed is not None:
            self._hashed.result()
        digest = self.digest.copy()
        digest.update(self.tail)
        return digest

    def chunks(self, hold_partial: bool) -> Generator[tuple[np.ndarray | bytes, bool], None, None]:
        """Yield (complete lines, last) from the position; the final unterminated line too unless held.

        Each batch is read straight into a fresh, uninitialised buffer behind the
        partial line carried over from the previous one, and handed on as a view
        up to its last newline: the batch text is never copied or zero-filled
        (the parser then keeps zero-copy views of it).
        """
        if self.closed_line:
            return
        fh, carry = self.fh, self.tail
        self.tail = b""
        try:
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
                    if carry and hold_partial:
                        self.tail = carry
                    elif carry:
                        self._consume(carry)
                        yield carry, True
                    return
                cut = _last_newline(data, filled) + 1
                carry = data[cut:filled].tobytes()
                if cut:
                    self._consume(data[:cut])
                    yield data[:cut], False
        except _READ_ERRORS as exc:
            raise _unreadable(self.path, exc) from exc

    def _consume(self, data: np.ndarray | bytes) -> None:
        if self._hashing is None:
            self._hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="accesslake-hash")
        if self._hashed is not None:
            self._hashed.result()  # at most one batch waits to be hashed (memory stays bounded)
        self._hashed = self._hashing.submit(self.digest.update, data)
        self.offset += len(data)


def _last_newline(data: np.ndarray, end: int) -> int:
    """Index of the last newline in ``data[:end]``, or -1; looks at the tail first."""
    tail = max(0, end - (1 << 16))
    found = data[tail:end].tobytes().rfind(b"\n")
    if found >= 0:
        return tail + found
    hits = np.flatnonzero(data[:tail] == 10)
    return int(hits[-1]) if hits.size else -1
