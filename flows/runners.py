"""Where the flows' task runs execute: one at a time in the flow process, or on a Dask cluster.

By default (:func:`one_at_a_time`) every submitted task runs in one worker
thread of the flow process, in the order submitted, as a plain loop would.
:func:`on_dask` swaps in prefect-dask's ``DaskTaskRunner``: the per-file
ingests and the per-day marts then run on the cluster's workers, while the
steps called directly in a flow (recover, detect, anonymise, audit) stay in
the flow process. Either a temporary ``LocalCluster`` of ``workers`` processes
with one thread each, or an existing cluster by its scheduler's ``address``.

The lake's writer lock (an ``flock``, or a lock object on S3) is held by the
flow process: tasks on the workers act under it, so a flow waits for every
submitted task (:func:`results_of`) before it lets the lock go. Workers on
other machines must reach the lake the same way (``s3://`` with the same
``AWS_*`` environment, or a shared file system at the same path) and import
the same ``accesslake`` and ``flows`` (see docs/prefect.md).

``prefect-dask`` is a dev dependency, imported only when a Dask runner is built.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

from prefect import Flow
from prefect.futures import PrefectFuture, wait
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from accesslake.errors import ConfigError

__all__ = ["dask_runner", "on_dask", "one_at_a_time", "results_of"]

R = TypeVar("R")
F = TypeVar("F", bound=Flow[Any, Any])


def one_at_a_time() -> ThreadPoolTaskRunner[Any]:
    """The flows' default runner: submitted tasks run one after another, in submission order."""
    return ThreadPoolTaskRunner(max_workers=1)


def dask_runner(address: str | None = None, workers: int = 2) -> TaskRunner[Any]:
    """A ``DaskTaskRunner``: on the scheduler at ``address`` (``tcp://host:8786``), else on a
    temporary local cluster of ``workers`` processes with one thread each."""
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:  # an optional dependency: say how to get it
        raise ImportError("running the flows on Dask needs prefect-dask: uv sync (dev group), "
                          "or pip install prefect-dask") from exc
    if address:
        return DaskTaskRunner(address=address)
    if workers < 1:
        raise ConfigError(f"--dask-workers: {workers}; a local Dask cluster needs at least 1 worker")
    # Each worker's Polars and DuckDB get their share of the cores, not all of them each.
    share = str(max(1, (os.cpu_count() or 1) // workers))
    return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True,
                                          "dashboard_address": "127.0.0.1:8787",  # loopback, as the server
                                          "env": {"POLARS_MAX_THREADS": share, "ACCESSLAKE_THREADS": share}})


def on_dask(flow: F, address: str | None = None, workers: int = 2) -> F:
    """``flow`` with its submitted tasks on Dask (see :func:`dask_runner`); same name and parameters."""
    return flow.with_options(task_runner=dask_runner(address, workers))  # type: ignore[return-value]


def results_of(futures: list[PrefectFuture[R]]) -> list[R]:
    """The results in submission order, once every task run has ended.

    Waits for all of them before raising the first failure: no task may still
    be writing to the lake when the flow lets the writer lock go.
    """
    wait(futures)
    return [future.result() for future in futures]
