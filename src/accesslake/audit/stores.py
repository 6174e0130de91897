"""Audit of the other stores: hold records, permissions, landing, marts, candidates, leftovers."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from accesslake import holds, ingest, storage
from accesslake.config import Settings
from accesslake.policy import PERSONAL_COLUMNS
from accesslake.storage import STORES, LakePath, Layout

__all__ = ["check_candidates", "check_ended_holds", "check_landing", "check_leftovers", "check_marts",
           "check_private_modes"]

DATABASE_SUFFIXES = (".duckdb", ".db", ".sqlite", ".sqlite3", ".wal")
FORBIDDEN_MART_COLUMNS = frozenset(PERSONAL_COLUMNS) | {"user_agent", "query"}


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


def check_landing(settings: Settings, now: datetime) -> list[str]:
    """P1 on raw files: nothing in landing/ older than the hard limit."""
    problems = []
    records = ingest.ledger_records(settings.lake)
    for path in ingest.landing_files(Layout(settings.lake).landing):
        oldest, _ = ingest.landing_state(path, records)  # by content: a renamed copy is as old as its lines
        if oldest is None:
            oldest = datetime.fromtimestamp(path.stat().st_mtime, tz=now.tzinfo)
        if oldest + settings.policy.max_age < now:
            problems.append(f"P1 landing: {path} holds lines older than the {settings.policy.max_age_hours:g} h limit")
    return problems


def check_marts(lake: LakePath) -> list[str]:
    problems = []
    for path in storage.list_files(Layout(lake).marts):
        names = set(storage.parquet_metadata(path).schema.names)
        bad = sorted(names & FORBIDDEN_MART_COLUMNS)
        if bad:
            problems.append(f"P1 marts: {path} has personal columns {', '.join(bad)}")
    return problems


def check_leftovers(lake: LakePath) -> list[str]:
    """Temporary files, unfinished journals and database files must not outlive a run."""
    problems = []
    everything = storage.list_files(lake, "", hidden=True)
    for path in everything:
        relative = storage.relative(path, lake)
        if relative.startswith(storage.relative(Layout(lake).tmp, lake) + "/"):
            problems.append(f"P1 temporary: {path} was left in staging by an interrupted run")
        elif path.name.startswith(".") and path.name.endswith(".tmp"):
            problems.append(f"P1 temporary: {path} was left by an interrupted write")
        elif relative.startswith(("ledger/journal/", "ledger/pending/")):
            problems.append(f"P4 journal: {path} records an unfinished operation; run `accesslake anonymize`")
        elif path.suffix in DATABASE_SUFFIXES:
            problems.append(f"P1 database: {path}: database files are not allowed in the lake")
    for staged in storage.leftover_staging(lake):  # an S3 lake stages on this machine
        problems.append(f"P1 temporary: {staged} was left in the local staging of {lake} by an interrupted run")
    return problems


def check_candidates(settings: Settings, now: datetime) -> list[str]:
    """P1: candidates keeping an IP past the hard limit."""
    lake = settings.lake
    problems: list[str] = []
    limit = now - settings.policy.max_age
    for path in storage.list_files(Layout(lake).candidates):
        frame = storage.read_parquet(path, columns=["client_ip", "oldest_at"])
        late = frame.filter(pl.col("client_ip").is_not_null() & (pl.col("oldest_at") < limit))
        if late.height:
            problems.append(
                f"P1 abuse candidates: {path}: {late.height} candidates keep an IP past the "
                f"{settings.policy.max_age_hours:g} h limit (oldest {late['oldest_at'].min()!s})"
            )
    return problems
