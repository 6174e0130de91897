"""Flow ``ingest-landing``: every new file in ``<lake>/landing/`` -> the lake.

One task run per file, all under the lake's writer lock. The tasks here are
reused by ``flows/nightly.py``, which takes the lock itself (``flock`` belongs
to an open file description: one process must not take it twice, so the
nightly flow calls these tasks, never this flow).

No retries: ingest, recover and the rewrite are crash-safe only together with
the ``recover`` that starts a run, so a failed step is retried by re-running
the whole flow, which recovers first.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from accesslake import ingest as ingest_lib, lake as lakefs
from accesslake.config import Settings, load_settings, resolve_now

__all__ = ["LOCK_WAIT_SECONDS", "ingest_file", "ingest_landing", "list_landing", "recover_staging"]

LOCK_WAIT_SECONDS = 60.0  # as `accesslake nightly`: wait this long for another writer


@task(name="recover-staging", cache_policy=NO_CACHE)
def recover_staging(lake: Path) -> int:
    """Undo the moves of an ingest that crashed before its ledger record."""
    return ingest_lib.recover(lake)


@task(name="list-landing", cache_policy=NO_CACHE)
def list_landing(lake: Path) -> list[Path]:
    """Files waiting in ``<lake>/landing/``, oldest name first."""
    return ingest_lib.landing_files(lake / lakefs.LANDING)


@task(name="ingest-file", task_run_name="ingest {path.name}", cache_policy=NO_CACHE)
def ingest_file(
    path: Path, settings: Settings, now: datetime, site: str, fmt: str | None = None, cookie: str | None = None
) -> ingest_lib.IngestResult:
    """Ingest one landing file (its new lines; a partial last line waits for the next run)."""
    return ingest_lib.ingest_file(path, settings, now, site=site, fmt=fmt, cookie=cookie, hold_partial_line=True)


@flow(name="ingest-landing")
def ingest_landing(
    lake: str,
    now: str | None = None,
    site: str = "default",
    policy: str | None = None,
    fmt: str | None = None,
    cookie: str | None = None,
) -> list[dict[str, Any]]:
    """Ingest every new file in ``<lake>/landing/``; returns one record per file (the ledger's fields).

    ``fmt`` / ``cookie`` apply to every file (the format is detected when ``fmt`` is None).
    """
    settings = load_settings(lake, policy)
    moment = resolve_now(now)
    with lakefs.writer_lock(settings.lake, LOCK_WAIT_SECONDS):
        recover_staging(settings.lake)
        landing = list_landing(settings.lake)
        results = [ingest_file(path, settings, moment, site, fmt, cookie) for path in landing]
    return [asdict(result) for result in results]
