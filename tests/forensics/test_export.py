"""Evidence export (rule D1): folder, manifest, disclosure record, verification."""

from __future__ import annotations

import hashlib
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from accesslake import __version__, holds
from accesslake import storage as lakefs
from accesslake.config import Settings
from accesslake.errors import ExportError
from accesslake.forensics import candidates, export
from accesslake.forensics import views as forensics
from accesslake.forensics.verify import verify_export
from accesslake.schema import REQUEST_SCHEMA, conform
from accesslake.storage.auditlog import read_events, verify_chain

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
T0 = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
ATTACKER = "203.0.113.7"


def make_rows(*specs: dict[str, object]) -> pl.DataFrame:
    base: dict[str, object] = {
        "ts": T0, "client_ip": ATTACKER, "method": "GET", "path": "/", "status": 200, "bytes": 100,
        "user_agent": "sqlmap/1.8", "received_at": NOW - timedelta(hours=1), "source_file": "a.log",
    }
    frame = pl.DataFrame(
        [{**base, "row_id": f"k:{i}", "source_line": i, **spec} for i, spec in enumerate(specs, start=1)],
        infer_schema_length=None,
    )
    return conform(frame, REQUEST_SCHEMA)


def store(lake: Path, frame: pl.DataFrame, incident: str | None = None) -> None:
    root = lake / ('held' if incident else 'requests')
    for (day,), part in frame.with_columns(pl.col("ts").dt.date().alias("_d")).partition_by("_d", as_dict=True).items():
        path = lakefs.partition_dir(root, "shop", day, incident) / "part-t.parquet"
        lakefs.write_parquet_atomic(part.drop("_d"), path, private=incident is not None)


def open_hold(lake: Path, **scope: object) -> holds.Hold:
    window = {"start": T0 - timedelta(days=2), "end": T0 + timedelta(hours=2), "ips": (ATTACKER,)}
    return holds.open_hold(lake, case_reference="LKA-2026-17", scope=holds.Scope(**{**window, **scope}),  # type: ignore[arg-type]
                           purpose="intrusion attempt", legal_basis=("6-1-f",), authorized_by="dpo",
                           now=NOW - timedelta(hours=2))


@pytest.fixture
def hold(settings: Settings) -> holds.Hold:
    """An active hold on ATTACKER: one row already in held/, two still in requests/, others not."""
    hold = open_hold(settings.lake)
    store(settings.lake, make_rows({"row_id": "held-1", "ts": T0 - timedelta(days=1), "session_id": "s1",
                                    "query": "id=1%27%20OR%201%3D1--"}), incident=hold.id)
    store(settings.lake, make_rows(
        {"row_id": "main-1", "ts": T0, "path": "/.env", "status": 404},
        {"row_id": "main-2", "ts": T0 + timedelta(minutes=1), "path": "/login", "method": "POST"},
        {"row_id": "other-ip", "client_ip": "192.0.2.50"},
        {"row_id": "outside-window", "ts": T0 + timedelta(hours=3)},
        {"row_id": "anonymised", "client_ip": None, "anonymized_at": NOW - timedelta(hours=1)},
    ))
    return hold


def run_export(settings: Settings, hold_id: str, out: Path, **overrides: object) -> export.ExportResult:
    args: dict[str, object] = {"recipient": "LKA Berlin, Dezernat 7", "reference": "Az. 7-2026-123",
                               "legal_basis": "§ 161 StPO", "operator": "alice", "approver": "dpo", "now": NOW}
    args.update(overrides)
    return export.export_incident(settings, hold_id, out, **args)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the export


