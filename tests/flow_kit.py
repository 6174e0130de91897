"""Shared by the flow tests on a folder and on S3: a lake with yesterday's nightly in it and tonight's files."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from accesslake import storage as lakefs
from accesslake.config import Settings
from accesslake.pipeline import run_nightly
from accesslake.policy import Policy
from accesslake.schema import REQUEST_SCHEMA
from accesslake.storage import Layout

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def combined(ip: str, ts: datetime, path: str) -> str:
    """One Apache ``combined`` line with every personal field set."""
    return (f'{ip} - - [{ts:%d/%b/%Y:%H:%M:%S +0000}] "GET {path}?q=secret HTTP/1.1" 200 512 '
            f'"https://ref.example.org/page?utm=1" "{AGENT}"')


def log_text(name: str, start: datetime, lines: int, step: timedelta = timedelta(minutes=7)) -> str:
    return "".join(combined(f"198.51.100.{i % 50}", start + i * step, f"/{name}/{i}.html") + "\n"
                   for i in range(lines))


def starting_lake(lake: Path) -> None:
    """A lake with yesterday's nightly run in it; landing/ holds tonight's files.

    ``a.log`` and ``copy-of-a.log.gz`` are one file under two names (same
    first line, one gzipped); ``late.log`` holds rows 9 days old (anonymised
    on write) and rows of a day already built (its marts are rebuilt);
    ``b.log`` and ``c.log`` spread over the last three days.
    """
    landing = lake / "landing"
    landing.mkdir(parents=True)
    (landing / "earlier.log").write_text(log_text("earlier", NOW - timedelta(days=2), 60), encoding="utf-8")
    run_nightly(Settings(lake=lake, policy=Policy()), NOW - timedelta(days=1))

    a = log_text("a", NOW - timedelta(hours=20), 120)
    (landing / "a.log").write_text(a, encoding="utf-8")
    (landing / "copy-of-a.log.gz").write_bytes(gzip.compress(a.encode()))
    (landing / "b.log").write_text(log_text("b", NOW - timedelta(days=3), 200, timedelta(minutes=20)),
                                   encoding="utf-8")
    (landing / "c.log").write_text(log_text("c", NOW - timedelta(hours=30), 90) + "not a log line\n",
                                   encoding="utf-8")
    (landing / "late.log").write_text(log_text("late", NOW - timedelta(days=9), 40)
                                      + log_text("late-yesterday", NOW - timedelta(days=2, hours=-1), 30),
                                      encoding="utf-8")


def requests(lake: Path) -> pl.DataFrame:
    """Every stored request by row_id, with the source file by name (the lakes' folders differ)."""
    frame = lakefs.read_dataset(Layout(lake).requests, REQUEST_SCHEMA).collect()
    return frame.with_columns(pl.col("source_file").str.extract(r"([^/]+)$")).sort("row_id")


def without_lake(summary: dict[str, Any], lake: Path) -> Any:
    """The summary with the lake's path replaced; the audit log's head differs between lakes (it hashes
    the events, which name files by path) and is left out."""
    out = json.loads(json.dumps(summary, default=str).replace(str(lake), "<lake>"))
    if out.get("audit"):
        out["audit"].pop("log_head", None)
    return out


def reads_split(summary: dict[str, Any]) -> dict[str, Any]:
    """Take out of ``summary`` (as :func:`without_lake` gives it) how many files the audit and retention read
    and skipped as verified, and return them. A lake copied elsewhere (a folder to S3) reads files the
    original skips: the manifest's records name a modification time where S3 gives an ETag."""
    audit, anonymized = summary.get("audit") or {}, summary.get("anonymized") or {}
    return {"audit": audit.pop("files_read", 0) + audit.pop("files_skipped", 0),
            "anonymized": anonymized.pop("files_checked", 0) + anonymized.pop("files_skipped", 0)}
