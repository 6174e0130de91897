"""Helpers shared by the retention tests: generated logs, holds, and reading every store back.

Not a test module: ``test_anonymize``, ``test_audit``, ``test_faults`` and
``test_stateful`` import it. The generated logs use an Apache ``LogFormat``
that also logs a session cookie, so every personal column (client IP, remote
user, session id, query, referrer path, raw user agent) has a value to lose.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from accesslake import holds, ingest
from accesslake import storage as lakefs
from accesslake.config import Settings
from accesslake.schema import REJECT_SCHEMA, REQUEST_SCHEMA
from accesslake.storage import Layout

SID_FORMAT = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" "%{sid}C"'
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
PERSONAL = ("client_ip", "session_id", "remote_user", "forwarded_for")
IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
ORIGIN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@]*$")


@dataclass(frozen=True)
class Hit:
    """One generated request; every personal field set by default."""

    ts: datetime
    ip: str = "198.51.100.1"
    path: str = "/index.html"
    query: str | None = "q=secret"
    user: str = "alice"
    session: str = "sid-0001"
    referrer: str = "https://ref.example.org/some/page?utm=1"
    ua: str = FIREFOX
    status: int = 200

    def line(self) -> str:
        when = self.ts.strftime("%d/%b/%Y:%H:%M:%S +0000")
        target = self.path + (f"?{self.query}" if self.query else "")
        return (
            f'{self.ip} - {self.user} [{when}] "GET {target} HTTP/1.1" {self.status} 512 '
            f'"{self.referrer}" "{self.ua}" "{self.session}"'
        )


def write_log(path: Path, hits: list[Hit], junk: list[str] = ()) -> Path:  # type: ignore[assignment]
    """Write ``hits`` (then the ``junk`` lines, which will be rejected) as one log file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [h.line() for h in hits] + list(junk)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def ingest_hits(
    settings: Settings, path: Path, hits: list[Hit], now: datetime, junk: list[str] = ()  # type: ignore[assignment]
) -> ingest.IngestResult:
    """Write a generated log and ingest it at ``now`` (lock held, as the CLI does)."""
    write_log(path, hits, junk)
    with lakefs.writer_lock(settings.lake):
        return ingest.ingest_file(path, settings, now, fmt=SID_FORMAT)


def ingest_day(settings: Settings, folder: Path, first: datetime, day: int) -> None:
    """Day ``day`` after ``first`` (four requests, one line that does not parse), ingested the night after."""
    start = first + timedelta(days=day)
    hits = [Hit(start + timedelta(hours=h), ip=f"198.51.100.{day * 10 + h}", session=f"sid-{day}-{h}")
            for h in range(4)]
    ingest_hits(settings, folder / f"access-{day}.log", hits, start + timedelta(days=1, hours=1),
                junk=[f"192.0.2.{day} junk line"])


def open_hold(
    lake: Path, now: datetime, *, ips: tuple[str, ...] = (), start: datetime, end: datetime,
    review_days: int | None = None, **narrow: tuple[str, ...],
) -> holds.Hold:
    scope = holds.Scope(start=start, end=end, ips=ips, **narrow)
    return holds.open_hold(
        lake, case_reference="CASE-1", scope=scope, purpose="credential stuffing",
        legal_basis=("6-1-f",), authorized_by="dpo@example.org", now=now, review_days=review_days,
    )


# ---------------------------------------------------------------- reading the stores back


def _read(files: list[Path], schema: pl.Schema, **extra: str | None) -> pl.DataFrame:
    frames = [lakefs.read_parquet(f).with_columns(pl.lit(str(f)).alias("_file")) for f in files]
    frame = pl.concat(frames) if frames else pl.DataFrame(schema={**schema, "_file": pl.String})
    return frame.with_columns(*(pl.lit(v, pl.String).alias(k) for k, v in extra.items()))


def main_rows(lake: Path) -> pl.DataFrame:
    """Every row of requests/ (with ``_file``)."""
    return _read(lakefs.list_files(Layout(lake).requests), REQUEST_SCHEMA)


