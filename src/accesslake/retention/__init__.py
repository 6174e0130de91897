"""Retention: what happens to every store when its rows pass ``anonymize_after`` (rules P1-P3, A1-A4, H2-H4).

One function per store, called in order by :func:`run_retention`
(``accesslake anonymize`` and the nightly run):

- :mod:`.requests`: the backlog rewrite of the main dataset (holds -> ``held/``);
- :mod:`.held`: released holds' rows back, anonymised; ended holds' records redacted;
- :mod:`.rejects`: rejected lines scrubbed;
- :mod:`.candidates`: abuse candidates deleted;
- :mod:`.landing`: raw files deleted;
- :mod:`.quarantine`: files that cannot be read, and strays in the datasets, quarantined; quarantine
  entries deleted once past the limit;
- :mod:`.journal`: the journals of two-file moves and their recovery.
"""

from __future__ import annotations

from accesslake.retention.journal import FAULT_POINTS, recover
from accesslake.retention.requests import anonymize_partition, anonymize_partition_of, partitions_due
from accesslake.retention.result import AnonymizeResult
from accesslake.retention.run import run_retention, run_retention_after

__all__ = ["FAULT_POINTS", "AnonymizeResult", "anonymize_partition", "anonymize_partition_of", "partitions_due",
           "recover", "run_retention", "run_retention_after"]
