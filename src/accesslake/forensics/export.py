"""Evidence export for an authority or a forensic firm (rule D1), and its verification.

:func:`export_incident` writes one folder for an **active** incident hold::

    <out_dir>/                      0700
      requests.parquet              the hold's rows (zstd), 0600
      requests.csv                  the same rows as CSV (UTF-8, header, ISO-8601 UTC times), 0600
      manifest.json                 export id, hold id, case reference, the filter used (the
                                    hold's scope), per file SHA-256, size and row count, tool
                                    version, operator, approver, recipient, time
      manifest.json.sha256          the manifest's own hash, ``sha256sum -c`` format

The rows are the hold's held dataset (``held/incident=<id>/``), the rows of
every other ``held/`` folder that are in the hold's scope (a row covered by
several holds is stored once, under the first hold that moved it, and belongs to
each), and the rows still in ``requests/`` that are in the hold's scope and not
yet anonymised (a hold opened on recent traffic finds them there until the
nightly run moves them), each row once by ``row_id``. The folder is built
beside ``out_dir`` and renamed into place, so it appears whole or not at all; an
``out_dir`` that exists must be empty, and one inside a local lake is refused
(evidence with IPs has no place among the lake's stores).

Exporting appends a disclosure record (recipient, request reference, legal
basis, data categories, approver, operator, date, export id, manifest hash) to
``<lake>/disclosures/disclosures.jsonl`` and an ``export`` line to the audit
log (rule D2), before the folder is put in place: no export without a record.

:func:`~accesslake.forensics.verify.verify_export` re-checks the folder against
the manifest, and the manifest against its hash kept outside the folder.

The caller holds the writer lock (:func:`accesslake.storage.writer_lock`) for
:func:`export_incident`, so that no nightly run moves rows between
``requests/`` and ``held/`` while they are read.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from accesslake import __version__, holds, storage
from accesslake.config import Settings
from accesslake.errors import ExportError, HoldError, NotFoundError
from accesslake.schema import REQUEST_SCHEMA, conform
from accesslake.storage import LakePath, Layout, auditlog

__all__ = [
    "DATA_FILES",
    "ExportResult",
    "disclosures_path",
    "export_incident",
    "read_disclosures",
]

MANIFEST = "manifest.json"
MANIFEST_HASH = "manifest.json.sha256"
DATA_FILES = ("requests.parquet", "requests.csv")
EXPORT_COLUMNS = ["source", "incident_id", "site", "date", *REQUEST_SCHEMA.names()]

# (column, category) recorded in the disclosure when any exported row has the column set
_CATEGORIES = (
    ("client_ip", "IP addresses"),
    ("session_id", "session identifiers (cookies)"),
    ("remote_user", "user names (HTTP authentication)"),
    ("forwarded_for", "forwarded-for addresses"),
    ("user_agent", "user-agent strings"),
    ("referrer", "referrers"),
    ("query", "query strings"),
)
_ALWAYS = "request metadata (time, method, path, status, size)"


def disclosures_path(lake: LakePath) -> LakePath:
    """``<lake>/disclosures/disclosures.jsonl``."""
    return Layout(lake).disclosures


@dataclass
class ExportResult:
    """What :func:`export_incident` wrote."""

    export_id: str
    hold_id: str
    case_reference: str
    out_dir: str
    row_count: int
    files: list[dict[str, Any]] = field(default_factory=list)  # name, sha256, size_bytes, row_count
    manifest_sha256: str = ""
    data_categories: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"export {self.export_id} of hold {self.hold_id} ({self.case_reference}): "
               f"{self.row_count} rows -> {self.out_dir}"]
        out += [f"  {f['name']}  {f['size_bytes']} bytes  {f['row_count']} rows  sha256 {f['sha256']}"
                for f in self.files]
        out.append(f"  manifest.json  sha256 {self.manifest_sha256}")
        out.append(f"manifest SHA-256 for the cover letter: {self.manifest_sha256} (the recipient checks the folder "
                   f"with `accesslake export verify DIR --manifest-sha256 {self.manifest_sha256}`)")
        return out


# ---------------------------------------------------------------- helpers


def _texts(values: Iterable[str] | str, option: str) -> list[str]:
    items = [values] if isinstance(values, str) else list(values)
    out = [v.strip() for v in items if isinstance(v, str) and v.strip()]
    if not out or len(out) != len(items):
        raise ExportError(f"{option}: must not be empty")
    return out


def _text(value: object, option: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ExportError(f"{option}: must not be empty")
    return value.strip()


def _active_hold(lake: LakePath, hold_id: str, now: datetime) -> holds.Hold:
    try:
        hold = holds.get_hold(lake, hold_id)
    except (HoldError, NotFoundError) as exc:
        raise ExportError(f"cannot export: {exc}") from exc
    if hold.status == "released":
        when = hold.released_at.isoformat() if hold.released_at else "?"
        raise ExportError(
            f"cannot export hold {hold_id}: it was released by {hold.released_by} at {when}; its rows are "
            "past their deadline and being anonymised. An export needs an active hold"
        )
    if not hold.is_active(now):
        if now < hold.opened_at:
            raise ExportError(f"cannot export hold {hold_id}: it opens at {hold.opened_at.isoformat()}, after --now")
        raise ExportError(
            f"cannot export hold {hold_id}: it passed its review date {hold.review_at.isoformat()} without "
            "renewal and is no longer active (rule H4). Renew it first if the case still needs the data"
        )
    return hold


def _hold_rows(lake: LakePath, hold: holds.Hold) -> pl.DataFrame:
    """The hold's held rows, the in-scope rows held for other holds, and its in-scope personal rows of requests/."""
    frames: list[pl.DataFrame] = []
    first_day, last_day = hold.scope.start.date(), hold.scope.end.date()
    in_scope = holds.scope_expr(hold.scope) & pl.col("anonymized_at").is_null()
    for source, incident, root in (("held", hold.id, Layout(lake).held), ("requests", None, Layout(lake).requests)):
        for part in storage.list_partitions(root):
            own = source == "held" and part.incident == hold.id
            if not (own or first_day <= part.day <= last_day):
                continue
            for path in part.files():
                rows = storage.read_parquet(path)
                rows = rows if own else rows.filter(in_scope)
                if rows.height:
                    frames.append(_tagged(rows, source, incident, part))
    if not frames:
        return pl.DataFrame(schema=_export_schema())
    rows = pl.concat(frames, how="vertical")
    # held first: a row is stored once (the audit checks it), but never export it twice
    return rows.unique(subset="row_id", keep="first", maintain_order=True).sort("ts", "row_id")


