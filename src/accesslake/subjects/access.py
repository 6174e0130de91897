"""The answer to a data subject's access request (Art. 15 GDPR): every stored row about them.

:func:`subject_access` writes one folder (built beside ``out_dir`` and renamed into place, 0700,
files 0600; ``sha256sum -c manifest.json.sha256`` and the listed hashes check it)::

    requests.parquet / .csv   rows of requests/ and held/ about the subject; held rows say so
                              (source "held", incident_id, case_reference, hold_active)
    rejects.parquet / .csv    rejected lines naming the subject
    candidates.parquet / .csv abuse candidates whose client is the subject
    raw_lines.parquet / .csv  lines of raw files (landing/, quarantine/) naming the subject
    manifest.json             request id, the subject, what every store gave, the files that may
                              contain the subject but cannot be searched, every file's SHA-256,
                              size and row count, tool version, time
    manifest.json.sha256      the manifest's own hash (sha256sum -c format)

The subject's own address is in the folder (it is their data); the audit log gets a
``subject.access`` line with the keyed hash of the subject (:func:`.target.subject_hash`), the
counts and the manifest hash, appended before the folder is put in place. The caller holds the
writer lock, so that no nightly run moves rows while they are read.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from accesslake import __version__, storage
from accesslake.config import Settings
from accesslake.forensics.manifest import put_in_place, staged_folder, write_manifest, write_tables
from accesslake.policy import scrub_text_expr
from accesslake.storage import auditlog
from accesslake.subjects.rawfiles import mentions
from accesslake.subjects.stores import HoldBook, candidate_rows, raw_files, reject_rows, request_rows
from accesslake.subjects.target import Subject, subject_hash

__all__ = ["AccessResult", "held_summary", "scrubbed_reason", "subject_access"]

RAW_SCHEMA = pl.Schema({"store": pl.String(), "file": pl.String(), "line_number": pl.Int64(), "line": pl.String()})


@dataclass
class AccessResult:
    """What :func:`subject_access` wrote."""

    request_id: str
    out_dir: str
    counts: dict[str, int]
    held: list[dict[str, Any]] = field(default_factory=list)
    may_contain: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    manifest_sha256: str = ""

    def lines(self) -> list[str]:
        out = [f"access request {self.request_id}: {self.counts['requests']} requests, {self.counts['rejects']} "
               f"rejected lines, {self.counts['candidates']} abuse candidates, {self.counts['raw_lines']} raw lines "
               f"-> {self.out_dir}"]
        out += [f"  {h['rows']} rows held under {h['hold_id']} ({h['case_reference']}, "
                f"{'active' if h['active'] else 'ended'})" for h in self.held]
        out += [f"  may contain the subject, cannot be searched: {m['file']} ({m['problem']}; deleted from "
                f"{m['deleted_from']})" for m in self.may_contain]
        out.append(f"  manifest.json  sha256 {self.manifest_sha256}")
        return out


def held_summary(rows: pl.DataFrame) -> list[dict[str, Any]]:
    """Per hold: its id, case reference, whether it is active, how many of the rows it keeps."""
    held = rows.filter(pl.col("source") == "held")
    summary = held.group_by("incident_id", "case_reference", "hold_active").len().sort("incident_id")
    return [{"hold_id": r["incident_id"], "case_reference": r["case_reference"], "active": bool(r["hold_active"]),
             "rows": r["len"]} for r in summary.iter_rows(named=True)]


def scrubbed_reason(text: str | None, subject: Subject) -> str | None:
    """A free-text reason as the audit log may keep it: the subject and any IP-like token replaced."""
    if text is None:
        return None
    masked = subject.masked(text, lambda _: "[subject]")
    return str(pl.select(pl.lit(masked).alias("r")).select(scrub_text_expr("r", leading_host=False)).item())


def subject_access(settings: Settings, subject: Subject, out_dir: Path, now: datetime) -> AccessResult:
    """Write every stored row and line about ``subject`` to ``out_dir`` with a manifest; audit-logged."""
    lake = settings.lake
    out_dir = Path(out_dir)
    book = HoldBook.at(lake, now)
    tables = {
        "requests": request_rows(lake, subject, book),
        "rejects": reject_rows(lake, subject),
        "candidates": candidate_rows(lake, subject),
    }
    lines: list[dict[str, Any]] = []
    may_contain: list[dict[str, Any]] = []
    for raw in raw_files(settings):
        name = storage.relative(raw.path, lake)
        if raw.raw.problem:
            may_contain.append({"store": raw.store, "file": name, "problem": raw.raw.problem,
                                "deleted_from": raw.deleted_from})
        lines += [{"store": raw.store, "file": name, "line_number": n, "line": text}
                  for n, text in mentions(raw.raw, subject)]
    tables["raw_lines"] = pl.DataFrame(lines, schema=RAW_SCHEMA)
    counts = {name: frame.height for name, frame in tables.items()}
    request_id = f"SAR-{now:%Y%m%d}-{secrets.token_hex(4)}"
    held = held_summary(tables["requests"])
    with staged_folder(out_dir, request_id) as staging:
        files = write_tables(staging, tables)
        manifest = {
            "request_id": request_id,
            "kind": "access (Art. 15 GDPR)",
            "subject": {"ip": subject.ip, "session": subject.session, "is_range": subject.is_range,
                        "confirm": subject.confirm},
            "stores": counts,
            "held": held,
            "may_contain": may_contain,
            "files": files,
            "row_count": counts["requests"],
            "tool": {"name": "accesslake", "version": __version__},
            "created_at": now.isoformat(),
            "note": "IP addresses are kept at most 168 hours unless an incident hold covers them; rows marked "
                    "held are kept for the investigation named by their case reference (Art. 17(3)(e) GDPR)",
        }
        digest = write_manifest(staging, manifest)
        auditlog.append_event(
            lake, "subject.access", now, request_id=request_id, subject=subject_hash(lake, subject),
            is_range=subject.is_range, confirm=scrubbed_reason(subject.confirm, subject), stores=counts,
            held=[{k: h[k] for k in ("hold_id", "case_reference", "rows")} for h in held],
            may_contain=len(may_contain), manifest_sha256=digest,
        )
        put_in_place(staging, out_dir)
    return AccessResult(request_id=request_id, out_dir=str(out_dir), counts=counts, held=held,
                        may_contain=may_contain, files=files, manifest_sha256=digest)
