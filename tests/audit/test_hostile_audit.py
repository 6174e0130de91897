"""Audit blind spots: each planted file or change must make ``accesslake audit`` exit 1 naming it.

The lake under test is clean (the audit passes on it: checked by the fixture) and holds old,
anonymised rows, recent rows with IPs, marts, an active hold and one disclosure. Each test
plants one thing a careless tool or person might leave behind, and the audit must see it.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hostile_kit import (
    NOW,
    assert_usage_error,
    at,
    combined,
    export_hold,
    find_ips_in_lake,
    make_ips,
    open_hold,
    parquet_files,
    run_cli,
    write_lines,
)

OLD_IPS = make_ips("198.51.100", 6)
RECENT_IPS = make_ips("203.0.113", 6)
HOLD_IP = RECENT_IPS[0]
LATER = NOW + timedelta(days=2)  # the old rows are past the 168 h limit, the recent ones are not


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("audit-template")
    lake = root / "lake"
    lake.mkdir()
    old = NOW - timedelta(days=6)
    lines = [combined(ip, old + timedelta(minutes=n), query=f"token={n}", referrer=f"https://ref.example/a/{n}?x=1")
             for n, ip in enumerate(OLD_IPS)]
    lines += [combined(ip, NOW - timedelta(hours=10 - n), query=f"q={n}") for n, ip in enumerate(RECENT_IPS)]
    log = write_lines(root / "access.log", lines)
    code, out, err, hold_id = open_hold(lake, NOW, NOW - timedelta(days=2), NOW, "--ip", HOLD_IP)
    assert code == 0, err
    assert run_cli(at(lake, NOW, "ingest", log))[0] == 0
    code, out, err = run_cli(at(lake, NOW, "nightly"))
    assert code == 0, out + err
    code, out, err = export_hold(lake, NOW, hold_id, root / "evidence")
    assert code == 0, out + err
    for when in (NOW, LATER):
        code, out, err = run_cli(at(lake, when, "audit"))
        assert code == 0, f"fixture: the template lake must pass the audit at {when}\n{out}\n{err}"
    return {"lake": lake, "hold_id": hold_id, "evidence": root / "evidence"}


@pytest.fixture
def clean(template: dict[str, object], tmp_path: Path) -> Path:
    """A private copy of the clean template lake (modes kept)."""
    lake = tmp_path / "lake"
    shutil.copytree(template["lake"], lake, symlinks=True)  # type: ignore[arg-type]
    return lake


def assert_audit_names(lake: Path, name: str, when=NOW) -> None:
    code, out, err = run_cli(at(lake, when, "audit"))
    assert code == 1, f"audit exit {code}, expected 1 (violation: {name})\n{out[-1500:]}\n{err[-800:]}"
    assert name in out + err, f"the audit does not name {name}:\n{out[-1500:]}\n{err[-800:]}"


def _partition_with(lake: Path, predicate) -> Path:
    for path in parquet_files(lake / "requests"):
        if predicate(pq.read_table(path, partitioning=None)):
            return path
    raise AssertionError("fixture: no requests file matches")


def _recent_file(lake: Path) -> Path:
    return _partition_with(lake, lambda t: pc.any(pc.is_valid(t.column("client_ip"))).as_py())


def _anonymised_file(lake: Path) -> Path:
    return _partition_with(lake, lambda t: pc.all(pc.is_valid(t.column("anonymized_at"))).as_py())


# ---------------------------------------------------------------- exports inside the lake


def test_an_export_into_the_lake_is_refused(template: dict[str, object], clean: Path) -> None:
    code, out, err = export_hold(clean, NOW, str(template["hold_id"]), clean / "evidence" / "CASE-1")
    assert_usage_error(code, out, err, "--out")
    assert not (clean / "evidence").exists() or not any((clean / "evidence").rglob("*"))


# ---------------------------------------------------------------- copies of data files


@pytest.mark.parametrize("name", [".x.parquet", "part-copy.PARQUET", "part-copy.parquet.bak", "part-copy.parq",
                                  ".part-copy.parquet.swp"])
def test_a_copy_of_a_data_file_under_another_name(clean: Path, name: str) -> None:
    source = _recent_file(clean)
    shutil.copy2(source, source.parent / name)
    assert_audit_names(clean, name)


def test_a_hidden_parquet_file_does_not_survive_the_nightly(clean: Path) -> None:
    source = _recent_file(clean)
    hidden = source.parent / ".x.parquet"
    shutil.copy2(source, hidden)
    run_cli(at(clean, NOW + timedelta(days=8), "nightly"))
    assert not hidden.exists(), "the hidden copy survived the nightly past the limit"
    # RECENT_IPS[0] is in an active hold (held/ and the hold record keep it, rightly)
    assert find_ips_in_lake(clean, OLD_IPS + RECENT_IPS[1:]) == []


def test_a_hidden_file_in_landing(clean: Path) -> None:
    landing = clean / "landing"
    landing.mkdir(exist_ok=True)
    hidden = write_lines(landing / ".access.log.1", [combined("192.0.2.99", NOW - timedelta(days=9))])
    old = (NOW - timedelta(days=9)).timestamp()
    os.utime(hidden, (old, old))
    assert_audit_names(clean, ".access.log.1")


# ---------------------------------------------------------------- personal columns and values


@pytest.mark.parametrize("column_name", ["ip", "remote_addr", "sid", "x_forwarded_for", "cookie"])
def test_a_mart_with_a_personal_column_under_another_name(clean: Path, column_name: str) -> None:
    mart = sorted((clean / "marts" / "daily_traffic").rglob("*.parquet"))[0]
    table = pq.read_table(mart, partitioning=None)
    value = "s3cr3t-session" if column_name in ("sid", "cookie") else "198.51.100.7"
    values = pa.array([value] * table.num_rows)
    pq.write_table(table.append_column(column_name, values), mart)
    assert_audit_names(clean, "marts/daily_traffic/")


@pytest.mark.parametrize(("column_name", "value"), [
    ("user_agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    ("query", "token=0"),
    ("referrer", "https://ref.example/a/0?x=1"),
    ("vhost", "198.51.100.100"),
    ("remote_user", "alice"),
])
def test_a_personal_value_restored_on_an_anonymised_row(clean: Path, column_name: str, value: str) -> None:
    path = _anonymised_file(clean)
    table = pq.read_table(path, partitioning=None)
    index = table.schema.get_field_index(column_name)
    values = table.column(column_name).to_pylist()
    values[0] = value
    table = table.set_column(index, table.schema.field(index), pa.array(values, type=table.schema.field(index).type))
    pq.write_table(table, path, compression="zstd")
    assert_audit_names(clean, path.name, LATER)


# ---------------------------------------------------------------- permissions of the private stores


@pytest.mark.parametrize(("target", "mode"), [
    ("incidents", 0o755), ("incidents/*.json", 0o644), ("disclosures", 0o755),
    ("disclosures/disclosures.jsonl", 0o644),
])
def test_a_private_store_readable_by_others(clean: Path, target: str, mode: int) -> None:
    paths = sorted(clean.glob(target))
    assert paths, f"fixture: nothing at {target}"
    os.chmod(paths[0], mode)
    assert_audit_names(clean, paths[0].name)


# ---------------------------------------------------------------- wrong or unknown files


def test_a_requests_file_inside_rejects(clean: Path) -> None:
    source = _recent_file(clean)
    target = clean / "rejects" / "site=default" / source.parent.name / "part-stray.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)
    assert_audit_names(clean, "part-stray.parquet")


@pytest.mark.parametrize("relative", [
    "notes.txt",
    "requests/README.md",
    "requests/site=default/stray.csv",
    "marts/daily_traffic/export.csv",
    "ledger/ingest.jsonl.orig",
    "incidents/old-scope.txt",
    "evidence/requests.csv",
    "_scratch/ips.json",
])
def test_an_unknown_file_anywhere_in_the_lake(template: dict[str, object], clean: Path, relative: str) -> None:
    target = clean / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if relative.startswith("evidence/"):
        shutil.copy2(Path(str(template["evidence"])) / "requests.csv", target)  # an export copied into the lake
    else:
        target.write_text(f"client {RECENT_IPS[2]} seen at {NOW.isoformat()}\n", encoding="utf-8")
    assert_audit_names(clean, target.name)
