"""Audit of the other stores: hold records, permissions, landing, candidates, the quarantine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from accesslake import holds, ingest, storage
from accesslake.config import Settings
from accesslake.storage import STORES, LakePath, Layout
from accesslake.storage.quarantine import list_quarantined

__all__ = ["check_candidates", "check_ended_holds", "check_landing", "check_private_modes", "check_quarantine"]

READ_ERRORS = (OSError, ValueError, pl.exceptions.PolarsError)


def check_ended_holds(lake: LakePath, now: datetime, max_age: timedelta) -> list[str]:
    """P1 on hold records: an ended hold keeps no addresses or session ids past the limit."""
    problems = []
    for hold in holds.list_holds(lake):
        if hold.is_active(now) or hold.redacted_at is not None:
            continue
        ended = hold.released_at or hold.review_at
        if ended + max_age < now:
            problems.append(f"P1 incidents: {Layout(lake).incident(hold.id)} ended {ended.isoformat()} "
                            "and still names addresses or sessions; run `accesslake anonymize`")
    return problems


def check_private_modes(lake: LakePath) -> list[str]:
    """H3: every private store (held/, incidents/, forensics/, disclosures/, messages/, quarantine/)
    and everything in it readable by the owner only. Object storage: the bucket policy's (docs/lake.md)."""
    problems = []
    for store in STORES:
        if not store.private:
            continue
        for path, mode in storage.modes(Layout(lake).store(store.name)):
            if mode & 0o077:
                problems.append(f"H3 {store.path}: {path} has mode {oct(mode)}; must not be readable by group "
                                "or others (chmod go-rwx)")
    return problems


def check_landing(settings: Settings, now: datetime, landed: list[LakePath]) -> list[str]:
    """P1 on raw files: nothing in landing/ (dot-files too: never ingested) older than the hard limit."""
    problems = []
    records = ingest.ledger_records(settings.lake)
    for path in landed:
        oldest, _ = ingest.landing_state(path, records)  # by content: a renamed copy is as old as its lines
        if oldest is None:
            oldest = datetime.fromtimestamp(storage.mtime_ns(path) / 1e9, tz=UTC)
        if oldest + settings.policy.max_age < now:
            problems.append(f"P1 landing: {path} holds lines older than the {settings.policy.max_age_hours:g} h limit")
    return problems


def check_candidates(settings: Settings, now: datetime, files: list[LakePath]) -> list[str]:
    """P1: candidates keeping an IP past the hard limit (a file that cannot be read is named)."""
    problems: list[str] = []
    limit = now - settings.policy.max_age
    for path in files:
        try:
            frame = storage.read_parquet(path, columns=["client_ip", "oldest_at"])
        except READ_ERRORS as exc:
            problems.append(f"P1 unreadable: {path}: not a readable candidates file ({str(exc).splitlines()[0]}); "
                            "the next retention run moves it to quarantine/")
            continue
        late = frame.filter(pl.col("client_ip").is_not_null() & (pl.col("oldest_at") < limit))
        if late.height:
            problems.append(
                f"P1 abuse candidates: {path}: {late.height} candidates keep an IP past the "
                f"{settings.policy.max_age_hours:g} h limit (oldest {late['oldest_at'].min()!s})"
            )
    return problems


def check_quarantine(settings: Settings, now: datetime, active: list[str]) -> list[str]:
    """P1: a quarantined file past the hard limit (counted from its ``received_at``) outside an active hold."""
    problems = []
    for entry in list_quarantined(settings.lake):
        if entry.hold not in active and entry.received + settings.policy.max_age < now:
            source = f" from {entry.source}" if entry.source else ""
            problems.append(f"P1 quarantine: {entry.folder}/{entry.name}{source} ({entry.reason}) is past the "
                            f"{settings.policy.max_age_hours:g} h limit; run `accesslake anonymize`")
    return problems
