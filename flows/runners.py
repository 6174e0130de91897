"""Where the flows' task runs execute, and how the library's steps become task runs.

:class:`TaskRuns` is the :class:`accesslake.pipeline.Executor` of the flows:
every library call of a step becomes one task run, and the per-item calls
(one per landing file, per site/day of marts, per due partition) are submitted
to the flow's task runner: one at a time in the flow process by default
(:func:`one_at_a_time`), or across a Dask cluster (:func:`on_dask`, prefect-dask's
``DaskTaskRunner``; either a temporary ``LocalCluster`` of ``workers`` processes
with one thread each, or an existing cluster by its scheduler's ``address``).

The lake's writer lock (an ``flock``, or a lock object on S3) is held by the
flow process: tasks on the workers act under it, so every submitted task has
ended before a step returns. Workers on other machines must reach the lake the
same way (``s3://`` with the same ``AWS_*`` environment, or a shared file
system at the same path) and import the same ``accesslake`` and ``flows``
(see docs/prefect.md). ``prefect-dask`` is imported only when a Dask runner is built.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from prefect import Flow, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import wait
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from accesslake.errors import ConfigError
from accesslake.faults import InjectedFault
from accesslake.pipeline import Failed

__all__ = ["TaskRuns", "dask_runner", "on_dask", "one_at_a_time"]

R = TypeVar("R")
F = TypeVar("F", bound=Flow[Any, Any])


class TaskRuns:
    """Runs each library call of the nightly's steps as a Prefect task run (no retries: the steps are
    crash-safe together with the recovery that starts every run, so a failure is retried by re-running)."""

    def call(self, name: str, fn: Callable[..., R], *args: Any) -> R:
        return task(fn, name=name, cache_policy=NO_CACHE)(*args)

    def map(self, name: str, fn: Callable[..., R], items: list[Any], *args: Any,
            label: Callable[[Any], str] = str) -> list[R | Failed]:
        unit = task(fn, name=name, cache_policy=NO_CACHE)
        futures = [unit.with_options(task_run_name=_literal(f"{name} {label(item)}")).submit(item, *args)
                   for item in items]
        wait(futures)  # every task run has ended (none still writing) before the step goes on
        out: list[R | Failed] = []
        for future in futures:
            try:
                out.append(future.result())
            except InjectedFault:
                raise
            except Exception as exc:  # noqa: BLE001 - isolated to this item, named in the result
                out.append(Failed(exc))
        return out


def _literal(name: str) -> str:
    """A task-run name Prefect will not format (it fills in ``{parameter}`` templates)."""
    return name.replace("{", "{{").replace("}", "}}")


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
