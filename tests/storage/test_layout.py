"""Layout.kind_of: every file the pipeline writes has a kind; anything else, hidden or odd, has none."""

from __future__ import annotations

import pytest

from accesslake.storage import FILE_KINDS, Layout

KNOWN = [
    ("requests/site=www/date=2026-11-28/part-4e10273b4d82f010-0000000001.parquet", "requests"),
    ("requests/site=www/date=2026-11-28/returned-INC-20261120-1a2b-part-1.parquet", "requests"),
    ("held/incident=INC-20261120-1a2b/site=www/date=2026-11-28/part-1.parquet", "held"),
    ("rejects/site=default/date=2026-11-28/part-1.parquet", "rejects"),
    ("marts/daily_traffic/site=default/date=2026-11-28/part-0.parquet", "marts"),
    ("forensics/abuse_candidates/site=default/date=2026-11-28/part-0.parquet", "candidates"),
    ("forensics/subject.key", "subject_key"),
    ("incidents/INC-20261120-1a2b.json", "incidents"),
    ("incidents/.lock", "lock"),
    ("messages/.lock", "lock"),
    (".lock", "lock"),
    ("audit/.audit.jsonl.lock", "lock"),
    ("disclosures/disclosures.jsonl", "disclosures"),
    ("messages/register.parquet", "messages"),
    ("ledger/ingest.jsonl", "ledger"),
    ("ledger/pending/0123-default.json", "journal"),
    ("ledger/journal/hold-part-1.parquet-default-2026-11-20.json", "journal"),
    ("audit/audit.jsonl", "audit"),
    ("audit/verified.json.gz", "manifest"),
    ("quarantine/20261129T030000-a1b2c3/cut.log.gz", "quarantine"),
    ("quarantine/20261129T030000-a1b2c3/entry.json", "quarantine"),
    ("landing/access.log.1", "landing"),
    ("landing/.access.log.1", "landing"),  # not ingested; judged by its age
    ("_tmp/ingest-1234/requests/part-1.parquet", "staging"),
    ("requests/site=www/date=2026-11-28/.part-1.parquet.4242.tmp", "temporary"),
    ("policy.toml", "policy"),
    (".accesslake-demo", "demo"),
]

UNKNOWN = [
    "requests/site=www/date=2026-11-28/.x.parquet",
    "requests/site=www/date=2026-11-28/part-copy.PARQUET",
    "requests/site=www/date=2026-11-28/part-copy.parquet.bak",
    "requests/site=www/date=2026-11-28/part-copy.parq",
    "requests/site=www/date=2026-11-28/.part-copy.parquet.swp",
    "requests/site=www/date=28-11-2026/part-1.parquet",
    "requests/site=www/part-1.parquet",
    "requests/part-1.parquet",
    "requests/README.md",
    "requests/site=www/date=2026-11-28/x.db",
    "held/site=www/date=2026-11-28/part-1.parquet",
    "marts/daily_traffic/export.csv",
    "ledger/ingest.jsonl.orig",
    "incidents/old-scope.txt",
    "evidence/requests.csv",
    "_scratch/ips.json",
    "notes.txt",
    "scratch.duckdb",
    "quarantine/loose.log",
    "landing/sub/access.log",
    "messages/register.parquet.bak",
]


@pytest.mark.parametrize(("relative", "kind"), KNOWN)
def test_every_file_the_pipeline_writes_has_its_kind(relative: str, kind: str) -> None:
    assert Layout.kind_of(relative) == kind


@pytest.mark.parametrize("relative", UNKNOWN)
def test_anything_else_has_no_kind(relative: str) -> None:
    assert Layout.kind_of(relative) is None


def test_every_kind_is_used() -> None:
    assert {kind for kind, _ in FILE_KINDS} == {kind for _, kind in KNOWN}
