"""Storage: where the lake lives and how its files are written, read, appended and locked.

One interface (:class:`Storage`) with a local-folder and an S3 implementation;
callers use the functions below with the lake's own path objects and never ask
which storage they have. :class:`Layout` names every store of the lake, in one
place. The audit log (:mod:`.auditlog`) is kept here too: it is a store with
rules of its own (append-only, hash-chained).
"""

from __future__ import annotations

from accesslake.storage import files as _files
from accesslake.storage.backend import FileStat, LakePath, Storage, storage_for
from accesslake.storage.duck import connect
from accesslake.storage.files import *  # noqa: F403 - the files API is the face of storage
from accesslake.storage.layout import FILE_KINDS, STORES, Layout, Store
from accesslake.storage.local import fsync_file

__all__ = [*_files.__all__, "FILE_KINDS", "STORES", "FileStat", "LakePath", "Layout", "Storage", "Store", "connect",
           "fsync_file", "storage_for"]
