"""The audit: every store checked against invariant P1 and accounting P4.

:func:`run_audit` looks at the main dataset, held/, rejects/, landing/, the
marts, staging and journals, the ingest ledger and the audit log's hash chain,
at an explicit ``now``, and returns every violation with the file it is in.
It appends its own result to the audit log (rule D2); the CLI exits non-zero
and the nightly flow fails when anything is found.
"""

from __future__ import annotations

import ipaddress
import stat
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from accesslake import auditlog, detect, holds, ingest, lake as lakefs
from accesslake.config import Settings
from accesslake.policy import PERSONAL_COLUMNS
from accesslake.sqlfiles import query

__all__ = ["AuditReport", "run_audit"]

DATABASE_SUFFIXES = (".duckdb", ".db", ".sqlite", ".sqlite3", ".wal")
FORBIDDEN_MART_COLUMNS = frozenset(PERSONAL_COLUMNS) | {"user_agent", "query"}


@dataclass
class AuditReport:
    """Violations (empty when the lake keeps its promises) and what was checked."""

    now: str
    violations: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    log_head: str | None = None  # the audit log's last record, SEQ:HASH (keep it outside the lake)

    @property
    def ok(self) -> bool:
        return not self.violations

    def lines(self) -> list[str]:
        head = "audit passed" if self.ok else f"audit FAILED: {len(self.violations)} violation(s)"
        counts = ", ".join(f"{k} {v}" for k, v in self.checked.items())
        out = [f"{head} at {self.now} ({counts})", *[f"  - {v}" for v in self.violations]]
        if self.log_head:
            out.append(f"audit log head: {self.log_head} (keep it; `accesslake audit --anchor` proves "
                       "the log was not cut back since)")
        return out


def run_audit(settings: Settings, now: datetime, *, record: bool = True, anchor: str | None = None) -> AuditReport:
    """Check every store against the rules; ``anchor``: a ``SEQ:HASH`` from an earlier audit that
    the log must still hold (the chain alone cannot show that its last lines were removed)."""
    if anchor is not None:
        auditlog.parse_anchor(anchor)  # a malformed anchor is an error before anything runs
    lake = settings.lake
    policy = settings.policy
    report = AuditReport(now=now.isoformat())
    max_age_us = int(policy.max_age_hours * 3_600_000_000)
    con = lakefs.connect(lake)
    try:
        main_files = [str(p) for p in lakefs.list_files(lake / lakefs.REQUESTS)]
        held_files = [str(p) for p in lakefs.list_files(lake / lakefs.HELD)]
        reject_files = [str(p) for p in lakefs.list_files(lake / lakefs.REJECTS)]
        report.checked.update(requests_files=len(main_files), held_files=len(held_files),
                              reject_files=len(reject_files))
        active = [h.id for h in holds.active_holds(lake, now)]
        kept = _kept_networks(con, main_files + held_files, settings)

        for files, exempt, label in ((main_files, [], "requests"), (held_files, active, "held")):
            if not files:
                continue
            found = query("checks/personal_past_deadline",
                          {"files": files, "now": now, "max_age_us": max_age_us, "exempt": exempt, "kept": kept},
                          con)
            for row in found.iter_rows(named=True):
                report.violations.append(
                    f"P1 {label}: {row['filename']}: {row['count_rows']} rows keep IP/session past the "
                    f"{policy.max_age_hours:g} h limit (oldest {row['oldest_at']})"
                )
        if reject_files:
            found = query("checks/rejects_past_deadline",
                          {"files": reject_files, "now": now, "max_age_us": max_age_us}, con)
            for row in found.iter_rows(named=True):
                report.violations.append(
                    f"P1 rejects: {row['filename']}: {row['count_rows']} unscrubbed lines past the limit"
                )
        if main_files or held_files:
            dupes = query("checks/duplicate_rows", {"files": main_files + held_files}, con)
            for row in dupes.head(20).iter_rows(named=True):
                report.violations.append(f"P4 duplicate: row {row['row_id']} stored {row['count_copies']} times "
                                         f"(in {', '.join(row['files'])})")
            if dupes.height > 20:
                report.violations.append(f"P4 duplicate: {dupes.height - 20} more duplicated rows")
        report.violations += _accounting(lake, con, main_files + held_files, reject_files)
    finally:
        con.close()
    report.violations += _held_permissions(lake)
    report.violations += _ended_holds(lake, now, policy.max_age)
    report.violations += _landing(settings, now)
    report.violations += _marts(lake)
    report.violations += detect.candidate_violations(settings, now)
    report.violations += _leftovers(lake)
    report.violations += auditlog.verify_chain(lake)
    if anchor is not None:
        report.violations += auditlog.verify_anchor(lake, anchor)
    if record:
        written = auditlog.append_event(lake, "audit", now, ok=report.ok, violations=len(report.violations),
                                        checked=report.checked, max_age_hours=policy.max_age_hours,
                                        policy_override=policy.is_override)
        report.log_head = f"{written['seq']}:{written['hash']}"
    else:
        report.log_head = auditlog.head(lake)
    return report


