"""Object-store access errors reach the user as one line saying what to check, never as an internal error."""

from __future__ import annotations

from pathlib import Path

import pytest

from accesslake.cli import main
from accesslake.storage.s3 import describe_error


class NoCredentialsError(Exception):
    """Stands in for botocore's class of the same name (matched by name, as botocore is optional here)."""


class ClientError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}}


def test_known_errors_are_described_through_their_causes() -> None:
    try:
        try:
            raise NoCredentialsError("Unable to locate credentials")
        except NoCredentialsError as inner:
            raise OSError("listing failed") from inner
    except OSError as outer:
        assert describe_error(outer) == "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY " \
                                        "(NoCredentialsError)"
    assert "no such bucket" in (describe_error(ClientError("NoSuchBucket")) or "")
    assert describe_error(ValueError("something else")) is None


def test_an_s3_lake_without_credentials_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookup
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    code = main(["--lake", "s3://nobucket/lake", "--wait", "0", "audit"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == "accesslake: error: --lake s3://nobucket/lake: no credentials: set AWS_ACCESS_KEY_ID and " \
                  "AWS_SECRET_ACCESS_KEY (NoCredentialsError)\n"


def test_a_lake_path_carries_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Paths travel pickled (Dask workers, Prefect): the keys stay in the environment, not in the path."""
    import pickle

    from accesslake.storage import lake_root

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEONLY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-that-must-not-travel")
    data = pickle.dumps(lake_root("s3://bucket/lake") / "requests")
    assert b"secret-that-must-not-travel" not in data and b"AKIDEXAMPLEONLY" not in data
