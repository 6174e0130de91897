"""Flow ``ingest-landing``: every new file in ``<lake>/landing/`` -> the lake, now, without the rest of the night.

The nightly's first two steps (``recover``, ``ingest``) of :mod:`accesslake.pipeline`,
as task runs (:class:`flows.runners.TaskRuns`): one task run per landing file
(copies of one file, in one chain, one after another), all under the lake's
writer lock. A file that cannot be read or parsed is moved to the quarantine
and named; the run then ends Failed once every ingest has ended.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow

from accesslake.config import load_settings, resolve_now
from accesslake.pipeline import NightlyOptions, run_nightly
from flows.nightly import LOCK_WAIT_SECONDS, NightlyIncomplete
from flows.runners import TaskRuns, one_at_a_time

__all__ = ["ingest_landing"]


@flow(name="ingest-landing", task_runner=one_at_a_time())
def ingest_landing(
    lake: str,
    now: str | None = None,
    site: str = "default",
    policy: str | None = None,
    fmt: str | None = None,
    cookie: str | None = None,
) -> list[dict[str, Any]]:
    """Ingest every new file in ``<lake>/landing/``; returns one record per file (the ledger's fields).

    ``fmt`` / ``cookie`` apply to every file (the format is detected when None). On Dask:
    ``flows.runners.on_dask(ingest_landing)``.
    """
    settings = load_settings(lake, policy)
    result = run_nightly(settings, resolve_now(now), NightlyOptions(site, fmt, cookie),
                         wait_seconds=LOCK_WAIT_SECONDS, executor=TaskRuns(), only=("recover", "ingest"))
    if result.failures:
        raise NightlyIncomplete("; ".join(f.line() for f in result.failures))
    return [asdict(r) for r in result.ingested]
