"""Where the lake keeps rows and lines about a subject: every store, read the same way by access and erase.

- requests/ and held/: rows whose address, forwarded-for or session is the subject's
  (:meth:`Subject.rows_expr`); held rows carry their hold and its case reference;
- rejects/: lines naming the subject (by token);
- forensics/abuse_candidates/: candidates whose client is the subject;
- landing/ and quarantine/: raw lines naming the subject; a quarantined file that cannot be
  searched (broken gzip, Parquet) *may contain* the subject and is listed with the time
  retention deletes it.

Marts hold no personal column; hold records, the ledger, disclosures and the audit log hold no
rows of a visitor (a hold's record names the addresses of its scope: see :mod:`.erase`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from accesslake import holds, ingest, storage
from accesslake.config import Settings
from accesslake.schema import CANDIDATE_SCHEMA, REJECT_SCHEMA, REQUEST_SCHEMA, conform
from accesslake.storage import LakePath, Layout
from accesslake.storage.quarantine import ENTRY, list_quarantined
from accesslake.subjects.rawfiles import RawText, read_raw
from accesslake.subjects.target import Subject

__all__ = ["ROW_SCHEMA", "HoldBook", "RawFile", "candidate_rows", "raw_files", "reject_rows", "request_rows"]

#: The rows an access request returns from requests/ and held/: where each row is, then its columns.
ROW_SCHEMA = pl.Schema({"source": pl.String(), "incident_id": pl.String(), "case_reference": pl.String(),
                        "hold_active": pl.Boolean(), "site": pl.String(), "date": pl.Date(), **REQUEST_SCHEMA})


@dataclass
class HoldBook:
    """The holds at ``now``: all by id, and the active ones (their scopes keep rows)."""

    by_id: dict[str, holds.Hold]
    active: list[holds.Hold]

    @classmethod
    def at(cls, lake: LakePath, now: datetime) -> HoldBook:
        every = holds.list_holds(lake)
        return cls({h.id: h for h in every}, [h for h in every if h.is_active(now)])

    def case(self, hold_id: str | None) -> str | None:
        hold = self.by_id.get(hold_id or "")
        return hold.case_reference if hold else None


@dataclass
class RawFile:
    """A raw file of landing/ or quarantine/, read for searching."""

    store: str  # "landing" or "quarantine"
    raw: RawText
    deleted_from: str | None = None  # quarantine: when retention deletes it (received_at + anonymize_after)

    @property
    def path(self) -> LakePath:
        return self.raw.path


def _tagged(frame: pl.DataFrame, part: storage.Partition, book: HoldBook) -> pl.DataFrame:
    active = {h.id for h in book.active}
    return conform(frame.with_columns(
        pl.lit("held" if part.incident else "requests").alias("source"),
        pl.lit(part.incident, dtype=pl.String).alias("incident_id"),
        pl.lit(book.case(part.incident), dtype=pl.String).alias("case_reference"),
        pl.lit(part.incident in active if part.incident else None, dtype=pl.Boolean).alias("hold_active"),
        pl.lit(part.site).alias("site"),
        pl.lit(part.day).alias("date"),
    ), ROW_SCHEMA)


def request_rows(lake: LakePath, subject: Subject, book: HoldBook) -> pl.DataFrame:
    """Every personal row of requests/ and held/ about the subject, in time order."""
    layout = Layout(lake)
    frames = []
    for root in (layout.requests, layout.held):
        for part in storage.list_partitions(root):
            for path in part.files():
                rows = storage.read_parquet(path).filter(subject.rows_expr())
                if rows.height:
                    frames.append(_tagged(rows, part, book))
    if not frames:
        return pl.DataFrame(schema=ROW_SCHEMA)
    return pl.concat(frames).sort("ts", "row_id")


def reject_rows(lake: LakePath, subject: Subject) -> pl.DataFrame:
    """Every rejected line naming the subject (with its site and date)."""
    frames = []
    schema = pl.Schema({"site": pl.String(), "date": pl.Date(), **REJECT_SCHEMA})
    for part in storage.list_partitions(Layout(lake).rejects):
        for path in part.files():
            rows = storage.read_parquet(path).filter(subject.lines_expr())
            if rows.height:
                frames.append(conform(rows.with_columns(pl.lit(part.site).alias("site"),
                                                        pl.lit(part.day).alias("date")), schema))
    return pl.concat(frames).sort("received_at", "row_id") if frames else pl.DataFrame(schema=schema)


def candidate_rows(lake: LakePath, subject: Subject) -> pl.DataFrame:
    """Every abuse candidate whose client is the subject."""
    stored = storage.list_files(Layout(lake).candidates)
    frames = [conform(f, CANDIDATE_SCHEMA) for f in (storage.read_parquet(p).filter(subject.client_expr())
                                                     for p in stored) if f.height]
    return pl.concat(frames).sort("day", "client_ip") if frames else pl.DataFrame(schema=CANDIDATE_SCHEMA)


def raw_files(settings: Settings) -> Iterator[RawFile]:
    """Every landing file, then every quarantined file (not its entry record), read for searching."""
    lake = settings.lake
    for path in ingest.landing_files(Layout(lake).landing):
        yield RawFile("landing", read_raw(path))
    for entry in list_quarantined(lake):
        if not entry.name or entry.name == ENTRY:
            continue
        deleted = None
        if entry.received_at:
            deleted = (entry.received + settings.policy.anonymize_after).isoformat()
        yield RawFile("quarantine", read_raw(lake / entry.folder / entry.name), deleted)