def _export_schema() -> pl.Schema:
    return pl.Schema(
        {"source": pl.String(), "incident_id": pl.String(), "site": pl.String(), "date": pl.Date(), **REQUEST_SCHEMA}
    )


def _tagged(frame: pl.DataFrame, source: str, incident: str | None, part: storage.Partition) -> pl.DataFrame:
    tagged = frame.with_columns(
        pl.lit(source).alias("source"),
        pl.lit(incident, dtype=pl.String).alias("incident_id"),
        pl.lit(part.site).alias("site"),
        pl.lit(part.day).alias("date"),
    )
    return conform(tagged, _export_schema())


def _write_private(path: LakePath, body: bytes) -> None:
    storage.create_bytes(path, body, private=True)


def _outside_lake(lake: LakePath, out_dir: Path) -> None:
    """Refuse an export folder inside a local lake (after resolving links): the audit allows none there."""
    local = storage.local_path(lake)
    if local is not None and out_dir.resolve().is_relative_to(local.resolve()):
        raise ExportError(f"--out: {out_dir} is inside the lake {lake}; write the evidence outside the lake "
                          "(its rows keep IPs, which no store of the lake may hold)")


def _check_out_dir(out_dir: LakePath) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir}: exists and is not a folder; name a new or empty folder for the export")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise ExportError(f"{out_dir}: folder is not empty; an export goes into a new or empty folder")


def _append_disclosure(lake: LakePath, record: dict[str, Any]) -> None:
    line = json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"
    storage.append_bytes(disclosures_path(lake), line.encode("utf-8"), private=True)


def read_disclosures(lake: LakePath) -> list[dict[str, Any]]:
    """Every disclosure record, oldest first."""
    path = disclosures_path(lake)
    if not path.exists():
        return []
    records: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise ExportError(f"{path}: line {number} is not a JSON disclosure record ({exc}); "
                              "restore the file from a backup") from exc
        if not isinstance(record, dict):
            raise ExportError(f"{path}: line {number} is not a JSON object; restore the file from a backup")
        records.append(record)
    return records


