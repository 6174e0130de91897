"""The session's real S3 server (SeaweedFS on loopback): plain object I/O and conditional create."""

from __future__ import annotations

import pytest
import s3fs

pytestmark = pytest.mark.integration


def test_write_and_read_back(s3_lake: str) -> None:
    fs = s3fs.S3FileSystem()  # endpoint and keys come from the AWS_* variables the fixture set
    path = f"{s3_lake.removeprefix('s3://')}/hello/world.txt"
    fs.pipe_file(path, b"hello, lake")
    assert fs.cat_file(path) == b"hello, lake"
    assert fs.ls(f"{s3_lake}/hello", detail=False) == [path]


def test_conditional_create(s3_lake: str) -> None:
    fs = s3fs.S3FileSystem()
    lock = f"{s3_lake.removeprefix('s3://')}/x/lock"
    fs.pipe_file(lock, b"1", mode="create")
    with pytest.raises((OSError, FileExistsError)):
        fs.pipe_file(lock, b"2", mode="create")
    assert fs.cat_file(lock) == b"1"
