"""The flows on Dask (flows/runners.py): the same lake as one task at a time.

The fast tests check how landing files are grouped into chains (copies of one
file one after another), and how the runners are built. The ``integration`` test runs the nightly flow on a
temporary two-process ``LocalCluster`` and, on a copy of the same starting
lake, one task at a time; the two lakes must end up alike.
"""

from __future__ import annotations

# Telemetry is switched off in tests/conftest.py, before Prefect is imported.
import gzip
import os
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from flow_kit import NOW, log_text, requests, starting_lake, without_lake
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.task_runners import ThreadPoolTaskRunner

from accesslake import ingest as ingest_lib
from accesslake import storage as lakefs
from accesslake.analytics import marts
from accesslake.config import Settings
from accesslake.errors import ConfigError
from accesslake.storage import Layout, auditlog
from flows.ingest import ingest_landing
from flows.nightly import nightly, nightly_on_dask
from flows.runners import dask_runner, on_dask


def task_states(flow_run_id: UUID | None, prefix: str) -> dict[str, str]:
    """The final state name of each task run of the flow run whose name starts with ``prefix``."""
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return {r.name: r.state_name or "" for r in runs if r.name.startswith(prefix)}


# ---------------------------------------------------------------- no Prefect API, no cluster


def test_copies_of_a_file_are_one_chain_plain_and_gzipped(lake: Path, settings: Settings) -> None:
    text = log_text("a", NOW - timedelta(hours=3), 5)
    landing = Layout(lake).landing
    landing.mkdir()
    plain, packed, other = landing / "a.log", landing / "a.log.1.gz", landing / "b.log"
    plain.write_text(text, encoding="utf-8")
    packed.write_bytes(gzip.compress(text.encode()))
    other.write_text(log_text("b", NOW - timedelta(hours=3), 5), encoding="utf-8")
    broken = landing / "broken.log.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00not gzip at all")

    chains = ingest_lib.landing_chains(lake)

    assert sorted(sorted(p.name for p in chain) for chain in chains) == [
        ["a.log", "a.log.1.gz"], ["b.log"], ["broken.log.gz"]]
    assert ingest_lib.file_key(plain) == ingest_lib.file_key(packed) != ingest_lib.file_key(other)


def test_the_flows_run_one_task_at_a_time_unless_put_on_dask() -> None:
    for flow in (nightly, ingest_landing):
        assert isinstance(flow.task_runner, ThreadPoolTaskRunner) and flow.task_runner._max_workers == 1
    local: Any = on_dask(nightly, workers=3).task_runner
    assert (local.cluster_kwargs["n_workers"], local.cluster_kwargs["threads_per_worker"]) == (3, 1)
    share = str(max(1, (os.cpu_count() or 1) // 3))  # each worker's Polars and DuckDB get a share of the cores
    assert local.cluster_kwargs["env"] == {"POLARS_MAX_THREADS": share, "ACCESSLAKE_THREADS": share}
    assert on_dask(nightly, workers=3).name == "nightly"
    remote: Any = dask_runner(address="tcp://scheduler:8786")
    assert (remote.address, remote.cluster_kwargs) == ("tcp://scheduler:8786", {})
    with pytest.raises(ConfigError, match="--dask-workers: 0; a local Dask cluster needs at least 1 worker"):
        dask_runner(workers=0)


# ---------------------------------------------------------------- flows under the harness


@pytest.mark.integration
@pytest.mark.usefixtures("prefect_api")
def test_a_failing_file_is_quarantined_the_others_go_on_then_the_run_fails(lake: Path) -> None:
    landing = lake / "landing"
    landing.mkdir()
    (landing / "a.log").write_text("not a log line\n" * 20, encoding="utf-8")
    (landing / "b-copy-of-a.log").write_text("not a log line\n" * 20, encoding="utf-8")
    (landing / "c.log").write_text(log_text("c", NOW - timedelta(hours=5), 10), encoding="utf-8")

    state = ingest_landing(lake=str(lake), now=NOW.isoformat(), return_state=True)

    assert state.is_failed()
    with pytest.raises(Exception, match=r"a\.log: cannot detect the log format"):
        state.result()
    assert [Path(r["source_file"]).name for r in ingest_lib.ledger_records(lake)] == ["c.log"]
    assert requests(lake).height == 10
    assert sorted(p.name for p in landing.iterdir()) == ["c.log"]  # the junk went to the quarantine
    quarantined = sorted(p.name for p in Layout(lake).quarantine.rglob("*.log"))
    assert quarantined == ["a.log", "b-copy-of-a.log"]
    assert task_states(state.state_details.flow_run_id, "ingest-file ") == {
        "ingest-file a.log": "Completed", "ingest-file c.log": "Completed"}


# ---------------------------------------------------------------- a two-process LocalCluster


@pytest.mark.integration
@pytest.mark.usefixtures("prefect_api")
def test_nightly_on_dask_leaves_the_lake_as_the_sequential_flow_does(tmp_path: Path) -> None:
    one, dask = tmp_path / "one-at-a-time", tmp_path / "dask"
    starting_lake(one)
    shutil.copytree(one, dask)

    expected = nightly(lake=str(one), now=NOW.isoformat())
    got = nightly_on_dask(str(dask), workers=2, now=NOW.isoformat())

    assert without_lake(got, dask) == without_lake(expected, one)
    ingested = {Path(r["source_file"]).name: r for r in got["ingested"]}
    assert ingested["a.log"]["status"] == "ingested" and ingested["a.log"]["rows"] == 120
    assert ingested["copy-of-a.log.gz"]["status"] == "unchanged"  # a copy: waited for a.log, then had nothing new
    assert ingested["late.log"]["anonymized_on_write"] == 40
    assert len(got["marts"]["built"]) >= 4  # tonight's days and the day late.log added to
    assert got["audit"]["violations"] == []

    rows = requests(dask)
    assert rows["row_id"].is_unique().all()
    assert rows.equals(requests(one))
    for name in marts.MART_NAMES:
        assert marts.read_mart(dask, name).equals(marts.read_mart(one, name)), name
    assert auditlog.verify_chain(dask) == []  # concurrent appends from the workers kept the chain
    events = sorted(e["event"] for e in auditlog.read_events(dask))
    assert events == sorted(e["event"] for e in auditlog.read_events(one))
    assert events.count("ingest") == 1 + 4  # yesterday's file, then a, b, c and late (the copy added nothing)
    assert not (Layout(dask).tmp).exists() or not any((Layout(dask).tmp).iterdir())


def test_accesslake_threads_caps_duckdb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESSLAKE_THREADS", "1")
    assert lakefs.connect().sql("select current_setting('threads')").fetchall() == [(1,)]
    monkeypatch.delenv("ACCESSLAKE_THREADS")
    assert lakefs.connect().sql("select current_setting('threads')").fetchall() == [(os.cpu_count(),)]
