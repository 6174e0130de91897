"""Where every store of the lake lives: the one place that names the lake's paths.

The layout is a public interface (``docs/lake.md`` is checked against
:data:`STORES` by a test); analysts and auditors read these paths directly::

    <lake>/requests/site=<site>/date=<YYYY-MM-DD>/part-*.parquet          main dataset
    <lake>/held/incident=<id>/site=<site>/date=<day>/*.parquet             incident holds (0700)
    <lake>/rejects/site=<site>/date=<day>/*.parquet                        unparsed lines
    <lake>/marts/<table>/site=<site>/date=<day>/part-0.parquet             aggregates
    <lake>/forensics/abuse_candidates/site=<site>/date=<day>/part-0.parquet abuse candidates (0700)
    <lake>/incidents/<id>.json                                             hold records (0700)
    <lake>/disclosures/disclosures.jsonl                                   evidence exports (0700)
    <lake>/messages/register.parquet                                       contact-form register
    <lake>/ledger/ingest.jsonl, ledger/pending/, ledger/journal/           ingest ledger, recovery
    <lake>/audit/audit.jsonl                                               hash-chained audit log
    <lake>/audit/verified.json.gz                                          manifest of verified files
    <lake>/quarantine/                                                     inputs that could not be read
    <lake>/landing/                                                        raw files to ingest
    <lake>/_tmp/                                                           staging; empty after a run
    <lake>/policy.toml, <lake>/.lock                                       policy file, writer lock
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["FILE_KINDS", "Layout", "STORES", "Store"]

# A path in the lake: pathlib.Path for a local folder, upath.UPath for object storage.
LakePath = Any


@dataclass(frozen=True)
class Store:
    """One store of the lake: its path (relative to the root, '/'-separated), what it holds."""

    name: str
    path: str
    holds: str
    private: bool = False  # owner-only (0700/0600) on a folder; a bucket-policy matter on S3


#: Every store, in the order docs/lake.md lists them.
STORES: tuple[Store, ...] = (
    Store("requests", "requests", "main dataset, one row per request, partitioned by site and UTC date"),
    Store("held", "held", "rows under an active incident hold, every field intact", private=True),
    Store("rejects", "rejects", "lines that did not parse, with the reason"),
    Store("marts", "marts", "aggregates per site and day, no personal columns"),
    Store("incidents", "incidents", "incident hold records", private=True),
    Store("forensics", "forensics", "abuse candidates with their IPs", private=True),
    Store("disclosures", "disclosures", "one record per evidence export", private=True),
    Store("messages", "messages", "contact-form message register", private=True),
    Store("ledger", "ledger", "ingest ledger and crash-recovery intents and journals"),
    Store("audit", "audit", "the append-only, hash-chained audit log"),
    Store("quarantine", "quarantine", "inputs that could not be read or parsed, with the reason", private=True),
    Store("landing", "landing", "raw files waiting to be ingested"),
    Store("tmp", "_tmp", "staging; empty after every completed run"),
)

_PARTITION = re.compile(r"^(?P<key>site|date|incident)=(?P<value>[^/]+)$")

# ---------------------------------------------------------------- what a file in the lake is
_PART = r"site=[A-Za-z0-9][A-Za-z0-9._-]{0,99}/date=\d{4}-\d{2}-\d{2}/[^./][^/]*\.parquet"  # partition/file
#: Every kind of file the lake keeps, by the path the pipeline gives it (relative, '/'-separated);
#: the first match wins. Anything else is not a file of the lake (the audit names it).
FILE_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((kind, re.compile(pattern)) for kind, pattern in (
    ("staging", r"_tmp/.+"),
    ("journal", r"ledger/(?:journal|pending)/[^/]+"),
    ("temporary", r"(?:[^/]+/)*\.[^/]+\.tmp"),  # a write in progress beside its final name
    ("requests", rf"requests/{_PART}"),
    ("held", rf"held/incident=[^/.][^/]*/{_PART}"),
    ("rejects", rf"rejects/{_PART}"),
    ("marts", rf"marts/[a-z][a-z0-9_]*/{_PART}"),
    ("candidates", rf"forensics/abuse_candidates/{_PART}"),
    ("subject_key", r"forensics/subject\.key"),  # the key of the subject hashes in the audit log (subjects/)
    ("incidents", r"incidents/[^/.][^/]*\.json"),
    ("disclosures", r"disclosures/disclosures\.jsonl"),
    ("messages", r"messages/register\.parquet"),
    ("ledger", r"ledger/ingest\.jsonl"),
    ("audit", r"audit/audit\.jsonl"),
    ("manifest", r"audit/verified\.json\.gz"),  # files the audit verified (storage.manifest; issue 15)
    ("quarantine", r"quarantine/[^/]+/[^/]+"),
    ("landing", r"landing/[^/]+"),
    ("lock", r"(?:(?:incidents|messages)/)?\.lock|(?:ledger|audit|disclosures)/\.[^/]+\.jsonl\.lock"),
    ("policy", r"policy\.toml"),
    ("demo", r"\.accesslake-demo|report\.html"),  # `accesslake demo`'s marker and report
))


@dataclass(frozen=True)
class Layout:
    """The paths of one lake. ``Layout(root).requests`` is ``<root>/requests``, and so on."""

    root: LakePath

    # datasets
    @property
    def requests(self) -> LakePath:
        return self.root / "requests"

    @property
    def held(self) -> LakePath:
        return self.root / "held"

    @property
    def rejects(self) -> LakePath:
        return self.root / "rejects"

    @property
    def marts(self) -> LakePath:
        return self.root / "marts"

    def mart(self, name: str) -> LakePath:
        return self.marts / name

    @property
    def forensics(self) -> LakePath:
        return self.root / "forensics"

    @property
    def candidates(self) -> LakePath:
        return self.forensics / "abuse_candidates"

    # records
    @property
    def incidents(self) -> LakePath:
        return self.root / "incidents"

    def incident(self, hold_id: str) -> LakePath:
        return self.incidents / f"{hold_id}.json"

    @property
    def disclosures(self) -> LakePath:
        return self.root / "disclosures" / "disclosures.jsonl"

    @property
    def message_register(self) -> LakePath:
        return self.root / "messages" / "register.parquet"

    @property
    def ledger(self) -> LakePath:
        return self.root / "ledger" / "ingest.jsonl"

    @property
    def intents(self) -> LakePath:
        return self.root / "ledger" / "pending"

    @property
    def journal(self) -> LakePath:
        return self.root / "ledger" / "journal"

    @property
    def audit_log(self) -> LakePath:
        return self.root / "audit" / "audit.jsonl"

    @property
    def verified(self) -> LakePath:
        """The manifest of verified files (:mod:`accesslake.storage.manifest`)."""
        return self.root / "audit" / "verified.json.gz"

    # inputs and scratch
    @property
    def quarantine(self) -> LakePath:
        return self.root / "quarantine"

    @property
    def landing(self) -> LakePath:
        return self.root / "landing"

    @property
    def tmp(self) -> LakePath:
        return self.root / "_tmp"

    @property
    def policy_file(self) -> LakePath:
        return self.root / "policy.toml"

    @property
    def lock(self) -> LakePath:
        return self.root / ".lock"

    @staticmethod
    def kind_of(relative: str) -> str | None:
        """The kind of file (a name of :data:`FILE_KINDS`) at ``relative`` (to the root, '/'-separated), or None
        when the lake keeps no such file there: a hidden or odd-named file, a file out of its place."""
        for kind, pattern in FILE_KINDS:
            if pattern.fullmatch(relative):
                return kind
        return None

    def store(self, name: str) -> LakePath:
        """The folder of the store called ``name`` in :data:`STORES`."""
        for store in STORES:
            if store.name == name:
                return self.root / store.path
        raise KeyError(name)


def partition_keys(relative_parts: tuple[str, ...]) -> dict[str, str]:
    """``{"site": ..., "date": ..., "incident": ...}`` from the folder names of a partition path."""
    keys: dict[str, str] = {}
    for part in relative_parts:
        match = _PARTITION.match(str(part).strip("/"))
        if match:
            keys[match["key"]] = match["value"]
    return keys
