"""Ingest: raw log files -> the lake, with a ledger that makes re-ingest a no-op.

- :mod:`.reader`: plain or gzip files, local or remote, read in batches; file identity;
- :mod:`.run`: one file through parse, user agents and the policy into staged Parquet;
- :mod:`.ledger`: the ledger record of each ingest and the crash-recovery intents;
- :mod:`.landing`: the landing folder and what the ledger knows of each raw file.
"""

from __future__ import annotations

from accesslake.ingest.landing import ingest_landing_chain, landing_chains, landing_files, landing_state
from accesslake.ingest.ledger import FAULT_POINTS, IngestResult, ledger_records, recover
from accesslake.ingest.reader import file_key
from accesslake.ingest.run import ingest_file

__all__ = ["FAULT_POINTS", "IngestResult", "file_key", "ingest_file", "ingest_landing_chain", "landing_chains",
           "landing_files", "landing_state", "ledger_records", "recover"]
