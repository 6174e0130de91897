"""The whole product on an S3 lake (SeaweedFS on 127.0.0.1): the same commands, the same results.

A local folder and an ``s3://`` prefix get the same raw logs and the same
commands, in child processes configured only by the environment
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``):
ingest, the nightly run (marts, detection, anonymisation, audit), analyst
SQL, a hold and a forensic export, then the run that anonymises the backlog.
Every stored row, every mart and every export file must agree. The nightly
flow also runs on a two-process Dask ``LocalCluster`` against the S3 lake
(per-file ingest, per-day marts, per-partition anonymisation).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from retention_kit import SID_FORMAT, Hit, copy_lake, personal_past_deadline, write_log

from accesslake import storage as lakefs
from accesslake.analytics import marts
from accesslake.config import Settings
from accesslake.errors import ConfigError, LockError
from accesslake.schema import REQUEST_SCHEMA
from accesslake.storage import Layout, auditlog
from accesslake.storage import s3 as s3_storage
from accesslake.storage.s3 import LEASE_STALE_SECONDS

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 20, tzinfo=UTC)
NIGHT = T0 + timedelta(days=1, hours=3)
LATER = T0 + timedelta(days=9)
SUSPECT = "203.0.113.9"


def day_hits(day: datetime) -> list[Hit]:
    out = []
    for i in range(96):
        ip = SUSPECT if i % 8 == 0 else f"192.0.2.{i % 40 + 1}"
        path = "/wp-login.php" if ip == SUSPECT else f"/page/{i % 12}.html"
        out.append(Hit(day + timedelta(minutes=15 * i), ip=ip, path=path, session=f"s-{i % 30}"))
    return out


def run(lake: str, *args: str, now: datetime) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSLAKE_")}
    return subprocess.run(
        [sys.executable, "-m", "accesslake.cli", "--lake", lake, "--now", now.isoformat(), "--json", *args],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


def stored(lake: Path) -> pl.DataFrame:
    """Every stored request and held row, by row_id, the source file by name."""
    frames = [lakefs.read_dataset(Layout(lake).requests, REQUEST_SCHEMA).collect()]
    frames += [lakefs.read_parquet(p).with_columns(pl.lit(None, pl.String).alias("site"),
                                                   pl.lit(None, pl.Date).alias("date"))
               for p in lakefs.list_files(Layout(lake).held)]
    frame = pl.concat([f.select([*REQUEST_SCHEMA.names()]) for f in frames])
    return frame.with_columns(pl.col("source_file").str.extract(r"([^/]+)$")).sort("row_id")


def without_built_at(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.drop([c for c in frame.columns if c in ("built_at",)])


def test_the_cli_on_an_s3_lake_gives_what_it_gives_on_a_folder(s3_lake: str, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    day1 = write_log(logs / "access.log.1", day_hits(T0))
    day2 = write_log(logs / "access.log", day_hits(T0 + timedelta(days=1)), junk=["garbage line"])
    local = str(tmp_path / "lake")
    outputs: dict[str, dict[str, object]] = {}
    for lake in (local, s3_lake):
        out: dict[str, object] = {}
        ok(run(lake, "ingest", "--format", SID_FORMAT, str(day1), str(day2), now=NIGHT))
        out["nightly"] = ok(run(lake, "nightly", now=NIGHT))
        out["sql"] = ok(run(lake, "sql", "select path, count(*) as n from requests group by path order by n desc, path",
                            now=NIGHT))
        out["stats"] = ok(run(lake, "stats", now=NIGHT))
        hold = ok(run(lake, "incident", "open", "--case", "CASE-9", "--purpose", "brute force on wp-login",
                      "--legal-basis", "6-1-f", "--authorized-by", "dpo@example.org", "--ip", SUSPECT,
                      "--start", T0.isoformat(), "--end", (T0 + timedelta(days=2)).isoformat(), now=NIGHT))
        hold_id = hold["id"]  # type: ignore[index]
        evidence = tmp_path / f"evidence-{'s3' if lake.startswith('s3://') else 'local'}"
        ok(run(lake, "export", "--incident", hold_id, "--out", str(evidence), "--recipient", "LKA Berlin",
               "--reference", "AZ 1/26", "--legal-basis", "§100g StPO", "--operator", "ops@example.org", now=NIGHT))
        ok(run(lake, "export", "verify", str(evidence), now=NIGHT))
        out["evidence"] = pl.read_parquet(next(evidence.glob("*.parquet"))).drop("export_id", strict=False)
        out["later"] = ok(run(lake, "nightly", now=LATER))
        out["audit"] = ok(run(lake, "audit", now=LATER))
        outputs[lake] = out

    a, b = outputs[local], outputs[s3_lake]
    assert b["sql"] == a["sql"] and b["stats"] == a["stats"]
    assert b["evidence"].height == 24 and b["evidence"].equals(a["evidence"])  # type: ignore[union-attr]
    assert b["audit"]["violations"] == [] == a["audit"]["violations"]  # type: ignore[index]
    lake_s3, lake_local = lakefs.lake_root(s3_lake), Path(local)
    assert stored(lake_s3).equals(stored(lake_local))
    for name in marts.MART_NAMES:
        assert without_built_at(marts.read_mart(lake_s3, name)).equals(
            without_built_at(marts.read_mart(lake_local, name))), name
    # the rule itself, checked independently of the audit: held rows keep their IPs, nothing else does
    active = {h["id"] for h in json.loads(run(s3_lake, "incident", "list", now=LATER).stdout)}
    assert personal_past_deadline(lake_s3, LATER, 120, active).height == 0
    assert auditlog.verify_chain(lake_s3) == []
    assert not lakefs.list_files(Layout(lake_s3).tmp, "") and not lakefs.list_files(lake_s3 / "ledger" / "journal", "")
    assert not lakefs.list_files(Layout(lake_s3).landing, "")


def test_the_audit_names_s3_objects_that_break_the_rule(s3_lake: str, tmp_path: Path) -> None:
    """Without the nightly anonymisation, rows past 168 h are found, by their s3:// key."""
    log = write_log(tmp_path / "a.log", day_hits(T0))
    ok(run(s3_lake, "ingest", "--format", SID_FORMAT, str(log), now=NIGHT))
    failed = run(s3_lake, "audit", now=LATER)
    assert failed.returncode == 1
    report = json.loads(failed.stdout)
    assert [v.split(": ")[0] for v in report["violations"]] == ["P1 requests"], report["violations"]
    assert f"{s3_lake}/requests/site=default/date=2026-11-20/part-" in report["violations"][0]


