"""Audit of the datasets: rows past the deadline (P1), what anonymisation removes (A1-A4), accounting (P4).

Runs the checks of ``sql/checks/`` over requests/, held/, rejects/ and the marts, each over all
files at once in DuckDB (:class:`~.parquet.Scan`); a file that cannot be read is named and the
checks run over the others.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from datetime import datetime
from typing import Any

import polars as pl

from accesslake import holds, ingest, storage
from accesslake.audit.files import LakeFiles
from accesslake.audit.parquet import Scan, check_columns, check_ip_like
from accesslake.config import Settings
from accesslake.storage import LakePath
from accesslake.storage.quarantine import quarantined_rows

__all__ = ["check_datasets"]

ANONYMISED_FIELDS = ("query", "user_agent", "referrer")


def check_datasets(settings: Settings, now: datetime, files: LakeFiles, checked: dict[str, int]) -> list[str]:
    """P1, A1-A4 and P4 over the datasets (``files``: the lake's files by kind)."""
    lake = settings.lake
    policy = settings.policy
    max_age_us = int(policy.max_age_hours * 3_600_000_000)
    checked.update(requests_files=len(files.of("requests")), held_files=len(files.of("held")),
                   reject_files=len(files.of("rejects")))
    con = storage.connect(lake)
    try:
        scan = Scan(con, lake)
        fit, violations = check_columns(scan, {kind: files.of(kind) for kind in ("requests", "held", "rejects",
                                                                                 "marts")})
        main, held, rejects = fit["requests"], fit["held"], fit["rejects"]
        active = [h.id for h in holds.active_holds(lake, now)]
        kept = _kept_networks(scan, main + held, settings)
        for paths, exempt, label in ((main, [], "requests"), (held, active, "held")):
            found = scan.run("checks/personal_past_deadline",
                             {"now": now, "max_age_us": max_age_us, "exempt": exempt, "kept": kept}, paths)
            violations += [
                f"P1 {label}: {row['filename']}: {row['count_rows']} rows keep IP/session past the "
                f"{policy.max_age_hours:g} h limit (oldest {row['oldest_at']})"
                for row in _rows(found)
            ]
            found = scan.run("checks/anonymized_rows", {}, paths)
            for row in _rows(found):
                kept_fields = ", ".join(f"{name} ({row['count_' + name]})" for name in ANONYMISED_FIELDS
                                        if row["count_" + name])
                violations.append(f"P1 {label}: {row['filename']}: anonymised rows keep {kept_fields} "
                                  "(rules A2-A3: NULL, referrer an origin at most)")
        found = scan.run("checks/rejects_past_deadline", {"now": now, "max_age_us": max_age_us}, rejects)
        violations += [f"P1 rejects: {row['filename']}: {row['count_rows']} unscrubbed lines past the limit"
                       for row in _rows(found)]
        for kind, paths in (("requests", main), ("rejects", rejects), ("marts", fit["marts"])):
            violations += check_ip_like(scan, kind, paths, now, max_age_us)
        violations += _duplicates(scan, main + held)
        violations += _accounting(lake, scan, [f for f in main + held if f not in scan.bad],
                                  [f for f in rejects if f not in scan.bad])
        violations += scan.unreadable()
    finally:
        con.close()
    return violations


def _rows(found: pl.DataFrame | None) -> list[dict[str, Any]]:
    return list(found.iter_rows(named=True)) if found is not None else []


def _kept_networks(scan: Scan, files: list[str], settings: Settings) -> list[str]:
    """Rule A1, truncate mode: the anonymised ``client_ip`` values that really are network addresses.

    Anything else (a full address, another prefix, a host name) stays a violation,
    whatever ``anonymized_at`` claims. Empty when the policy nulls addresses.
    """
    policy = settings.policy
    if policy.client_ip_treatment != "truncate" or not files:
        return []
    found = scan.run("checks/anonymized_addresses", {}, files)
    kept = []
    for value in found["client_ip"].to_list() if found is not None else []:
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            continue
        prefix = policy.ipv4_prefix if ip.version == 4 else policy.ipv6_prefix
        if str(ip) == value and ipaddress.ip_network((ip, prefix), strict=False).network_address == ip:
            kept.append(value)
    return kept


def _duplicates(scan: Scan, files: list[str]) -> list[str]:
    """P4: a request is stored once, in the main dataset or in held/."""
    dupes = scan.run("checks/duplicate_rows", {}, files)
    if dupes is None:
        return []
    problems = [f"P4 duplicate: row {row['row_id']} stored {row['count_copies']} times (in {', '.join(row['files'])})"
                for row in dupes.head(20).iter_rows(named=True)]
    if dupes.height > 20:
        problems.append(f"P4 duplicate: {dupes.height - 20} more duplicated rows")
    return problems


def _accounting(lake: LakePath, scan: Scan, row_files: list[str], reject_files: list[str]) -> list[str]:
    """P4: per ingested file, rows + held = ledger rows + held; rejects = ledger rejects; sums = lines.
    Rows that a quarantined file took out of a dataset count as stored (the audit log keeps them)."""
    problems: list[str] = []
    expected: dict[str, dict[tuple[str, str], int]] = {"rows": defaultdict(int), "rejects": defaultdict(int)}
    sources: dict[tuple[str, str], set[str]] = defaultdict(set)
    for rec in ingest.ledger_records(lake):
        key = (str(rec["site"]), str(rec["file_key"]))
        sources[key].add(str(rec["source_file"]))
        rows, held, rejects, lines = (int(str(rec[k])) for k in ("rows", "held", "rejects", "lines_read"))
        if rows + held + rejects != lines:
            problems.append(f"P4 ledger: {rec['source_file']}: {rows} rows + {held} held + {rejects} rejects "
                            f"!= {lines} lines read")
        for site, count in ingest.rows_by_site(rec).items():  # several sites with --site-from-vhost
            expected["rows"][(site, key[1])] += count
            sources[(site, key[1])].add(str(rec["source_file"]))
        expected["rejects"][key] += rejects
    quarantined = quarantined_rows(lake)
    for files, label in ((row_files, "rows"), (reject_files, "rejects")):
        stored: dict[tuple[str, str], int] = defaultdict(int)
        for row in _rows(scan.run("checks/rows_per_source", {}, files)):
            stored[(str(row["site"]), str(row["file_key"]))] += int(str(row["count_rows"]))
        for (group, site, file_key), count in quarantined.items():
            if group == label:
                stored[(site, file_key)] += count
        wanted = expected[label]
        for key in sorted({k for k, v in stored.items() if v} | {k for k, v in wanted.items() if v}):
            if stored.get(key, 0) != wanted.get(key, 0):
                names = ", ".join(sorted(sources.get(key, set()))) or "not in the ledger"
                gone = quarantined.get((label, *key), 0)
                note = f" ({gone} of them in quarantined files)" if gone else ""
                problems.append(f"P4 {label}: site {key[0]} file {key[1]} ({names}): {stored.get(key, 0)} stored"
                                f"{note}, ledger says {wanted.get(key, 0)}")
    return problems