def held_rows(lake: Path) -> pl.DataFrame:
    """Every row of held/ (with ``_file`` and ``incident``)."""
    frames = [
        _read(part.files(), REQUEST_SCHEMA, incident=part.incident)
        for part in lakefs.list_partitions(Layout(lake).held)
    ]
    frames = [f for f in frames if f.height]
    if not frames:
        return _read([], REQUEST_SCHEMA, incident=None)
    return pl.concat(frames)


def reject_rows(lake: Path) -> pl.DataFrame:
    return _read(lakefs.list_files(Layout(lake).rejects), REJECT_SCHEMA)


def snapshot(lake: Path) -> Counter[tuple[object, ...]]:
    """The lake's content as a multiset: (store, incident, every column of the row); file names ignored.

    A multiset, so a duplicated row makes two snapshots differ.
    """
    out: Counter[tuple[object, ...]] = Counter()
    for row in main_rows(lake).drop("_file").iter_rows():
        out[("requests", None, *row)] += 1
    held = held_rows(lake)
    for row in held.select(["incident", *REQUEST_SCHEMA.names()]).iter_rows():
        out[("held", *row)] += 1
    for row in reject_rows(lake).drop("_file").iter_rows():
        out[("rejects", None, *row)] += 1
    return out


def row_count(lake: Path) -> int:
    return main_rows(lake).height + held_rows(lake).height


def copy_lake(source: Path, storage: str, where: Path, s3_lake: str | None = None) -> Path:
    """A copy of the local lake ``source``: a folder under ``where``, or the S3 prefix ``s3_lake``."""
    if storage == "s3":
        assert s3_lake is not None
        lake = lakefs.lake_root(s3_lake)
        for path in sorted(source.rglob("*")):
            if path.is_file():
                lakefs.write_bytes_atomic(lake / path.relative_to(source).as_posix(), path.read_bytes())
        return lake
    lake = where / "lake"
    shutil.copytree(source, lake)
    return lake


def tree(lake: Path) -> dict[str, tuple[int, str]]:
    """Every file and folder under ``lake``: relative path -> (mode, SHA-256 of the content)."""
    out: dict[str, tuple[int, str]] = {}
    for path in sorted(lake.rglob("*")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        out[str(path.relative_to(lake))] = (path.stat().st_mode, digest)
    return out


def leftovers(lake: Path) -> list[Path]:
    """Temporary files, staging and journals that must not outlive a run."""
    found = [p for p in lake.rglob("*") if p.is_file() and (p.name.endswith(".tmp") or "_tmp" in p.parts)]
    for folder in ("journal", "pending"):
        found += lakefs.list_files(lake / "ledger" / folder, "", hidden=True)
    return found


def personal_past_deadline(lake: Path, now: datetime, max_age_hours: float, active: set[str]) -> pl.DataFrame:
    """Independent P1 check (no SQL, no policy module): rows with personal data past the deadline.

    A row is exempt only when it sits in held/ under a hold id in ``active``.
    """
    limit = timedelta(hours=max_age_hours)
    frames = [main_rows(lake).with_columns(pl.lit(None, pl.String).alias("incident")), held_rows(lake)]
    rows = pl.concat([f.select(["incident", "_file", *REQUEST_SCHEMA.names()]) for f in frames])
    bad = []
    for row in rows.iter_rows(named=True):
        if row["incident"] in active:
            continue
        times = [t for t in (row["ts"], row["received_at"]) if t is not None]
        personal = (
            any(row[c] is not None for c in PERSONAL)
            or row["user_agent"] is not None
            or row["query"] is not None
            or (row["referrer"] is not None and not ORIGIN.match(row["referrer"]))
        )
        if personal and min(times) + limit < now:
            bad.append(row)
    return pl.DataFrame(bad, schema=rows.schema) if bad else rows.clear()


def ip_like(text: str) -> bool:
    """True when ``text`` still holds an IPv4 or IPv6 address token."""
    if IPV4.search(text):
        return True
    for token in re.findall(r"[0-9A-Fa-f:.]{2,}", text):
        try:
            ipaddress.IPv6Address(token)
            return True
        except ValueError:
            continue
    return False
