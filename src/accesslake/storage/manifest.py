"""The manifest of verified files: what the audit found in each Parquet file it read, so that the next
runs need not read an unchanged file again (issue 15, docs/lake.md "The manifest of verified files").

``<lake>/audit/verified.json.gz`` holds, per file (path relative to the lake): its size, modification
time (ns) and ETag (object storage) as one listing of the lake gives them (:func:`storage.stats`), and
the facts of its content that the audit and retention decide from: rows per ingested file (``file_key``:
count and first and last source line), the earliest ``least(ts, received_at)`` of rows still personal
(audit, rule P1) and of rows not yet anonymised (retention, P2), the earliest receive time of unscrubbed
rejected lines. Only files that passed every check are recorded.

It is only ever an optimisation: a record counts only while the file's size and ETag (object storage)
or modification time (a folder) are those recorded (a file changed behind its back is read again); a
missing, unreadable or corrupt manifest, one of another version, or (for the audit) one written under
other check rules (``fingerprint``) counts as empty, which means "read everything", never "skip". It is
replaced atomically (one PUT on object storage).
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from accesslake.storage.backend import FileStat, LakePath
from accesslake.storage.files import Partition, read_bytes_or_empty, stats, write_bytes_atomic
from accesslake.storage.layout import Layout, partition_keys

__all__ = ["MANIFEST_VERSION", "Manifest", "Verified", "from_micros", "listed", "load_manifest", "micros",
           "partitions_listed", "save_manifest"]

#: Bumped whenever the meaning of a recorded fact changes: an older manifest then counts as empty.
MANIFEST_VERSION = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(moment: datetime | None) -> int | None:
    """``moment`` as microseconds since 1970 (UTC), the form the manifest keeps times in."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_micros(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True)
class Verified:
    """One verified file: the listing it was verified under and the facts of its content."""

    stat: FileStat
    facts: Mapping[str, Any] = field(default_factory=dict)

    def matches(self, stat: FileStat | None) -> bool:
        """The file is still the one verified: the same size and, where the storage gives one (object
        storage), the same ETag (it changes with every upload of other content; a copy keeps it), else the
        same modification time."""
        if stat is None or stat[0] != self.stat[0] or stat[2] != self.stat[2]:
            return False
        return bool(stat[2]) or stat[1] == self.stat[1]

    def time(self, name: str) -> datetime | None:
        """A recorded time fact (``personal``, ``pending``, ``unscrubbed``), or None."""
        value = self.facts.get(name)
        return from_micros(int(value)) if value is not None else None

    def keys(self) -> dict[str, tuple[int, int, int]]:
        """Rows per ingested file: ``file_key -> (count, first source line, last source line)``."""
        return {str(k): (int(v[0]), int(v[1]), int(v[2])) for k, v in dict(self.facts.get("keys", {})).items()}


@dataclass
class Manifest:
    """The verified files of one lake by path relative to the lake; see the module docstring."""

    fingerprint: str = ""
    files: dict[str, Verified] = field(default_factory=dict)

    def current(self, relative: str, stat: FileStat | None) -> Verified | None:
        """The record of ``relative`` when the file is still the one verified, else None."""
        found = self.files.get(relative)
        return found if found is not None and found.matches(stat) else None


def _path(lake: LakePath) -> LakePath:
    return Layout(lake).verified


def load_manifest(lake: LakePath, fingerprint: str | None = None) -> Manifest:
    """The lake's manifest; an empty one when it is missing, unreadable, corrupt or of another version, or,
    when ``fingerprint`` is given, when it was written under another one."""
    try:
        data = json.loads(gzip.decompress(read_bytes_or_empty(_path(lake))) or b"{}")
        if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
            return Manifest()
        found = Manifest(str(data["fingerprint"]))
        if fingerprint is not None and found.fingerprint != fingerprint:
            return Manifest()
        for relative, (size, mtime, etag, facts) in dict(data["files"]).items():
            found.files[str(relative)] = Verified((int(size), int(mtime), str(etag)), dict(facts))
    except (OSError, EOFError, ValueError, KeyError, TypeError, zlib.error):
        return Manifest()
    return found


def save_manifest(lake: LakePath, manifest: Manifest) -> None:
    """Replace the lake's manifest atomically (temp file, fsync, rename; one PUT on object storage)."""
    files = {rel: [rec.stat[0], rec.stat[1], rec.stat[2], dict(rec.facts)]
             for rel, rec in sorted(manifest.files.items())}
    body = json.dumps({"version": MANIFEST_VERSION, "fingerprint": manifest.fingerprint, "files": files},
                      separators=(",", ":"))
    write_bytes_atomic(_path(lake), gzip.compress(body.encode("utf-8"), compresslevel=6, mtime=0))


# ---------------------------------------------------------------- one listing of a store, grouped


def listed(root: LakePath, lake: LakePath) -> Iterator[tuple[str, LakePath, FileStat]]:
    """``(path relative to the lake, path, stat)`` of every file under ``root`` (dot-files too), from one
    listing (:func:`storage.stats`: one LIST on object storage, not one per partition)."""
    prefix = str(lake).rstrip("/") + "/"
    for key, stat in sorted(stats(root).items()):
        if key.startswith(prefix):
            relative = key[len(prefix):]
            yield relative, lake / relative, stat


def partitions_listed(root: LakePath, lake: LakePath) -> dict[Partition, list[tuple[str, LakePath, FileStat]]]:
    """The partitions of the dataset under ``root`` (requests/, held/, rejects/ or a mart) with their visible
    Parquet files directly inside, from one listing: what :func:`list_partitions` and
    :meth:`Partition.files` give, without a listing per partition."""
    base = str(root).rstrip("/")[len(str(lake).rstrip("/")) + 1:] + "/"
    found: dict[Partition, list[tuple[str, LakePath, FileStat]]] = {}
    for relative, path, stat in listed(root, lake):
        folders, _, name = relative[len(base):].rpartition("/")
        if not name.endswith(".parquet") or name.startswith(".") or not relative.startswith(base):
            continue
        parts = tuple(folders.split("/"))
        keys = partition_keys(parts)
        if "site" not in keys or "date" not in keys or len(parts) != len(keys):
            continue
        try:
            day = date.fromisoformat(keys["date"])
        except ValueError:
            continue
        part = Partition(keys["site"], day, path.parent, keys.get("incident"))
        found.setdefault(part, []).append((relative, path, stat))
    return dict(sorted(found.items(), key=lambda kv: (kv[0].site, kv[0].day, kv[0].incident or "", str(kv[0].path))))
