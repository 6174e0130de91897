"""Audit of the files themselves: every file under the lake is a known kind of file in its place, or named.

One listing of the whole lake (dot-files included), each file classified by
:meth:`~accesslake.storage.Layout.kind_of`. What the lake never keeps is a
violation: a file no step of the pipeline writes there (a hidden or renamed
copy, ``.PARQUET``, ``.parquet.bak``, an export or a note put into the lake),
a database file, and what an interrupted run left (staging, temporary files,
journals). The other checks get the files by kind from here, so no check
reads a file the classification did not place; the size, time and ETag of each
file come from the same listing (the manifest of verified files compares them).
"""

from __future__ import annotations

from collections import defaultdict

from accesslake import storage
from accesslake.storage import FileStat, LakePath, Layout
from accesslake.storage.manifest import listed

__all__ = ["DATABASE_SUFFIXES", "LakeFiles", "classify"]

DATABASE_SUFFIXES = (".duckdb", ".db", ".sqlite", ".sqlite3", ".wal")
#: Stores whose strays the next retention run moves to quarantine/ (retention.quarantine.note_strays).
SWEPT = ("requests/", "held/", "rejects/", "forensics/abuse_candidates/")


class LakeFiles:
    """The files of a lake by kind (a name of ``storage.FILE_KINDS``)."""

    def __init__(self, lake: LakePath) -> None:
        self.lake = lake
        self.by_kind: dict[str, list[LakePath]] = defaultdict(list)
        self.unknown: list[LakePath] = []
        self.stats: dict[str, FileStat] = {}  # by str(path): size, modification time (ns), ETag
        self.relative: dict[str, str] = {}  # str(path) -> path relative to the lake

    def of(self, *kinds: str) -> list[LakePath]:
        return [path for kind in kinds for path in self.by_kind.get(kind, [])]


def classify(lake: LakePath) -> tuple[LakeFiles, list[str]]:
    """Every file under ``lake`` by kind, and the violations among them (unknown files, leftovers)."""
    found = LakeFiles(lake)
    problems: list[str] = []
    for relative, path, stat in listed(lake, lake):
        found.stats[str(path)] = stat
        found.relative[str(path)] = relative
        kind = Layout.kind_of(relative)
        if kind is None:
            found.unknown.append(path)
            problems.append(_unknown(path, relative))
            continue
        found.by_kind[kind].append(path)
        if kind == "staging":
            problems.append(f"P1 temporary: {path} was left in staging by an interrupted run")
        elif kind == "temporary":
            problems.append(f"P1 temporary: {path} was left by an interrupted write")
        elif kind == "journal":
            problems.append(f"P4 journal: {path} records an unfinished operation; run `accesslake anonymize`")
    for staged in storage.leftover_staging(lake):  # an S3 lake stages on this machine
        problems.append(f"P1 temporary: {staged} was left in the local staging of {lake} by an interrupted run")
    return found, problems


def _unknown(path: LakePath, relative: str) -> str:
    if path.name.lower().endswith(DATABASE_SUFFIXES):
        return f"P1 database: {path}: database files are not allowed in the lake"
    if relative.startswith(SWEPT):
        todo = "the next `accesslake anonymize` or nightly run moves it to quarantine/"
    else:
        todo = "inspect it, then move it out of the lake or delete it"
    return (f"P1 unknown file: {path}: the lake keeps no such file there (hidden, renamed, copied in or out of "
            f"place; docs/lake.md lists what belongs where); {todo}")