def test_export_writes_the_holds_rows_with_a_manifest(settings: Settings, hold: holds.Hold, tmp_path: Path) -> None:
    out = tmp_path / "evidence"
    result = run_export(settings, hold.id, out)

    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "manifest.json.sha256", "requests.csv",
                                                     "requests.parquet"]
    data = pl.read_parquet(out / "requests.parquet")
    assert data["row_id"].to_list() == ["held-1", "main-1", "main-2"]
    assert data["source"].to_list() == ["held", "requests", "requests"]
    assert data.columns == export.EXPORT_COLUMNS
    csv = pl.read_csv(out / "requests.csv", infer_schema=False)
    assert csv["row_id"].to_list() == data["row_id"].to_list()
    assert csv["ts"][0] == "2026-11-27T14:00:00.000000Z"

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["export_id"] == result.export_id and result.export_id.startswith("EXP-20261129-")
    assert (manifest["hold_id"], manifest["case_reference"]) == (hold.id, "LKA-2026-17")
    assert manifest["filter"]["scope"] == hold.scope.to_dict()
    assert manifest["tool"] == {"name": "accesslake", "version": __version__}
    assert (manifest["operator"], manifest["approver"], manifest["created_at"]) == ("alice", "dpo", NOW.isoformat())
    assert manifest["row_count"] == 3
    for entry in manifest["files"]:
        path = out / entry["name"]
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert (entry["size_bytes"], entry["row_count"]) == (path.stat().st_size, 3)
    digest = hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
    assert (out / "manifest.json.sha256").read_text() == f"{digest}  manifest.json\n"  # sha256sum -c format
    assert result.manifest_sha256 == digest


