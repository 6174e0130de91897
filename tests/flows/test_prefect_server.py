"""The deployment for real: ``prefect server start``, ``prefect deploy`` from prefect.yaml, a process worker.

Everything runs on 127.0.0.1 with telemetry off and a temporary
``PREFECT_HOME`` (the server's SQLite database lives there). The module
fixture starts the server, creates the work pool with the CLI, deploys
``accesslake-nightly`` from ``prefect.yaml`` exactly as docs/prefect.md says
(from the project root), and starts a process worker; the test triggers a run
through the API with ``run_deployment`` on a lake in ``tmp_path`` and checks the
lake afterwards. Each server or worker runs in its own process group, which is
killed at the end even when a step fails. The server's scheduler is off: the
02:30 cron schedule is checked on the deployment, never fired during a test.
"""

from __future__ import annotations

import contextlib
import os

# Telemetry off before Prefect is imported (it initialises SDK analytics on import).
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.schedules import CronSchedule
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from accesslake import storage as lakefs
from accesslake.schema import REQUEST_SCHEMA
from accesslake.storage import Layout, auditlog

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PREFECT = [sys.executable, "-m", "prefect"]
DEPLOYMENT = "nightly/accesslake-nightly"  # <flow name>/<deployment name in prefect.yaml>
POOL = "accesslake-process"
NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
STARTUP_SECONDS = 120  # server to healthy; generous for a 2-core CI machine
RUN_SECONDS = 180  # trigger to a final state


@dataclass
class Stack:
    """The running server and worker, their environment and logs."""

    api_url: str
    env: dict[str, str]
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *args: str, cwd: Path, extra: dict[str, str] | None = None) -> None:
        with (self.logs / f"{name}.log").open("wb") as log:
            self.procs[name] = subprocess.Popen(
                [*PREFECT, *args], cwd=cwd, env={**self.env, **(extra or {})},
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )

    def cli(self, *args: str, cwd: Path, extra: dict[str, str] | None = None) -> str:
        done = subprocess.run([*PREFECT, *args], cwd=cwd, env={**self.env, **(extra or {})}, capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def log(self, name: str, lines: int = 80) -> str:
        path = self.logs / f"{name}.log"
        text = path.read_text(errors="replace").splitlines() if path.exists() else []
        return f"--- {name} log (last {lines} lines) ---\n" + "\n".join(text[-lines:])

    def stop(self) -> None:
        """Worker first (it reports to the server as it stops), then the server; SIGKILL after a grace time."""
        for name in ("worker", "server"):
            proc = self.procs.pop(name, None)
            if proc is not None:
                _stop_group(proc)


def _stop_group(proc: subprocess.Popen[bytes], grace: float = 15) -> None:
    """Stop the process group led by ``proc`` (started with ``start_new_session=True``)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):  # the leader and what it left in its group (flow runs)
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(stack: Stack) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if stack.procs["server"].poll() is not None:
            pytest.fail(f"prefect server exited with {stack.procs['server'].returncode}\n{stack.log('server')}")
        try:
            with urllib.request.urlopen(f"{stack.api_url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    pytest.fail(f"prefect server not healthy after {STARTUP_SECONDS} s\n{stack.log('server')}")


def _prefect_env(home: Path, api_url: str) -> dict[str, str]:
    """This process's environment without any PREFECT_* setting, then only ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_API_URL=api_url,
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_WORKER_QUERY_SECONDS="1",  # the worker polls every second (default 10)
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    stack = Stack(api_url=api_url, env=_prefect_env(home, api_url), logs=home)
    try:
        stack.start("server", "server", "start", "--host", "127.0.0.1", "--port", str(port),
                    "--no-ui", "--no-scheduler", "--analytics-off", cwd=home)
        _wait_healthy(stack)
        stack.cli("work-pool", "create", POOL, "--type", "process", cwd=home)
        # As docs/prefect.md: from the project root, which `{{ $PWD }}` in prefect.yaml records.
        stack.cli("deploy", "--no-prompt", "--name", "accesslake-nightly", cwd=REPO, extra={"PWD": str(REPO)})
        stack.start("worker", "worker", "start", "--pool", POOL, "--type", "process", "--install-policy", "never",
                    cwd=home)
        yield stack
    finally:
        stack.stop()


def _write_landing(lake: Path) -> None:
    """A late archive (9 days old) and last night's log with one line that does not parse."""
    def line(ip: str, ts: datetime, path: str) -> str:
        return (f'{ip} - - [{ts:%d/%b/%Y:%H:%M:%S +0000}] "GET {path} HTTP/1.1" 200 512 '
                f'"https://ref.example.org/" "{AGENT}"')

    landing = lake / "landing"
    landing.mkdir(parents=True)
    old = [line(f"203.0.113.{i}", NOW - timedelta(days=9, minutes=i), f"/old/{i}") for i in range(3)]
    new = [line(f"198.51.100.{i}", NOW - timedelta(hours=5, minutes=i), f"/new/{i}") for i in range(4)]
    (landing / "old.log").write_text("\n".join(old) + "\n", encoding="utf-8")
    (landing / "recent.log").write_text("\n".join([*new, "garbage"]) + "\n", encoding="utf-8")


def test_deployment_from_prefect_yaml(stack: Stack) -> None:
    with temporary_settings(updates={PREFECT_API_URL: stack.api_url}), get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(DEPLOYMENT)
    assert deployment.entrypoint == "flows/nightly.py:nightly"
    assert deployment.work_pool_name == POOL
    assert deployment.parameters == {"lake": "data/lake"}
    (schedule,) = deployment.schedules
    assert isinstance(schedule.schedule, CronSchedule)
    assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == (
        "30 2 * * *", "Europe/Berlin", True)
    assert deployment.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}]


def test_worker_runs_the_nightly_deployment(stack: Stack, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    _write_landing(lake)

    with temporary_settings(updates={PREFECT_API_URL: stack.api_url}):
        run = run_deployment(DEPLOYMENT, parameters={"lake": str(lake), "now": NOW.isoformat()},
                             timeout=RUN_SECONDS, poll_interval=1, as_subflow=False)
        assert isinstance(run, FlowRun)
        with get_client(sync_client=True) as client:
            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])))

    assert run.state is not None and run.state.is_completed(), (
        f"flow run ended {run.state!r}\n{stack.log('worker')}\n{stack.log('server', 20)}")
    rows = lakefs.read_dataset(Layout(lake).requests, REQUEST_SCHEMA).collect().sort("path")
    assert rows.height == 7
    assert rows.filter(pl.col("path").str.starts_with("/old/"))["client_ip"].to_list() == [None] * 3
    assert rows.filter(pl.col("path").str.starts_with("/new/"))["client_ip"].to_list() == [
        f"198.51.100.{i}" for i in range(4)]
    assert sorted(p.name for p in (lake / "landing").iterdir()) == ["recent.log"]  # the archive was deleted
    assert auditlog.read_events(lake, "audit")[-1]["ok"] is True
    (artifact,) = artifacts
    assert "**audit passed" in str(artifact.data)
