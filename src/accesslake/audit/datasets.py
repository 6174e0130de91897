"""Audit of the datasets: rows past the deadline (P1), what anonymisation removes (A1-A4), accounting (P4).

Runs the checks of ``sql/checks/`` over requests/, held/, rejects/ and the marts, each over all
files to read at once in DuckDB (:class:`~.parquet.Scan`); a file that cannot be read is named and
the checks run over the others (on object storage, over local copies downloaded once). Which files
are read is the :class:`~.verified.ReadPlan`'s: a file
verified before and unchanged is not read again; what the checks found in each file read (its rows
per ingested file, its earliest personal and not yet anonymised rows) goes into ``facts`` for the
manifest, and every file a check failed on into ``failed``. The checks that span files (duplicated
rows, the ledger's accounting) use the records of the files not read.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from accesslake import holds, ingest, storage
from accesslake.audit.files import LakeFiles
from accesslake.audit.parquet import Scan, check_columns, check_ip_like
from accesslake.audit.verified import ReadPlan
from accesslake.config import Settings
from accesslake.storage import LakePath
from accesslake.storage.duck import pipeline_spill
from accesslake.storage.layout import partition_keys
from accesslake.storage.manifest import Verified, micros
from accesslake.storage.quarantine import quarantined_rows

__all__ = ["Findings", "check_datasets"]

ANONYMISED_FIELDS = ("query", "user_agent", "referrer")
#: A clock past every deadline: the IP scan of a mart at it looks at all of its rows.
_END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass
class Findings:
    """What the dataset checks found in the files they read: facts per file, the files a check failed on."""

    facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)

    def fact(self, path: str) -> dict[str, Any]:
        return self.facts.setdefault(path, {})


def check_datasets(settings: Settings, now: datetime, files: LakeFiles, checked: dict[str, int], plan: ReadPlan,
                   found: Findings) -> list[str]:
    """P1, A1-A4 and P4 over the datasets (``files``: the lake's files by kind; ``plan``: which to read)."""
    lake = settings.lake
    checked.update(requests_files=len(files.of("requests")), held_files=len(files.of("held")),
                   reject_files=len(files.of("rejects")))
    con = storage.connect(lake, spill=pipeline_spill(lake))
    paths = {str(p): p for kind in plan.fresh for p in files.of(kind)}
    fresh = [paths[f] for kind in plan.fresh for f in plan.fresh[kind]]
    try:
        with storage.local_copies(lake, fresh, "audit") as copies:
            scan = Scan(con, lake, {str(p): str(c) for p, c in zip(fresh, copies, strict=True)})
            return _checks(settings, now, scan, plan, found)
    finally:
        con.close()


def _checks(settings: Settings, now: datetime, scan: Scan, plan: ReadPlan, found: Findings) -> list[str]:
    """The checks, in order, over the files the plan reads (through ``scan``)."""
    lake = settings.lake
    max_age_us = int(settings.policy.max_age_hours * 3_600_000_000)
    fit, violations = check_columns(scan, dict(plan.fresh), found.failed)
    main, held, rejects = fit["requests"], fit["held"], fit["rejects"]
    active = [h.id for h in holds.active_holds(lake, now)]
    kept = _kept_networks(scan, main + held, settings)
    for paths, label in ((main, "requests"), (held, "held")):
        violations += _personal(scan, found, paths, label, active, kept, now, max_age_us, settings)
        violations += _anonymised(scan, found, paths, label)
    violations += _unscrubbed(scan, found, rejects, now, max_age_us)
    for kind, paths in (("requests", main), ("rejects", rejects)):
        violations += check_ip_like(scan, kind, paths, now, max_age_us, found.failed)
    violations += _marts_ip_like(scan, found, fit["marts"], now, max_age_us)
    for path in fit["marts"]:
        found.fact(path)
    keys = _file_keys(scan, found, main + held + rejects)
    violations += _duplicates(scan, found, main + held, keys, plan)
    violations += _accounting(lake, keys, plan, {"rows": main + held, "rejects": rejects})
    violations += scan.unreadable()
    found.failed |= set(scan.bad)
    return violations


def _rows(found: pl.DataFrame | None) -> list[dict[str, Any]]:
    return list(found.iter_rows(named=True)) if found is not None else []


def _personal(scan: Scan, found: Findings, paths: list[str], label: str, active: list[str], kept: list[str],
              now: datetime, max_age_us: int, settings: Settings) -> list[str]:
    """P1: rows that keep an address or session past the hard limit (held/: outside an active hold)."""
    problems = []
    for row in _rows(scan.run("checks/request_facts", {"now": now, "max_age_us": max_age_us, "kept": kept}, paths)):
        path = row["filename"]
        found.fact(path).update(rows=row["count_rows"], personal=micros(row["personal_since"]),
                                pending=micros(row["pending_since"]))
        incident = partition_keys(tuple(path.split("/"))).get("incident")
        if row["count_past_deadline"] and not (label == "held" and incident in active):
            problems.append(f"P1 {label}: {path}: {row['count_past_deadline']} rows keep IP/session past the "
                            f"{settings.policy.max_age_hours:g} h limit (oldest {row['personal_since']})")
            found.failed.add(path)
    for path in paths:
        found.fact(path).setdefault("rows", 0)
    return problems


def _anonymised(scan: Scan, found: Findings, paths: list[str], label: str) -> list[str]:
    """A2-A3: rows marked anonymised keep no query, raw user agent or referrer beyond an origin."""
    problems = []
    for row in _rows(scan.run("checks/anonymized_rows", {}, paths)):
        kept_fields = ", ".join(f"{name} ({row['count_' + name]})" for name in ANONYMISED_FIELDS
                                if row["count_" + name])
        problems.append(f"P1 {label}: {row['filename']}: anonymised rows keep {kept_fields} "
                        "(rules A2-A3: NULL, referrer an origin at most)")
        found.failed.add(row["filename"])
    return problems


def _unscrubbed(scan: Scan, found: Findings, paths: list[str], now: datetime, max_age_us: int) -> list[str]:
    """P1: rejected lines left unscrubbed past the hard limit."""
    problems = []
    for row in _rows(scan.run("checks/reject_facts", {"now": now, "max_age_us": max_age_us}, paths)):
        found.fact(row["filename"]).update(rows=row["count_rows"], unscrubbed=micros(row["unscrubbed_since"]))
        if row["count_past_deadline"]:
            problems.append(f"P1 rejects: {row['filename']}: {row['count_past_deadline']} unscrubbed lines past "
                            "the limit")
            found.failed.add(row["filename"])
    for path in paths:
        found.fact(path).setdefault("rows", 0)
    return problems


def _marts_ip_like(scan: Scan, found: Findings, paths: list[str], now: datetime, max_age_us: int) -> list[str]:
    """P1/A4 on the marts: first every row of each mart (the verdict a record keeps must hold at any later
    ``now``), then, for the marts with an IP-like token anywhere, the rows past the deadline at ``now``."""
    anywhere: set[str] = set()
    check_ip_like(scan, "marts", paths, _END_OF_TIME, max_age_us, anywhere)
    found.failed |= anywhere  # not a violation before the deadline, but read again at every audit
    return check_ip_like(scan, "marts", sorted(anywhere), now, max_age_us)


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


#: path -> file key -> (rows, first source line, last source line)
Keys = dict[str, dict[str, tuple[int, int, int]]]


def _file_keys(scan: Scan, found: Findings, paths: list[str]) -> Keys:
    """Rows per ingested file (and their source lines) of each file read; kept in its facts."""
    keys: Keys = defaultdict(dict)
    for row in _rows(scan.run("checks/file_keys", {}, paths)):
        keys[row["filename"]][str(row["file_key"])] = (row["count_rows"], row["first_line"], row["last_line"])
    for path in paths:
        found.fact(path)["keys"] = {key: list(value) for key, value in keys.get(path, {}).items()}
    return keys


def _overlapping(keys: Keys, records: dict[str, Verified]) -> list[str]:
    """The recorded files holding lines of an ingested file that a file read also holds (duplicates of a row
    share its file key and source line)."""
    reach: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for per_key in keys.values():
        for key, (_, first, last) in per_key.items():
            reach[key].append((first, last))
    return sorted(path for path, verified in records.items()
                  if any(first <= theirs_last and theirs_first <= last
                         for key, (_, theirs_first, theirs_last) in verified.keys().items()
                         for first, last in reach.get(key, ())))


def _duplicates(scan: Scan, found: Findings, paths: list[str], keys: Keys, plan: ReadPlan) -> list[str]:
    """P4: a request is stored once, in the main dataset or in held/ (files read, and the recorded files
    that hold lines of the same ingested files)."""
    readable = [p for p in paths if p not in scan.bad]
    if not readable:
        return []
    others = _overlapping({p: keys.get(p, {}) for p in readable},
                          {**plan.skipped.get("requests", {}), **plan.skipped.get("held", {})})
    dupes = scan.run("checks/duplicate_rows", {}, readable + others)
    if dupes is None:
        return []
    for names in dupes["files"].to_list():
        found.failed |= set(names)
    problems = [f"P4 duplicate: row {row['row_id']} stored {row['count_copies']} times (in {', '.join(row['files'])})"
                for row in dupes.head(20).iter_rows(named=True)]
    if dupes.height > 20:
        problems.append(f"P4 duplicate: {dupes.height - 20} more duplicated rows")
    return problems


def _accounting(lake: LakePath, keys: Keys, plan: ReadPlan, groups: dict[str, list[str]]) -> list[str]:
    """P4: per ingested file, rows + held = ledger rows + held; rejects = ledger rejects; sums = lines.
    Rows that a quarantined file took out of a dataset count as stored (the audit log keeps them).
    Files not read count by their records."""
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
    recorded = {"rows": ("requests", "held"), "rejects": ("rejects",)}
    for label, paths in groups.items():
        stored: dict[tuple[str, str], int] = defaultdict(int)
        counted = [(path, keys.get(path, {})) for path in paths]
        counted += [(path, verified.keys()) for kind in recorded[label]
                    for path, verified in plan.skipped.get(kind, {}).items()]
        for path, per_key in counted:
            site = partition_keys(tuple(plan.relative.get(path, path).split("/"))).get("site", "")
            for file_key, (count, _, _) in per_key.items():
                stored[(site, file_key)] += count
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