def test_export_is_private(settings: Settings, hold: holds.Hold, tmp_path: Path) -> None:
    out = tmp_path / "evidence"
    run_export(settings, hold.id, out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {0o600}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evidence", "lake"]  # no staging left behind


def test_export_records_the_disclosure(settings: Settings, hold: holds.Hold, tmp_path: Path) -> None:
    result = run_export(settings, hold.id, tmp_path / "evidence", legal_basis=["§ 161 StPO", "Art. 6(1)(c) GDPR"])

    (record,) = export.read_disclosures(settings.lake)
    assert record == {
        "export_id": result.export_id, "hold_id": hold.id, "case_reference": "LKA-2026-17",
        "recipient": "LKA Berlin, Dezernat 7", "reference": "Az. 7-2026-123",
        "legal_basis": ["§ 161 StPO", "Art. 6(1)(c) GDPR"],
        "data_categories": ["request metadata (time, method, path, status, size)", "IP addresses",
                            "session identifiers (cookies)", "user-agent strings", "query strings"],
        "approver": "dpo", "operator": "alice", "date": NOW.isoformat(), "row_count": 3,
        "manifest_sha256": result.manifest_sha256,
    }
    assert stat.S_IMODE(export.disclosures_path(settings.lake).stat().st_mode) == 0o600
    (event,) = read_events(settings.lake, "export")
    assert (event["export_id"], event["hold_id"], event["rows"]) == (result.export_id, hold.id, 3)
    assert event["manifest_sha256"] == result.manifest_sha256
    assert ATTACKER not in json.dumps(event)
    assert verify_chain(settings.lake) == []


def test_export_into_an_existing_empty_folder(settings: Settings, hold: holds.Hold, tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    run_export(settings, hold.id, out)
    assert verify_export(out).row_count == 3


# ---------------------------------------------------------------- refusals


def test_released_hold_is_not_exported(settings: Settings, hold: holds.Hold, tmp_path: Path) -> None:
    holds.release_hold(settings.lake, hold.id, by="dpo", now=NOW - timedelta(hours=1))
    with pytest.raises(ExportError, match=f"cannot export hold {hold.id}: it was released by dpo at "):
        run_export(settings, hold.id, tmp_path / "evidence")
    assert not (tmp_path / "evidence").exists()
    assert export.read_disclosures(settings.lake) == []


def test_expired_hold_is_not_exported(settings: Settings, hold: holds.Hold, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="passed its review date .* no longer active"):
        run_export(settings, hold.id, tmp_path / "evidence", now=hold.review_at + timedelta(seconds=1))


def test_unknown_hold_is_not_exported(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="cannot export: unknown incident hold 'INC-20261129-ffff'"):
        run_export(settings, "INC-20261129-ffff", tmp_path / "evidence")
    with pytest.raises(ExportError, match="unknown incident hold 'nonsense'"):
        run_export(settings, "nonsense", tmp_path / "evidence")


def test_non_empty_folder_is_refused(settings: Settings, hold: holds.Hold, tmp_path: Path) -> None:
    out = tmp_path / "evidence"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="folder is not empty"):
        run_export(settings, hold.id, out)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(
    ("field", "value"), [("recipient", " "), ("reference", ""), ("operator", ""), ("legal_basis", []),
                         ("legal_basis", ["§ 161 StPO", ""]), ("approver", "")],
)
def test_disclosure_fields_are_required(settings: Settings, hold: holds.Hold, tmp_path: Path, field: str,
                                        value: object) -> None:
    with pytest.raises(ExportError, match="must not be empty"):
        run_export(settings, hold.id, tmp_path / "evidence", **{field: value})


# ---------------------------------------------------------------- verification


@pytest.fixture
def exported(settings: Settings, hold: holds.Hold, tmp_path: Path) -> Path:
    out = tmp_path / "evidence"
    run_export(settings, hold.id, out)
    return out


def test_untouched_export_verifies(exported: Path) -> None:
    result = verify_export(exported)
    assert (result.row_count, result.files) == (3, ["requests.csv", "requests.parquet"])


@pytest.mark.parametrize("name", ["requests.parquet", "requests.csv", "manifest.json", "manifest.json.sha256"])
@pytest.mark.parametrize("where", [0, -2])
def test_one_changed_byte_fails_verification(exported: Path, name: str, where: int) -> None:
    path = exported / name
    path.chmod(0o600)
    body = bytearray(path.read_bytes())
    body[where] = (body[where] + 1) % 256
    path.write_bytes(bytes(body))

    with pytest.raises(ExportError, match="export verification failed") as caught:
        verify_export(exported)
    assert name in str(caught.value)


@pytest.mark.parametrize("name", ["requests.parquet", "requests.csv"])
def test_missing_file_fails_verification(exported: Path, name: str) -> None:
    (exported / name).unlink()
    with pytest.raises(ExportError, match=f"{name}: listed in the manifest but missing"):
        verify_export(exported)


def test_missing_manifest_or_hash_fails_verification(exported: Path) -> None:
    (exported / "manifest.json.sha256").unlink()
    with pytest.raises(ExportError, match="manifest.json.sha256 is missing"):
        verify_export(exported)
    (exported / "manifest.json").unlink()
    with pytest.raises(ExportError, match="manifest.json is missing"):
        verify_export(exported)


def test_extra_file_fails_verification(exported: Path) -> None:
    (exported / "README.txt").write_text("added later")
    with pytest.raises(ExportError, match=r"README.txt: not in the manifest \(an extra file\)"):
        verify_export(exported)


def test_every_problem_is_listed(exported: Path) -> None:
    (exported / "requests.csv").unlink()
    (exported / "requests.parquet").write_bytes(b"not parquet")
    (exported / "extra.bin").write_bytes(b"")
    with pytest.raises(ExportError) as caught:
        verify_export(exported)
    message = str(caught.value)
    for part in ("requests.csv: listed in the manifest but missing", "requests.parquet: size 11 bytes",
                 "requests.parquet: SHA-256", "requests.parquet: cannot be read", "extra.bin: not in the manifest"):
        assert part in message


# ---------------------------------------------------------------- the whole workflow on the demo


def test_candidate_hold_export_verify_on_the_demo(tmp_path: Path) -> None:
    from accesslake.demo import loggen
    from accesslake.ingest import ingest_file

    log = loggen.generate_log(tmp_path / "access.log", now=NOW, days=1, lines=5000)
    settings = Settings(lake=tmp_path / "lake")
    ingest_file(log.path, settings, NOW, site="shop", fmt=loggen.DEMO_FORMAT, cookie=loggen.DEMO_COOKIE)
    candidates.detect(settings, NOW)
    found = candidates.read_candidates(settings.lake)
    candidate_id = found.filter(pl.col("client_ip") == log.planted.scanner_ip)["candidate_id"][0]

    hold = candidates.hold_from_candidate(settings, candidate_id, case_reference="CASE-9", purpose="scan",
                                      legal_basis="6-1-f", authorized_by="dpo", now=NOW)
    result = run_export(settings, hold.id, tmp_path / "evidence")

    timeline = forensics.run_sql(settings.lake, f"select row_id from ip_timeline('{log.planted.scanner_ip}')", NOW)
    exported = pl.read_parquet(tmp_path / "evidence" / "requests.parquet")
    assert exported["row_id"].to_list() == timeline["row_id"].to_list()
    assert result.row_count == found.filter(pl.col("candidate_id") == candidate_id)["count_requests"][0]
    assert verify_export(tmp_path / "evidence").export_id == result.export_id
