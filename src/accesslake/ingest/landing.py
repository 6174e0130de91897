"""The landing folder: raw files waiting to be ingested, and what the ledger knows of each."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from accesslake import storage
from accesslake.config import Settings
from accesslake.errors import InputError
from accesslake.ingest.identity import open_known
from accesslake.ingest.ledger import IngestResult
from accesslake.ingest.reader import head
from accesslake.ingest.run import ingest_file
from accesslake.storage import LakePath, Layout
from accesslake.storage.quarantine import quarantine

__all__ = ["in_landing", "ingest_landing_chain", "landing_chains", "landing_files", "landing_state"]


def landing_files(landing: LakePath) -> list[LakePath]:
    """Files waiting in the landing folder (hidden files skipped), oldest name first."""
    return [p for p in storage.list_files(landing, "") if p.parent == landing]


def in_landing(path: LakePath, lake: LakePath) -> bool:
    """Is ``path`` a file of the lake's landing folder (which the nightly run reads, maybe while written)?"""
    return storage.uri(path.parent) == storage.uri(Layout(lake).landing)


def landing_chains(lake: LakePath) -> list[list[LakePath]]:
    """The landing files grouped so that files that may be copies of one file (they start with the same
    line) are ingested one after another in name order; different files may be ingested in parallel.
    An unreadable file is a chain of its own."""
    chains: dict[str, list[LakePath]] = {}
    for path in landing_files(Layout(lake).landing):
        try:
            first = head(path, 1)
            key = hashlib.sha256(first).hexdigest() if first else f"empty:{path}"
        except InputError:
            key = f"unreadable:{path}"
        chains.setdefault(key, []).append(path)
    return list(chains.values())


def ingest_landing_chain(
    chain: list[LakePath], settings: Settings, now: datetime, site: str = "default", fmt: str | None = None,
    cookie: str | None = None, site_from_vhost: bool = False,
) -> list[IngestResult]:
    """Ingest landing files one after another (their new lines; a partial last line waits until the
    file is unchanged for ``SETTLE``). A file that cannot be read or parsed is moved to the quarantine
    and reported with status ``quarantined``; the files after it still go."""
    results = []
    for path in chain:
        try:
            results.append(ingest_file(path, settings, now, site=site, fmt=fmt, cookie=cookie, hold_partial_line=True,
                                       site_from_vhost=site_from_vhost))
        except InputError as exc:
            received = datetime.fromtimestamp(storage.mtime_ns(path) / 1e9, tz=UTC)
            entry = quarantine(settings.lake, path, str(exc), now, received)
            results.append(IngestResult(str(path), site, "", fmt or "-", fmt is None, "quarantined",
                                        ingested_at=now.isoformat(), error=f"{exc} (moved to {entry.folder}/)"))
    return results


def landing_state(path: LakePath, records: list[dict[str, object]]) -> tuple[datetime | None, bool]:
    """(oldest line or receipt known from the ledger, fully ingested?) of a raw file.

    Records are matched by content (:mod:`accesslake.ingest.identity`), not by
    name: a rotated or re-compressed copy of an ingested file gets no ledger
    record of its own (ingest recognises it and reads nothing), yet holds the
    same lines. ``(None, False)`` when the ledger knows nothing of it.
    """
    try:
        log, known, _ = open_known(path, records)
        with log:
            complete = known is not None and log.remaining() == 0
    except InputError:
        return None, False  # unreadable or truncated: never complete; the audit judges it by its age
    if known is None:
        return None, False
    return known.oldest, complete
