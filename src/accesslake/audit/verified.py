"""Which dataset files the audit reads, and what it records of them (the manifest of verified files).

A file of requests/, held/, rejects/ or the marts that an earlier audit verified (it passed every
check, and its size, modification time and ETag are still those recorded: :mod:`accesslake.storage.manifest`)
is not read again, unless a check that depends on the time could fail for it at ``now``: its earliest
personal row (rejects: unscrubbed line) past the hard limit, in held/ outside an active hold. The other
verdicts about its content do not change while the file does not. Every other file is read and checked
(:mod:`.datasets`); those that pass are recorded for the next audit. ``accesslake audit --full`` reads
every file and writes the manifest anew; a manifest written under other check rules (another
:func:`fingerprint`) counts as empty.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from accesslake.audit.files import LakeFiles
from accesslake.audit.parquet import PERSONAL_NAMES, PERSONAL_WORDS, REQUIRED, SCAN_EXEMPT
from accesslake.config import Settings
from accesslake.policy import IP_LIKE_PATTERN
from accesslake.sqlfiles import read_sql
from accesslake.storage import FileStat
from accesslake.storage.layout import partition_keys
from accesslake.storage.manifest import MANIFEST_VERSION, Manifest, Verified

__all__ = ["CHECKED_KINDS", "CHECKS", "ReadPlan", "fingerprint", "plan_reads"]

#: The kinds of file (storage.FILE_KINDS) whose content the dataset checks verify.
CHECKED_KINDS = ("requests", "held", "rejects", "marts")
#: The SQL checks whose verdicts the manifest keeps (a change to any of them makes it count as empty).
CHECKS = ("anonymized_addresses", "anonymized_rows", "duplicate_rows", "file_columns", "file_keys", "ip_like_values",
          "reject_facts", "request_facts", "union_columns")


def fingerprint(settings: Settings) -> str:
    """What the recorded verdicts depend on besides a file's content: the checks (their SQL, the IP
    pattern, the personal column names) and the policy's address treatment (rule A1's kept networks).
    The limits are not in it: the audit compares recorded times with them at each ``now``."""
    policy = settings.policy
    inputs: dict[str, Any] = {
        "version": MANIFEST_VERSION, "sql": {name: read_sql(f"checks/{name}") for name in CHECKS},
        "ip_like": IP_LIKE_PATTERN, "personal": [sorted(PERSONAL_WORDS), sorted(PERSONAL_NAMES)],
        "exempt": sorted(SCAN_EXEMPT), "required": {k: list(v) for k, v in sorted(REQUIRED.items())},
        "address": [policy.client_ip_treatment, policy.ipv4_prefix, policy.ipv6_prefix],
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


@dataclass
class ReadPlan:
    """The dataset files to read (``fresh``, by kind, as path strings) and those skipped with their record."""

    fresh: dict[str, list[str]] = field(default_factory=dict)
    skipped: dict[str, dict[str, Verified]] = field(default_factory=dict)  # kind -> path -> record
    stats: dict[str, FileStat] = field(default_factory=dict)  # str(path) -> as listed
    relative: dict[str, str] = field(default_factory=dict)  # str(path) -> path relative to the lake

    @property
    def count_read(self) -> int:
        return sum(len(paths) for paths in self.fresh.values())

    @property
    def count_skipped(self) -> int:
        return sum(len(paths) for paths in self.skipped.values())

    def record(self, fingerprint: str, facts: dict[str, dict[str, Any]], failed: set[str]) -> Manifest:
        """The manifest after this audit: the records of the skipped files, and a record of each file read
        that passed every check (``facts``: what the checks found in it; ``failed``: the files that did not)."""
        after = Manifest(fingerprint)
        for records in self.skipped.values():
            for path, verified in records.items():
                after.files[self.relative[path]] = verified
        for paths in self.fresh.values():
            for path in paths:
                if path not in failed and path in facts:
                    after.files[self.relative[path]] = Verified(self.stats[path], facts[path])
        return after


def _may_fail_now(kind: str, path: str, verified: Verified, now: datetime, settings: Settings,
                  active: set[str]) -> bool:
    """Could a check that depends on ``now`` fail for this verified file? (Then it is read again.)"""
    if kind == "held" and partition_keys(tuple(path.split("/"))).get("incident") in active:
        return False  # rows of an active hold keep their personal data (rule H2)
    since = verified.time("unscrubbed" if kind == "rejects" else "personal")
    return since is not None and since + settings.policy.max_age < now


def plan_reads(files: LakeFiles, manifest: Manifest, settings: Settings, now: datetime, active: set[str], *,
               full: bool = False) -> ReadPlan:
    """Split the dataset files of ``files`` into those to read and those the manifest vouches for
    (none when ``full``)."""
    plan = ReadPlan(stats=files.stats, relative=files.relative)
    for kind in CHECKED_KINDS:
        plan.fresh[kind], plan.skipped[kind] = [], {}
        for path in (str(p) for p in files.of(kind)):
            verified = None if full else manifest.current(files.relative[path], files.stats.get(path))
            if verified is None or _may_fail_now(kind, files.relative[path], verified, now, settings, active):
                plan.fresh[kind].append(path)
            else:
                plan.skipped[kind][path] = verified
    return plan