def test_a_second_writer_on_s3_is_refused_and_a_dead_ones_lock_is_broken(s3_lake: str, tmp_path: Path) -> None:
    lake = lakefs.lake_root(s3_lake)
    log = write_log(tmp_path / "a.log", day_hits(T0))
    with lakefs.writer_lock(lake):
        refused = run(s3_lake, "--wait", "0", "ingest", "--format", SID_FORMAT, str(log), now=NIGHT)
        assert refused.returncode == 2 and "another accesslake run holds the writer lock" in refused.stderr
        assert f"held by pid {os.getpid()}" in refused.stderr
    # a run killed while holding the lock leaves it behind; the next run on this host breaks it
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    (lake / ".lock").write_text(json.dumps({"host": os.uname().nodename, "pid": int(dead.stdout),
                                            "since": "2026-11-21T03:00:00+00:00"}), encoding="utf-8")
    ok(run(s3_lake, "ingest", "--format", SID_FORMAT, str(log), now=NIGHT))
    assert not (lake / ".lock").exists()


def test_a_lock_is_a_lease_renewed_while_held_and_taken_over_once_it_lapses(
    s3_lake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = lakefs.lake_root(s3_lake)
    lock = lake / ".lock"
    monkeypatch.setattr(s3_storage, "LEASE_RENEW_SECONDS", 0.2)
    with lakefs.writer_lock(lake):
        first = json.loads(lakefs.read_bytes_or_empty(lock))
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while json.loads(lakefs.read_bytes_or_empty(lock))["renewed"] == first["renewed"]:
            assert datetime.now(UTC) < deadline, "the lease was not renewed"
    assert not lock.exists()

    def other_host(renewed: datetime) -> None:
        lock.write_text(json.dumps({"host": "worker-7", "pid": 1, "since": "2026-11-29T01:00:00+00:00",
                                    "renewed": renewed.isoformat(timespec="seconds")}), encoding="utf-8")

    other_host(datetime.now(UTC))  # another machine's live run: refused, and told who holds it
    with pytest.raises(LockError, match=r"held by pid 1 on worker-7 since 2026-11-29T01:00:00\+00:00"), \
            lakefs.writer_lock(lake, 0):
        pass  # pragma: no cover
    other_host(datetime.now(UTC) - timedelta(seconds=LEASE_STALE_SECONDS + 60))  # that run died
    with lakefs.writer_lock(lake, 0):
        assert json.loads(lakefs.read_bytes_or_empty(lock))["host"] == os.uname().nodename


def test_parallel_appends_to_one_object_lose_nothing(s3_lake: str) -> None:
    """Object stores have no append: parallel ingests (Dask) rewrite one ledger; none may undo another."""
    from concurrent.futures import ThreadPoolExecutor

    ledger = lakefs.lake_root(s3_lake) / "ledger" / "ingest.jsonl"
    audit = lakefs.lake_root(s3_lake)
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda i: lakefs.append_text(ledger, f"{i}\n"), range(24)))
        list(pool.map(lambda i: auditlog.append_event(audit, "ingest", T0, n=i), range(24)))
    assert sorted(int(x) for x in ledger.read_text(encoding="utf-8").split()) == list(range(24))
    assert sorted(e["n"] for e in auditlog.read_events(audit)) == list(range(24))
    assert auditlog.verify_chain(audit) == []
    assert not lakefs.list_files(ledger.parent, ".lock", hidden=True)  # every lock released


