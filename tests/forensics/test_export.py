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


# ---------------------------------------------------------------- overlapping holds (issue 11)


def test_a_row_held_for_another_hold_is_exported_with_each(settings: Settings, hold: holds.Hold,
                                                           tmp_path: Path) -> None:
    """A row is stored once, under the first hold; every hold whose scope covers it exports it."""
    by_path = open_hold(settings.lake, ips=(), paths=("/login",))
    store(settings.lake, make_rows({"row_id": "both", "ts": T0 - timedelta(hours=5), "path": "/login"},
                                   {"row_id": "ip-only", "ts": T0 - timedelta(hours=4), "path": "/cart"}),
          incident=hold.id)
    mine = run_export(settings, hold.id, tmp_path / "by-ip")
    theirs = run_export(settings, by_path.id, tmp_path / "by-path")
    exported = {r.hold_id: pl.read_parquet(Path(r.out_dir) / "requests.parquet") for r in (mine, theirs)}
    assert "both" in exported[hold.id]["row_id"].to_list()
    other = exported[by_path.id]
    assert other["row_id"].to_list() == ["both", "main-2"]  # /login: the held row and the one still in requests/
    assert other["source"].to_list() == ["held", "requests"]
    assert other["incident_id"].to_list() == [by_path.id, None]  # held for this hold, wherever it is stored
    assert len(lakefs.list_files(settings.lake / "held")) == 2  # nothing was copied


# ---------------------------------------------------------------- where an export may go


@pytest.mark.parametrize("via", ["direct", "symlink"])
def test_an_export_inside_the_lake_is_refused(settings: Settings, hold: holds.Hold, tmp_path: Path, via: str) -> None:
    out = settings.lake / "evidence" / "CASE-1"
    if via == "symlink":  # a path outside that resolves into the lake
        (tmp_path / "outside").symlink_to(settings.lake, target_is_directory=True)
        out = tmp_path / "outside" / "evidence"
    with pytest.raises(ExportError, match=r"^--out: .* is inside the lake .*; write the evidence outside the lake"):
        run_export(settings, hold.id, out)
    assert not (settings.lake / "evidence").exists()
    assert export.read_disclosures(settings.lake) == []


def test_the_result_names_the_manifest_hash_for_the_cover_letter(settings: Settings, hold: holds.Hold,
                                                                 tmp_path: Path) -> None:
    result = run_export(settings, hold.id, tmp_path / "evidence")
    digest = hashlib.sha256((tmp_path / "evidence" / "manifest.json").read_bytes()).hexdigest()
    assert f"manifest SHA-256 for the cover letter: {digest}" in "\n".join(result.lines())


def test_a_damaged_disclosure_register_is_named(settings: Settings, hold: holds.Hold, tmp_path: Path) -> None:
    run_export(settings, hold.id, tmp_path / "evidence")
    with export.disclosures_path(settings.lake).open("a", encoding="utf-8") as register:
        register.write("{not json\n")
    with pytest.raises(ExportError, match=r"disclosures.jsonl: line 2 is not a JSON disclosure record"):
        export.read_disclosures(settings.lake)


# ---------------------------------------------------------------- verification against an anchor


def _rehash(folder: Path, edit: object = None) -> None:
    """Recompute the manifest's hashes (a consistent forgery); ``edit`` changes the manifest first."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        path = folder / entry["name"]
        entry["sha256"], entry["size_bytes"] = hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_size
    if callable(edit):
        edit(manifest)
    body = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    (folder / "manifest.json").write_bytes(body)
    (folder / "manifest.json.sha256").write_text(f"{hashlib.sha256(body).hexdigest()}  manifest.json\n")


def test_verify_names_its_anchors(settings: Settings, exported: Path) -> None:
    digest = hashlib.sha256((exported / "manifest.json").read_bytes()).hexdigest()
    assert verify_export(exported).anchors == []
    assert "anchored by: none" in "\n".join(verify_export(exported).lines())
    assert verify_export(exported, lake=settings.lake).anchors == [f"the disclosure record in {settings.lake}"]
    both = verify_export(exported, lake=settings.lake, manifest_sha256=digest.upper())
    assert both.anchors == ["the manifest hash given with --manifest-sha256",
                            f"the disclosure record in {settings.lake}"]


def test_a_consistent_forgery_fails_against_each_anchor(settings: Settings, exported: Path) -> None:
    digest = hashlib.sha256((exported / "manifest.json").read_bytes()).hexdigest()
    _rehash(exported, lambda m: m.update(recipient="Somebody Else GmbH"))
    assert verify_export(exported).anchors == []  # consistent with itself: that is all it shows
    with pytest.raises(ExportError, match="is not the one recorded in the lake's disclosure record"):
        verify_export(exported, lake=settings.lake)
    with pytest.raises(ExportError, match=f"is not the hash given with --manifest-sha256 \\({digest}\\)"):
        verify_export(exported, manifest_sha256=digest)


def test_a_lake_without_the_record_fails_unless_a_hash_is_given(exported: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-lake"
    other.mkdir()
    with pytest.raises(ExportError, match="has no disclosure record of export 'EXP-20261129-"):
        verify_export(exported, lake=other)
    digest = hashlib.sha256((exported / "manifest.json").read_bytes()).hexdigest()
    assert verify_export(exported, lake=other, manifest_sha256=digest).row_count == 3
    assert verify_export(exported, lake=tmp_path / "no-lake-here").anchors == []  # no lake: nothing to ask


@pytest.mark.parametrize("value", ["", "abc", "g" * 64, "0" * 63])
def test_a_malformed_manifest_hash_option_is_named(exported: Path, value: str) -> None:
    with pytest.raises(ExportError, match="^--manifest-sha256: .* is not a SHA-256"):
        verify_export(exported, manifest_sha256=value)


@pytest.mark.parametrize("plant", ["hidden-file", "folder", "symlink-manifest"])
def test_anything_but_the_listed_plain_files_fails(exported: Path, tmp_path: Path, plant: str) -> None:
    if plant == "hidden-file":
        (exported / ".notes").write_text("x")
        name = ".notes: not in the manifest"
    elif plant == "folder":
        (exported / "more").mkdir()
        name = "more: not in the manifest"
    else:
        moved = tmp_path / "manifest-elsewhere.json"
        (exported / "manifest.json").rename(moved)
        (exported / "manifest.json").symlink_to(moved)
        name = "manifest.json: a symbolic link"
    with pytest.raises(ExportError, match=name):
        verify_export(exported)


@pytest.mark.parametrize(("edit", "problem"), [
    (lambda m: m["files"].append({**m["files"][0], "name": "../requests.parquet"}),
     "'../requests.parquet': not a name"),
    (lambda m: m["files"].append({**m["files"][0], "name": "manifest.json"}), "'manifest.json': not a name"),
    (lambda m: m.update(row_count=2), "requests.parquet: manifest lists 3 rows for it but 2 for the export"),
    (lambda m: m["files"].append(dict(m["files"][1])), "listed 2 times in the manifest"),
], ids=["outside", "manifest", "row-count", "duplicate"])
def test_a_manifest_that_lists_odd_entries_fails(exported: Path, edit: object, problem: str) -> None:
    _rehash(exported, edit)
    with pytest.raises(ExportError, match=problem):
        verify_export(exported)
