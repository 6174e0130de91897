"""Flow ``ingest-landing``: every new file in ``<lake>/landing/`` -> the lake.

One task run per file, all under the lake's writer lock. The tasks here are
reused by ``flows/nightly.py``, which takes the lock itself (``flock`` belongs
to an open file description: one process must not take it twice, so the
nightly flow calls these tasks, never this flow).

The ingests are submitted to the flow's task runner (flows/runners.py): one
at a time by default, in parallel on Dask. Two different files may be
ingested at once; copies of one file (the same first line, so the same
``file_key``) may not, so each copy waits for the one before it.

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
from prefect.futures import PrefectFuture

from accesslake import ingest as ingest_lib
from accesslake import lake as lakefs
from accesslake.config import Settings, load_settings, resolve_now
from accesslake.errors import InputError
from flows.runners import one_at_a_time, results_of

__all__ = ["LOCK_WAIT_SECONDS", "file_key", "ingest_file", "ingest_landing", "landing_keys", "list_landing",
           "recover_staging", "submit_ingests"]

LOCK_WAIT_SECONDS = 60.0  # as `accesslake nightly`: wait this long for another writer


@task(name="recover-staging", cache_policy=NO_CACHE)
def recover_staging(lake: Path) -> int:
    """Undo the moves of an ingest that crashed before its ledger record."""
    return ingest_lib.recover(lake)


@task(name="list-landing", cache_policy=NO_CACHE)
def list_landing(lake: Path) -> list[Path]:
    """Files waiting in ``<lake>/landing/``, oldest name first."""
    return ingest_lib.landing_files(lake / lakefs.LANDING)


@task(name="landing-keys", cache_policy=NO_CACHE)
def landing_keys(paths: list[Path]) -> list[str]:
    """The file key of each landing file: copies of one file share it."""
    return [file_key(path) for path in paths]


@task(name="ingest-file", task_run_name="ingest {path.name}", cache_policy=NO_CACHE)
def ingest_file(
    path: Path, settings: Settings, now: datetime, site: str, fmt: str | None = None, cookie: str | None = None
) -> ingest_lib.IngestResult:
    """Ingest one landing file (its new lines; a partial last line waits for the next run)."""
    return ingest_lib.ingest_file(path, settings, now, site=site, fmt=fmt, cookie=cookie, hold_partial_line=True)


def file_key(path: Path) -> str:
    """The library's ``file_key`` of ``path`` (copies share it), or a key of its own for an
    empty or unreadable file (its ingest task then reports why)."""
    try:
        return ingest_lib.file_key(path) or f"empty:{path}"
    except InputError:
        return f"unreadable:{path}"


def submit_ingests(
    paths: list[Path], keys: list[str], settings: Settings, now: datetime, site: str,
    fmt: str | None = None, cookie: str | None = None,
) -> list[PrefectFuture[ingest_lib.IngestResult]]:
    """One ``ingest-file`` task run per path, submitted at once; a path whose key an earlier path
    has (a copy) waits for that one, so copies run one after another in ``paths`` order."""
    last: dict[str, PrefectFuture[ingest_lib.IngestResult]] = {}
    futures = []
    for path, key in zip(paths, keys, strict=True):
        before = [last[key]] if key in last else None
        last[key] = ingest_file.submit(path, settings, now, site, fmt, cookie, wait_for=before)
        futures.append(last[key])
    return futures


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

    ``fmt`` / ``cookie`` apply to every file (the format is detected when ``fmt`` is None).
    A file that fails does not stop the others (its copies wait and are skipped); the run fails
    with its error once every ingest has ended. On Dask: ``flows.runners.on_dask(ingest_landing)``.
    """
    settings = load_settings(lake, policy)
    moment = resolve_now(now)
    with lakefs.writer_lock(settings.lake, LOCK_WAIT_SECONDS):
        recover_staging(settings.lake)
        landing = list_landing(settings.lake)
        keys = landing_keys(landing)
        results = results_of(submit_ingests(landing, keys, settings, moment, site, fmt, cookie))
    return [asdict(result) for result in results]
