"""The quarantine: inputs the pipeline could not read or parse, kept apart, named, and deleted in time.

A landing file that is not a log (junk, a truncated gzip), a Parquet file of
the lake that cannot be read, or a file in a dataset folder that the pipeline
did not write (a hidden or renamed copy) would stop every step that reads it,
or hide from them; instead it is moved here, with the reason, and the rest of
the run goes on. What cannot be parsed is still personal data: an entry is
deleted by retention once its ``received_at`` (the earliest time its content
can be from: the file's modification time, or the start of its partition's
day) is past ``anonymize_after`` (unless it came from the rows of an active
incident hold), and the audit reports any entry past the hard limit::

    <lake>/quarantine/<YYYYMMDD>T<HHMMSS>-<token>/<file name>   the file as it was (0600)
    <lake>/quarantine/<YYYYMMDD>T<HHMMSS>-<token>/entry.json     source, reason, times (0600)

Folders are 0700 (rule H3 applies: the file may hold IPs). Every quarantine is
also an ``quarantine`` event of the audit log (rule D2), with the rows the file
took out of its dataset (``rows``, by ingested file), which the audit's
accounting (rule P4) counts once the entry itself is gone.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from accesslake.storage import auditlog
from accesslake.storage.backend import LakePath
from accesslake.storage.files import (
    list_files,
    make_private,
    move,
    read_bytes_or_empty,
    relative,
    remove_tree,
    write_text_atomic,
)
from accesslake.storage.layout import Layout

__all__ = ["ENTRY", "Quarantined", "list_quarantined", "quarantine", "quarantined_rows", "remove_quarantined"]

ENTRY = "entry.json"
EVENT = "quarantine"


@dataclass(frozen=True)
class Quarantined:
    """One quarantined file: where it came from, why, and from when its content may be."""

    folder: str  # relative to the lake
    name: str
    source: str
    reason: str
    quarantined_at: str
    received_at: str
    dataset: str | None = None  # the kind of file it was (Layout.kind_of), None when out of place
    site: str | None = None
    hold: str | None = None  # the incident hold whose rows it held: kept while the hold is active
    rows: dict[str, int] = field(default_factory=dict)  # rows it took out of the dataset, by file_key (P4)

    @property
    def received(self) -> datetime:
        value = datetime.fromisoformat(self.received_at)
        return value if value.tzinfo else value.replace(tzinfo=UTC)


def quarantine(
    lake: LakePath, path: LakePath, reason: str, now: datetime, received_at: datetime, *,
    dataset: str | None = None, site: str | None = None, hold: str | None = None, rows: dict[str, int] | None = None,
) -> Quarantined:
    """Move ``path`` (a file inside the lake) into the quarantine with ``reason``; returns its entry.

    The audit-log event comes first: a crash after it leaves the file where it was, and the
    next run quarantines it again (counting no row twice, see the retention's accounting).
    """
    layout = Layout(lake)
    folder = layout.quarantine / f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    make_private(layout.quarantine, folder)
    entry = Quarantined(
        folder=relative(folder, lake), name=path.name, source=relative(path, lake),
        reason=reason.splitlines()[0] if reason else "unreadable", quarantined_at=now.isoformat(),
        received_at=min(received_at, now).isoformat(), dataset=dataset, site=site, hold=hold, rows=dict(rows or {}),
    )
    # The reason stays out of the append-only log: it is kept with the file, and goes with it.
    auditlog.append_event(lake, EVENT, now, **{k: v for k, v in asdict(entry).items() if k != "reason"})
    write_text_atomic(folder / ENTRY, json.dumps(asdict(entry), indent=2) + "\n", private=True)
    move(path, folder / path.name, private=True)
    return entry


def list_quarantined(lake: LakePath) -> list[Quarantined]:
    """Every quarantine folder, oldest first. A folder whose record is missing or unreadable is listed as
    received at 0001-01-01 (so it is deleted, and reported, at once)."""
    folders: dict[str, list[LakePath]] = defaultdict(list)
    root = Layout(lake).quarantine
    for path in list_files(root, "", hidden=True):
        if path.parent != root:  # a loose file in quarantine/ is no entry: the audit names it
            folders[relative(path, root).split("/", 1)[0]].append(path)
    out = []
    for name, paths in folders.items():
        folder = relative(root / name, lake)
        record = next((p for p in paths if p.name == ENTRY and p.parent == root / name), None)
        try:
            entry = Quarantined(**json.loads(read_bytes_or_empty(record))) if record else _orphan(folder, paths)
            out.append(entry if entry.received and isinstance(entry.rows, dict) else _orphan(folder, paths))
        except (ValueError, TypeError):
            out.append(_orphan(folder, paths, "unreadable quarantine record"))
    return sorted(out, key=lambda q: (q.received, q.folder))


def _orphan(folder: str, paths: list[LakePath], reason: str = "no quarantine record") -> Quarantined:
    names = sorted(p.name for p in paths if p.name != ENTRY)
    return Quarantined(folder, names[0] if names else ENTRY, "", reason, "", datetime(1, 1, 1, tzinfo=UTC).isoformat())


def remove_quarantined(lake: LakePath, entry: Quarantined) -> None:
    """Delete a quarantined file and its record."""
    remove_tree(lake / entry.folder)


def quarantined_rows(lake: LakePath) -> dict[tuple[str, str, str], int]:
    """Rows every quarantine took out of a dataset, from the audit log (they outlive the entries):
    ``(dataset group, site, file_key) -> rows``, the group being ``rows`` (requests/, held/) or ``rejects``."""
    out: dict[tuple[str, str, str], int] = defaultdict(int)
    for event in auditlog.read_events(lake, EVENT):
        group = "rejects" if event.get("dataset") == "rejects" else "rows"
        for key, count in (event.get("rows") or {}).items():
            out[(group, str(event.get("site")), str(key))] += int(count)
    return dict(out)
