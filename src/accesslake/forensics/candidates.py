"""Abuse detection: candidates for an incident hold, found in the un-anonymised requests.

:func:`detect` runs the SQL model ``sql/forensics/abuse_candidates.sql`` once
per site and UTC day over ``requests/`` (rows whose IP is still there and that
are not yet past ``anonymize_after``) with the thresholds of the policy's
``[detect]`` section, and writes the result to::

    <lake>/forensics/abuse_candidates/site=<site>/date=<day>/part-0.parquet

one row per candidate (client, site, day): scanners, brute-force logins,
floods, injection payloads, odd methods, form abuse and credential probes (see
``docs/forensics.md``). The model reads temp tables built first, in order, from
``sql/forensics/``: ``day_requests`` (the day's rows still personal and in
time), ``day_paths`` (their paths classified), ``form_abuse`` and
``credential_probes`` (the two families' measures per client). The
files hold IP addresses, so folders are 0700 and files 0600, written
atomically; a day without candidates has no file (a stale one is removed).

Retention: a candidate is personal data for as long as the rows it was built
from. Its ``oldest_at`` is the earliest ``least(ts, received_at)`` of those
rows, so its deadline (rule T3) is ``oldest_at + max_age``.
:func:`expire_candidates` (for the nightly ``anonymize``) deletes candidates
from ``oldest_at + anonymize_after`` on; :func:`candidate_violations` (for the
audit) reports any candidate still there past ``oldest_at + max_age`` and any
file or folder readable by group or others. Opening a hold from a candidate
(:func:`hold_from_candidate`) copies its IP into the hold's scope; the held
rows, not the candidate, are the evidence, so the candidate expires as usual.

The caller holds the writer lock (:func:`accesslake.storage.writer_lock`) for
:func:`detect` and :func:`expire_candidates`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import duckdb
import polars as pl

from accesslake import holds, storage
from accesslake.config import Settings
from accesslake.errors import AccesslakeError, HoldError
from accesslake.policy import Policy
from accesslake.schema import CANDIDATE_SCHEMA, conform
from accesslake.sqlfiles import query, read_sql
from accesslake.storage import LakePath, Layout, auditlog
from accesslake.storage.duck import pipeline_spill, with_more_memory

__all__ = [
    "CANDIDATE_SCHEMA",
    "KINDS",
    "DetectResult",
    "candidates_root",
    "detect",
    "hold_from_candidate",
    "read_candidates",
]

MODEL = "forensics/abuse_candidates"
#: The temp tables the model reads, built in this order from sql/forensics/<name>.sql.
INPUTS = ("day_requests", "day_paths", "form_abuse", "credential_probes")
KINDS = ("bruteforce", "credential_probe", "flood", "form_abuse", "injection", "odd_method", "scanner")



def candidates_root(lake: LakePath) -> LakePath:
    """``<lake>/forensics/abuse_candidates``."""
    return Layout(lake).candidates


@dataclass
class DetectResult:
    """What one detection run found and wrote."""

    now: str
    partitions: list[str] = field(default_factory=list)  # "site/day" examined
    count_candidates: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # candidate files written
    removed: list[str] = field(default_factory=list)  # stale candidate files removed
    candidates: list[dict[str, Any]] = field(default_factory=list)  # id, site, day, ip, kinds, score

    def lines(self, *, with_ips: bool = True) -> list[str]:
        """Human-readable summary; ``with_ips=False`` for anything stored outside the lake
        (Prefect logs and artifacts live in Prefect's database, which retention never reaches)."""
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.by_kind.items())) or "none"
        out = [
            f"{self.count_candidates} abuse candidates in {len(self.partitions)} site-days ({kinds})",
        ]
        for c in self.candidates:
            ip = f"{c['client_ip']:<39}  " if with_ips else ""
            out.append(
                f"  {c['candidate_id']}  {c['site']} {c['day']}  {ip}score {c['score']:>5.2f}  {', '.join(c['kinds'])}"
            )
        return out


def _params(policy: Policy) -> dict[str, Any]:
    return {
        "scanner_min_probe_paths": policy.detect_scanner_min_probe_paths,
        "scanner_min_404_paths": policy.detect_scanner_min_404_paths,
        "scanner_min_404_share": float(policy.detect_scanner_min_404_share),
        "bruteforce_min_posts": policy.detect_bruteforce_min_posts,
        "bruteforce_min_auth_failures": policy.detect_bruteforce_min_auth_failures,
        "flood_min_per_minute": policy.detect_flood_min_per_minute,
        "flood_factor": float(policy.detect_flood_factor),
        "injection_min_requests": policy.detect_injection_min_requests,
        "odd_method_min_requests": policy.detect_odd_method_min_requests,
        "form_min_posts": policy.detect_form_min_posts,
        "form_factor": float(policy.detect_form_factor),
        "form_max_fill_seconds": float(policy.detect_form_max_fill_seconds),
        "form_min_fast_posts": policy.detect_form_min_fast_posts,
        "credential_min_requests": policy.detect_credential_min_requests,
    }


