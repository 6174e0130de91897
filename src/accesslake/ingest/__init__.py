"""Ingest: raw log files -> the lake, with a ledger that makes re-ingest a no-op.

- :mod:`.reader`: plain or gzip files, local or remote, read in batches from a checked position;
- :mod:`.identity`: which file the ledger knows a file to be (by content, never by its first line alone);
- :mod:`.run`: one file through parse, user agents and the policy into staged Parquet;
- :mod:`.scrub`: rejected lines scrubbed of the personal fields of their format (rule A4);
- :mod:`.ledger`: the ledger record of each ingest and the crash-recovery intents;
- :mod:`.landing`: the landing folder and what the ledger knows of each raw file.
"""

from __future__ import annotations

from accesslake.ingest.landing import in_landing, ingest_landing_chain, landing_chains, landing_files, landing_state
from accesslake.ingest.ledger import FAULT_POINTS, IngestResult, ledger_records, recover, rows_by_site
from accesslake.ingest.reader import file_key
from accesslake.ingest.run import SETTLE, ingest_file
from accesslake.ingest.scrub import reject_scrub_exprs

__all__ = ["FAULT_POINTS", "SETTLE", "IngestResult", "file_key", "in_landing", "ingest_file", "ingest_landing_chain",
           "landing_chains", "landing_files", "landing_state", "ledger_records", "recover", "reject_scrub_exprs",
           "rows_by_site"]
