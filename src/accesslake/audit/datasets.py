"""Audit of the datasets: rows past the deadline (P1) and accounting against the ledger (P4).

Runs the checks of ``sql/checks/`` over requests/, held/ and rejects/.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from datetime import datetime

import duckdb

from accesslake import holds, ingest, storage
from accesslake.config import Settings
from accesslake.sqlfiles import query
from accesslake.storage import LakePath, Layout

__all__ = ["check_datasets"]


def check_datasets(settings: Settings, now: datetime, checked: dict[str, int]) -> list[str]:
    """P1 (rows and rejected lines past the limit) and P4 (duplicates, accounting) over the datasets."""
    lake = settings.lake
    policy = settings.policy
    layout = Layout(lake)
    violations: list[str] = []
    max_age_us = int(policy.max_age_hours * 3_600_000_000)
    con = storage.connect(lake)
    try:
        main_files = [str(p) for p in storage.list_files(layout.requests)]
        held_files = [str(p) for p in storage.list_files(layout.held)]
        reject_files = [str(p) for p in storage.list_files(layout.rejects)]
        checked.update(requests_files=len(main_files), held_files=len(held_files), reject_files=len(reject_files))
        active = [h.id for h in holds.active_holds(lake, now)]
        kept = _kept_networks(con, main_files + held_files, settings)

        for files, exempt, label in ((main_files, [], "requests"), (held_files, active, "held")):
            if not files:
                continue
            found = query("checks/personal_past_deadline",
                          {"files": files, "now": now, "max_age_us": max_age_us, "exempt": exempt, "kept": kept},
                          con)
            for row in found.iter_rows(named=True):
                violations.append(
                    f"P1 {label}: {row['filename']}: {row['count_rows']} rows keep IP/session past the "
                    f"{policy.max_age_hours:g} h limit (oldest {row['oldest_at']})"
                )
        if reject_files:
            found = query("checks/rejects_past_deadline",
                          {"files": reject_files, "now": now, "max_age_us": max_age_us}, con)
            for row in found.iter_rows(named=True):
                violations.append(
                    f"P1 rejects: {row['filename']}: {row['count_rows']} unscrubbed lines past the limit"
                )
        if main_files or held_files:
            dupes = query("checks/duplicate_rows", {"files": main_files + held_files}, con)
            for row in dupes.head(20).iter_rows(named=True):
                violations.append(f"P4 duplicate: row {row['row_id']} stored {row['count_copies']} times "
                                  f"(in {', '.join(row['files'])})")
            if dupes.height > 20:
                violations.append(f"P4 duplicate: {dupes.height - 20} more duplicated rows")
        violations += _accounting(lake, con, main_files + held_files, reject_files)
    finally:
        con.close()
    return violations


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


def _accounting(
    lake: LakePath, con: duckdb.DuckDBPyConnection, row_files: list[str], reject_files: list[str]
) -> list[str]:
    """P4: per ingested file, rows + held = ledger rows + held; rejects = ledger rejects; sums = lines."""
    problems: list[str] = []
    expected_rows: dict[tuple[str, str], int] = defaultdict(int)
    expected_rejects: dict[tuple[str, str], int] = defaultdict(int)
    sources: dict[tuple[str, str], set[str]] = defaultdict(set)
    for rec in ingest.ledger_records(lake):
        key = (str(rec["site"]), str(rec["file_key"]))
        sources[key].add(str(rec["source_file"]))
        rows, held, rejects, lines = (int(str(rec[k])) for k in ("rows", "held", "rejects", "lines_read"))
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

