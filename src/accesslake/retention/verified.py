"""What retention reads to decide: one listing per store, and the manifest of verified files.

Each store retention works on is listed once per run (one LIST on object storage, however many
partitions it has), and a file the audit verified and that has not changed since
(:mod:`accesslake.storage.manifest`) is decided from its record, without reading it: whether a
requests file holds rows not yet anonymised that are past ``anonymize_after`` (its earliest
such row), whether a rejects file holds lines to scrub, whether a held file has its columns.
Other files are read (the footer, or the rows). A missing or corrupt manifest means every file
is read. The counts go into the result (``files_checked``, ``files_skipped``).
"""

from __future__ import annotations

from datetime import datetime

from accesslake.retention.result import AnonymizeResult
from accesslake.storage import FileStat, LakePath
from accesslake.storage.manifest import Manifest, Verified, listed, load_manifest

__all__ = ["Reads"]


class Reads:
    """The listings of one retention run and the manifest they are checked against."""

    def __init__(self, lake: LakePath, manifest: Manifest | None = None) -> None:
        self.lake = lake
        self.manifest = load_manifest(lake) if manifest is None else manifest
        self._listed: dict[str, list[tuple[str, LakePath, FileStat]]] = {}

    def listing(self, root: LakePath) -> list[tuple[str, LakePath, FileStat]]:
        """``(path relative to the lake, path, stat)`` of every file under ``root`` (dot-files too), listed
        once per run."""
        if str(root) not in self._listed:
            self._listed[str(root)] = list(listed(root, self.lake))
        return self._listed[str(root)]

    def verified(self, relative: str, stat: FileStat, result: AnonymizeResult) -> Verified | None:
        """The record of an unchanged verified file (counted as skipped), or None (counted as checked:
        the caller reads the file)."""
        found = self.manifest.current(relative, stat)
        if found is None:
            result.files_checked += 1
        else:
            result.files_skipped += 1
        return found


def due_before(verified: Verified, fact: str, cutoff: datetime) -> bool:
    """Does the recorded earliest time ``fact`` (``pending``, ``unscrubbed``) fall at or before ``cutoff``?"""
    since = verified.time(fact)
    return since is not None and since <= cutoff
