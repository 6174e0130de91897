"""The quarantine: inputs the pipeline could not read or parse, kept apart, named, and deleted in time.

A landing file that is not a log (junk, a truncated gzip) or a Parquet file of
the lake that cannot be read would stop every step that reads it; instead it is
moved here, with the reason, and the rest of the run goes on. What cannot be
parsed is still personal data: an entry is deleted by retention once its
``received_at`` (the earliest time its content can be from: the file's
modification time, or the start of its partition's day) is past
``anonymize_after``, and the audit reports any entry past the hard limit::

    <lake>/quarantine/<YYYYMMDD>T<HHMMSS>-<token>/<file name>   the file as it was (0600)
    <lake>/quarantine/<YYYYMMDD>T<HHMMSS>-<token>/entry.json     source, reason, times (0600)

Folders are 0700 (rule H3 applies: the file may hold IPs).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime

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

__all__ = ["ENTRY", "Quarantined", "list_quarantined", "quarantine", "remove_quarantined"]

ENTRY = "entry.json"


@dataclass(frozen=True)
class Quarantined:
    """One quarantined file: where it came from, why, and from when its content may be."""

    folder: str  # relative to the lake
    name: str
    source: str
    reason: str
    quarantined_at: str
    received_at: str

    @property
    def received(self) -> datetime:
        return datetime.fromisoformat(self.received_at)


def quarantine(lake: LakePath, path: LakePath, reason: str, now: datetime, received_at: datetime) -> Quarantined:
    """Move ``path`` (a file inside the lake) into the quarantine with ``reason``; returns its entry."""
    layout = Layout(lake)
    folder = layout.quarantine / f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    make_private(layout.quarantine, folder)
    entry = Quarantined(
        folder=relative(folder, lake), name=path.name, source=relative(path, lake),
        reason=reason.splitlines()[0] if reason else "unreadable", quarantined_at=now.isoformat(),
        received_at=min(received_at, now).isoformat(),
    )
    write_text_atomic(folder / ENTRY, json.dumps(asdict(entry), indent=2) + "\n", private=True)
    move(path, folder / path.name, private=True)
    return entry


def list_quarantined(lake: LakePath) -> list[Quarantined]:
    """Every quarantined file, oldest first; an entry whose record is unreadable is listed as received at 0001."""
    out = []
    for record in list_files(Layout(lake).quarantine, ENTRY):
        try:
            out.append(Quarantined(**json.loads(read_bytes_or_empty(record))))
        except (ValueError, TypeError):
            folder = relative(record.parent, lake)
            out.append(Quarantined(folder, "", "", "unreadable quarantine record", "", datetime.min.isoformat()))
    return sorted(out, key=lambda q: (q.received_at, q.folder))


def remove_quarantined(lake: LakePath, entry: Quarantined) -> None:
    """Delete a quarantined file and its record."""
    remove_tree(lake / entry.folder)

