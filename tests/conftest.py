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

from accesslake.config import Settings
from accesslake.policy import Policy

REPO = Path(__file__).resolve().parents[1]
REAL_LOGS = Path(os.environ.get("ACCESSLAKE_REAL_LOGS", REPO.parent / "shared" / "data" / "real-logs"))


@pytest.fixture(scope="session")
def real_logs() -> Path:
    """The eight real access logs in ../shared/data/real-logs (never copied into the repo)."""
    if not (REAL_LOGS / "README.md").is_file():
        pytest.fail(f"real logs not found at {REAL_LOGS}; set ACCESSLAKE_REAL_LOGS")
    return REAL_LOGS


@pytest.fixture
def lake(tmp_path: Path) -> Path:
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