# ---------------------------------------------------------------- export


def export_incident(
    settings: Settings,
    hold_id: str,
    out_dir: LakePath,
    *,
    recipient: str,
    reference: str,
    legal_basis: Iterable[str] | str,
    operator: str,
    approver: str | None = None,
    now: datetime,
) -> ExportResult:
    """Export an active hold's rows to ``out_dir`` with a manifest; record the disclosure.

    ``recipient`` (authority or firm), ``reference`` (their request's reference),
    ``legal_basis`` (as stated in the request, free text, one or more) and
    ``operator`` (who ran the export) are required; ``approver`` is who approved
    the disclosure, when someone else did.
    """
    lake = settings.lake
    out_dir = Path(out_dir)
    recipient = _text(recipient, "--recipient")
    reference = _text(reference, "--reference")
    bases = _texts(legal_basis, "--legal-basis")
    operator = _text(operator, "--operator")
    approver = _text(approver, "--approver") if approver is not None else None
    _outside_lake(lake, out_dir)
    hold = _active_hold(lake, hold_id, now)
    _check_out_dir(out_dir)

    rows = _hold_rows(lake, hold)
    categories = [_ALWAYS] + [name for column, name in _CATEGORIES if rows[column].is_not_null().any()]
    export_id = f"EXP-{now:%Y%m%d}-{secrets.token_hex(4)}"
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.{export_id}.tmp"
    staging.mkdir(mode=0o700)
    os.chmod(staging, 0o700)
    try:
        files = _write_data(staging, rows)
        manifest = {
            "export_id": export_id,
            "hold_id": hold.id,
            "case_reference": hold.case_reference,
            "filter": {
                "hold_id": hold.id,
                "scope": hold.scope.to_dict(),
                "rows": f"held/incident={hold.id}/, the rows of held/ kept for other holds that are in the scope, "
                        "and the rows of requests/ in the scope that are not yet anonymised, each row once "
                        "(by row_id)",
            },
            "files": files,
            "row_count": rows.height,
            "columns": EXPORT_COLUMNS,
            "data_categories": categories,
            "tool": {"name": "accesslake", "version": __version__},
            "operator": operator,
            "approver": approver,
            "recipient": recipient,
            "reference": reference,
            "legal_basis": bases,
            "created_at": now.isoformat(),
        }
        body = (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
        _write_private(staging / MANIFEST, body)
        manifest_sha256 = hashlib.sha256(body).hexdigest()
        _write_private(staging / MANIFEST_HASH, f"{manifest_sha256}  {MANIFEST}\n".encode())
        storage.fsync_dir(staging)

        record = {
            "export_id": export_id,
            "hold_id": hold.id,
            "case_reference": hold.case_reference,
            "recipient": recipient,
            "reference": reference,
            "legal_basis": bases,
            "data_categories": categories,
            "approver": approver,
            "operator": operator,
            "date": now.isoformat(),
            "row_count": rows.height,
            "manifest_sha256": manifest_sha256,
        }
        _check_out_dir(out_dir)
        _append_disclosure(lake, record)
        auditlog.append_event(
            lake, "export", now, export_id=export_id, hold_id=hold.id, case_reference=hold.case_reference,
            recipient=recipient, reference=reference, rows=rows.height, files=len(files),
            manifest_sha256=manifest_sha256,
        )
        if out_dir.is_dir():
            out_dir.rmdir()  # empty (checked): the staged folder takes its place
        os.replace(staging, out_dir)
        storage.fsync_dir(out_dir.parent)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(
        export_id=export_id, hold_id=hold.id, case_reference=hold.case_reference, out_dir=str(out_dir),
        row_count=rows.height, files=files, manifest_sha256=manifest_sha256, data_categories=categories,
    )


def _write_data(folder: Path, rows: pl.DataFrame) -> list[dict[str, Any]]:
    parquet, csv = (folder / name for name in DATA_FILES)
    rows.write_parquet(parquet, compression="zstd", statistics=True)
    rows.with_columns(pl.col(pl.Datetime).dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")).write_csv(csv)
    files = []
    for path in (parquet, csv):
        os.chmod(path, 0o600)
        storage.fsync_file(path)
        files.append(
            {"name": path.name, "sha256": storage.sha256_file(path), "size_bytes": path.stat().st_size,
             "row_count": rows.height}
        )
    return files