def test_s3_lake_settings_come_from_the_url_and_bad_urls_are_named() -> None:
    with pytest.raises(ConfigError, match=r"--lake: 'gs://bucket/x': unsupported storage gs://"):
        lakefs.lake_root("gs://bucket/x")
    with pytest.raises(ConfigError, match=r"--lake: 's3://' names no bucket"):
        lakefs.lake_root("s3://")
    assert isinstance(lakefs.lake_root("data/lake"), Path)


@pytest.mark.usefixtures("prefect_api")
def test_nightly_on_dask_over_s3_leaves_the_lake_as_the_local_sequential_flow(s3_lake: str, tmp_path: Path) -> None:
    from flow_kit import NOW, reads_split, requests, starting_lake, without_lake

    from flows.nightly import nightly, nightly_on_dask

    one = tmp_path / "one-at-a-time"
    starting_lake(one)
    remote = copy_lake(one, "s3", tmp_path, s3_lake)

    expected = nightly(lake=str(one), now=NOW.isoformat())
    got = nightly_on_dask(s3_lake, workers=2, now=NOW.isoformat())

    got_summary, expected_summary = without_lake(got, remote), without_lake(expected, one)
    assert reads_split(got_summary) == reads_split(expected_summary)  # the same files, read or skipped
    assert got_summary == expected_summary
    assert got["audit"]["violations"] == []
    assert requests(remote).equals(requests(one))
    for name in marts.MART_NAMES:
        assert without_built_at(marts.read_mart(remote, name)).equals(
            without_built_at(marts.read_mart(one, name))), name
    assert auditlog.verify_chain(remote) == []
    assert sorted(e["event"] for e in auditlog.read_events(remote)) == sorted(
        e["event"] for e in auditlog.read_events(one))
    assert Settings(lake=remote).lake is remote

    # six days on, the rows are due: the partitions are anonymised by tasks on the workers
    later = (NOW + timedelta(days=6)).isoformat()
    expected = nightly(lake=str(one), now=later)
    got = nightly_on_dask(s3_lake, workers=2, now=later)
    got_summary, expected_summary = without_lake(got, remote), without_lake(expected, one)
    assert reads_split(got_summary) == reads_split(expected_summary)  # the same files, read or skipped
    assert got_summary == expected_summary
    assert got["anonymized"]["rows_anonymized"] > 0 and got["audit"]["violations"] == []
    assert requests(remote).equals(requests(one))
    assert requests(remote).filter(pl.col("client_ip").is_not_null()).height == 0