def _kept_networks(con: duckdb.DuckDBPyConnection, files: list[str], settings: Settings) -> list[str]:
    """Rule A1, truncate mode: the anonymised ``client_ip`` values that really are network addresses.

    Anything else (a full address, another prefix, a host name) stays a violation,
    whatever ``anonymized_at`` claims. Empty when the policy nulls addresses.
    """
    policy = settings.policy
    if policy.client_ip_treatment != "truncate" or not files:
        return []
    kept = []
    for value in query("checks/anonymized_addresses", {"files": files}, con)["client_ip"].to_list():
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            continue
        prefix = policy.ipv4_prefix if ip.version == 4 else policy.ipv6_prefix
        if str(ip) == value and ipaddress.ip_network((ip, prefix), strict=False).network_address == ip:
            kept.append(value)
    return kept


def _accounting(lake: Path, con: duckdb.DuckDBPyConnection, row_files: list[str], reject_files: list[str]) -> list[str]:
    """P4: per ingested file, rows + held = ledger rows + held; rejects = ledger rejects; sums = lines."""
    problems: list[str] = []
    expected_rows: dict[tuple[str, str], int] = defaultdict(int)
    expected_rejects: dict[tuple[str, str], int] = defaultdict(int)
    sources: dict[tuple[str, str], set[str]] = defaultdict(set)
    for rec in ingest.ledger_records(lake):
        key = (str(rec["site"]), str(rec["file_key"]))
        sources[key].add(str(rec["source_file"]))
        rows, held, rejects, lines = (int(rec[k]) for k in ("rows", "held", "rejects", "lines_read"))
        if rows + held + rejects != lines:
            problems.append(f"P4 ledger: {rec['source_file']}: {rows} rows + {held} held + {rejects} rejects "
                            f"!= {lines} lines read")
        expected_rows[key] += rows + held
        expected_rejects[key] += rejects
    for files, expected, label in ((row_files, expected_rows, "rows"), (reject_files, expected_rejects, "rejects")):
        stored: dict[tuple[str, str], int] = {}
        if files:
            found = query("checks/rows_per_source", {"files": files}, con)
            stored = {(r["site"], r["file_key"]): r["count_rows"] for r in found.iter_rows(named=True)}
        for key in sorted(set(stored) | {k for k, v in expected.items() if v}):
            if stored.get(key, 0) != expected.get(key, 0):
                names = ", ".join(sorted(sources.get(key, set()))) or "not in the ledger"
                problems.append(f"P4 {label}: site {key[0]} file {key[1]} ({names}): {stored.get(key, 0)} stored, "
                                f"ledger says {expected.get(key, 0)}")
    return problems


def _ended_holds(lake: Path, now: datetime, max_age: timedelta) -> list[str]:
    """P1 on hold records: an ended hold keeps no addresses or session ids past the limit."""
    problems = []
    for hold in holds.list_holds(lake):
        if hold.is_active(now) or hold.redacted_at is not None:
            continue
        ended = hold.released_at or hold.review_at
        if ended + max_age < now:
            problems.append(f"P1 incidents: {lake / lakefs.INCIDENTS / (hold.id + '.json')} ended {ended.isoformat()} "
                            "and still names addresses or sessions; run `accesslake anonymize`")
    return problems


def _held_permissions(lake: Path) -> list[str]:
    """H3: held/ and everything in it readable by the owner only."""
    root = lake / lakefs.HELD
    if lakefs.is_remote(root) or not root.exists():
        return []  # object storage: access to held/ is the bucket policy's (docs/lake.md)
    problems = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            problems.append(f"H3 held: {path} has mode {oct(mode)}; must not be readable by group or others")
    return problems


def _landing(settings: Settings, now: datetime) -> list[str]:
    """P1 on raw files: nothing in landing/ older than the hard limit."""
    problems = []
    records = ingest.ledger_records(settings.lake)
    for path in ingest.landing_files(settings.lake / lakefs.LANDING):
        oldest, _ = ingest.landing_state(path, records)  # by content: a renamed copy is as old as its lines
        if oldest is None:
            oldest = datetime.fromtimestamp(path.stat().st_mtime, tz=now.tzinfo)
        if oldest + settings.policy.max_age < now:
            problems.append(f"P1 landing: {path} holds lines older than the {settings.policy.max_age_hours:g} h limit")
    return problems


def _marts(lake: Path) -> list[str]:
    problems = []
    for path in lakefs.list_files(lake / lakefs.MARTS):
        names = set(lakefs.parquet_metadata(path).schema.names)
        bad = sorted(names & FORBIDDEN_MART_COLUMNS)
        if bad:
            problems.append(f"P1 marts: {path} has personal columns {', '.join(bad)}")
    return problems


def _leftovers(lake: Path) -> list[str]:
    """Temporary files, unfinished journals and database files must not outlive a run."""
    problems = []
    everything = lakefs.list_files(lake, "", hidden=True)
    for path in everything:
        relative = lakefs.relative(path, lake)
        if relative.startswith(lakefs.TMP + "/"):
            problems.append(f"P1 temporary: {path} was left in staging by an interrupted run")
        elif path.name.startswith(".") and path.name.endswith(".tmp"):
            problems.append(f"P1 temporary: {path} was left by an interrupted write")
        elif relative.startswith(("ledger/journal/", "ledger/pending/")):
            problems.append(f"P4 journal: {path} records an unfinished operation; run `accesslake anonymize`")
        elif path.suffix in DATABASE_SUFFIXES:
            problems.append(f"P1 database: {path}: database files are not allowed in the lake")
    for staged in lakefs.local_staging_files(lake):  # an S3 lake stages on this machine
        problems.append(f"P1 temporary: {staged} was left in the local staging of {lake} by an interrupted run")
    return problems