def _bound(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters the model ``name`` uses outside its comment lines (DuckDB refuses unused ones)."""
    code = re.sub(r"^\s*--.*$", "", read_sql(name), flags=re.MULTILINE)
    used = set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", code))
    return {key: value for key, value in params.items() if key in used}


def _run_day(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> pl.DataFrame:
    """The model over one site and day: its input tables first (:data:`INPUTS`), then the candidates."""
    for table in INPUTS:
        name = f"forensics/{table}"
        con.execute(f"create or replace temp table {table} as {read_sql(name)}", _bound(name, params)).fetchall()
    try:
        return query(MODEL, _bound(MODEL, params), con)
    finally:
        for table in reversed(INPUTS):
            con.execute(f"drop table if exists {table}").fetchall()


def _target(lake: LakePath, site: str, day: date) -> LakePath:
    return storage.partition_dir(candidates_root(lake), site, day) / "part-0.parquet"


def detect(settings: Settings, now: datetime, day: date | None = None, site: str | None = None) -> DetectResult:
    """Find abuse candidates for ``day`` (default: every day with fresh personal rows).

    Only rows of ``requests/`` that still carry their IP and are not past
    ``anonymize_after`` at ``now`` are read. Re-running replaces the day's file;
    candidate ids are stable (hash of site, day and IP).
    """
    lake = settings.lake
    policy = settings.policy
    if site is not None:
        storage.check_site(site)
    cutoff = now - policy.anonymize_after
    result = DetectResult(now=now.isoformat())
    partitions = [
        p
        for p in storage.list_partitions(Layout(lake).requests)
        if (site is None or p.site == site)
        and (p.day == day if day is not None else datetime.combine(p.day + timedelta(days=1), time(), UTC) > cutoff)
    ]
    params = _params(policy)
    written: list[dict[str, Any]] = []
    con = storage.connect(lake, spill=pipeline_spill(lake))  # under the writer lock: the pipeline's memory limit
    try:
        con.execute("set TimeZone = 'UTC'").fetchall()
        for part in partitions:
            stored = part.files()
            if not stored:
                continue
            result.partitions.append(f"{part.site}/{part.day.isoformat()}")
            try:
                with storage.local_copies(lake, stored, f"detect-{part.site}-{part.day.isoformat()}") as files:
                    day_params = {**params, "files": [str(p) for p in files], "site": part.site, "day": part.day,
                                  "now": now, "cutoff": cutoff}
                    found = with_more_memory(con, functools.partial(_run_day, con, day_params))
            except duckdb.Error as exc:
                raise AccesslakeError(f"sql/{MODEL}.sql: detection failed on {part.path}: {exc}") from exc
            frame = _conform(found)
            target = _target(lake, part.site, part.day)
            if frame.height:
                storage.make_private(Layout(lake).forensics, target.parent)
                storage.write_parquet_atomic(frame, target, private=True)
                result.files.append(str(target))
                written.append({"file": storage.relative(target, lake), "rows": frame.height,
                                "sha256": storage.sha256_file(target)})
                summary = frame.select("candidate_id", "site", "day", "client_ip", "kinds", "score")
                result.candidates += summary.to_dicts()
                for kinds in frame["kinds"].to_list():
                    for kind in kinds:
                        result.by_kind[kind] = result.by_kind.get(kind, 0) + 1
            elif target.exists():
                storage.remove_file(target)
                result.removed.append(str(target))
    finally:
        con.close()
    result.count_candidates = len(result.candidates)
    result.candidates.sort(key=lambda c: (-c["score"], c["site"], str(c["day"]), c["client_ip"]))
    auditlog.append_event(
        lake, "detect", now, site=site, day=day.isoformat() if day else None, partitions=len(result.partitions),
        candidates=result.count_candidates, by_kind=result.by_kind, files=written, removed=len(result.removed),
    )
    return result


def _conform(frame: pl.DataFrame) -> pl.DataFrame:
    """The stored columns in order; candidates written before a column existed read it as NULL."""
    return conform(frame, CANDIDATE_SCHEMA)


def read_candidates(lake: LakePath, *, site: str | None = None, day: date | None = None) -> pl.DataFrame:
    """Every stored candidate (optionally of one site and/or day), best score first."""
    frames = [storage.read_parquet(p) for p in storage.list_files(candidates_root(lake))]
    if not frames:
        return pl.DataFrame(schema=CANDIDATE_SCHEMA)
    frame = pl.concat([_conform(f) for f in frames], how="vertical")
    if site is not None:
        frame = frame.filter(pl.col("site") == site)
    if day is not None:
        frame = frame.filter(pl.col("day") == day)
    return frame.sort(["day", "score", "client_ip"], descending=[True, True, False])


def hold_from_candidate(
    settings: Settings,
    candidate_id: str,
    *,
    case_reference: str,
    purpose: str,
    legal_basis: Iterable[str] | str,
    authorized_by: str,
    now: datetime,
    review_days: int | None = None,
    confirm_broad: str | None = None,
) -> holds.Hold:
    """Open an incident hold on a candidate's IP for its whole UTC day.

    The scope is the candidate's client IP and the window ``[day 00:00, day+1
    00:00)`` UTC (its first..last seen, widened to the day); the hold records
    the candidate id as ``source_candidate``.
    """
    found = read_candidates(settings.lake).filter(pl.col("candidate_id") == candidate_id)
    if not found.height:
        raise HoldError(
            f"unknown abuse candidate {candidate_id!r}; list them with `accesslake detect --list` "
            "(candidates are deleted once their requests pass anonymize_after)"
        )
    row = found.row(0, named=True)
    start = datetime.combine(row["day"], time(), UTC)
    try:
        scope = holds.Scope(start=start, end=start + timedelta(days=1), ips=(row["client_ip"],))
    except HoldError as exc:
        raise HoldError(
            f"candidate {candidate_id}: its client {row['client_ip']!r} cannot be a hold scope ({exc}); "
            "open a hold with `accesslake incident open` and --path or --user-agent instead"
        ) from exc
    return holds.open_hold(
        settings.lake,
        case_reference=case_reference,
        scope=scope,
        purpose=purpose,
        legal_basis=legal_basis,
        authorized_by=authorized_by,
        now=now,
        review_days=review_days,
        max_review_days=settings.policy.max_review_days,
        source_candidate=candidate_id,
        confirm_broad=confirm_broad,
    )
