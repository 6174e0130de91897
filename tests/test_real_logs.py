"""The eight real logs: every line accounted for, figures agree with GoAccess 1.7.

Each log is ingested twice into fresh lakes:

* ``archive``: at the suite's clock (2026), so every row is long past
  ``anonymize_after`` and must be anonymised before it is written (rule P3);
* ``fresh``: at one hour after the log's last line, with ``anonymize_after``
  at 168 h, so rows keep their IPs and GoAccess's unique visitors
  (which need the IP) can be recomputed.

Expected figures come from the ``*.goaccess.json`` reports beside the logs;
our figures are computed from the Parquet files in the lake with DuckDB. The
remaining differences are GoAccess's and are recomputed here, not hard-coded:

* GoAccess needs ``%h`` to be an IP address. NASA lines with a host name are
  *failed* there (15066 of 20000); we keep them (``client_ip`` holds the host
  name), so GoAccess's valid/status/bandwidth/visitor figures are compared
  with ours restricted to rows whose ``client_ip`` is an IP address.
* GoAccess 1.7 reads lines with a 4096-byte buffer: a longer line becomes two
  records, the first parsed, the rest failed (secrepo_2021, one 4785-char line:
  +1 total, +1 failed). The expected extra records are counted from the raw
  bytes; we parse the long line whole.
* A line that is not a log line (basjes ``xxxxxxxxxxxx``) is failed there and a
  reject here.
* GoAccess's unique visitors are distinct (date, IP, user agent URL-decoded and
  trimmed) over requests whose status is not 4xx (``include_uniq``: 4xx are not
  counted unless ``--4xx-to-unique-count``); "date" is the date as written in
  the log, i.e. in the log's own UTC offset. With that definition all eight
  files agree, the +0000 elastic log included (2095).

The last part builds the marts of each log by its own offset (a site's local
days) and states, figure by figure, what still differs from GoAccess and why.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import ipaddress
import json
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from conftest import real_log, real_log_manifest, real_log_report

from accesslake.analytics import marts
from accesslake.analytics.report import write_report
from accesslake.config import Settings
from accesslake.ingest import IngestResult, ingest_file, ledger_records
from accesslake.policy import Policy, policy_from_mapping

LOGS = [
    "basjes_hackers_combined_ipv6.log",
    "basjes_small_malformed.log.gz",
    "elastic_apache_combined.log",
    "nasa_aug95_common.log",
    "secrepo_2018-12-15_combined.log",
    "secrepo_2021_combined.log",
    "secrepo_2022-12-22_combined.log",
    "zanbil_nginx_combined_xff.log",
]
ARCHIVE_NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
GOACCESS_LINE_BUFFER = 4096  # fgets() buffer: at most 4095 bytes per record
_CLF = re.compile(rb"\[(\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2}) ([+-])(\d{2})(\d{2})\]")


# ----------------------------------------------------------------- the raw file, read independently


@dataclass(frozen=True)
class RawLog:
    path: Path
    size: int  # uncompressed bytes
    lines: list[bytes]  # without the newline
    goaccess_records: int  # records GoAccess makes of the file (long lines split)
    offset: timedelta  # the log's single UTC offset
    last_ts: datetime  # latest request time (UTC)
    host_counts: Counter[str]

    @property
    def ip_hosts(self) -> list[str]:
        return [h for h, _ in self.host_counts.most_common() if _is_ip(h)]


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@cache
def raw_log(folder: Path, name: str) -> RawLog:
    path = real_log(name)
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the final newline ends the last line; it does not start another
    records = sum(max(1, math.ceil((len(line) + 1) / (GOACCESS_LINE_BUFFER - 1))) for line in lines)
    offsets, times = set(), []
    for match in _CLF.finditer(data):
        sign = 1 if match[2] == b"+" else -1
        offset = sign * timedelta(hours=int(match[3]), minutes=int(match[4]))
        offsets.add(offset)
        local = datetime.strptime(match[1].decode(), "%d/%b/%Y:%H:%M:%S")
        times.append((local - offset).replace(tzinfo=UTC))
    assert len(offsets) == 1, f"{name}: expected one UTC offset, found {offsets}"
    hosts = Counter(line.split(b" ", 1)[0].decode() for line in lines if line.strip())
    return RawLog(path, len(data), lines, records, offsets.pop(), max(times), hosts)


@cache
def goaccess(folder: Path, name: str) -> dict[str, Any]:
    report = json.loads(real_log_report(name).read_text(encoding="utf-8"))
    general = report["general"]
    classes = {
        int(item["data"][0]): (item["hits"]["count"], item["bytes"]["count"])
        for item in report["status_codes"]["data"]
    }
    return {
        "total": general["total_requests"],
        "valid": general["valid_requests"],
        "failed": general["failed_requests"],
        "visitors": general["unique_visitors"],
        "bandwidth": general["bandwidth"],
        "classes": classes,
    }


@cache
def readme_table(folder: Path) -> dict[str, dict[str, str]]:
    """The README's first table (lines, format, tz, date range per file), not the GoAccess one."""
    text = (folder / "README.md").read_text(encoding="utf-8")
    rows: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        cells = [c.strip().strip("`*") for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0] in LOGS:
            rows.setdefault(cells[0], dict(zip(("file", "lines", "bytes", "format", "tz", "range", "notes"), cells)))
    return rows


# ----------------------------------------------------------------- ingesting (once per file and mode)


@dataclass(frozen=True)
class Lake:
    name: str
    path: Path
    result: IngestResult

    def sql(self, query: str, dataset: str = "requests", **params: object) -> pl.DataFrame:
        """Run ``query`` with ``{dataset}`` standing for the dataset's Parquet files."""
        glob = str(self.path / dataset / "**" / "*.parquet")
        with duckdb.connect() as con:
            sql = query.replace("{dataset}", "read_parquet($glob, hive_partitioning = true)")
            return con.sql(sql, params={"glob": glob, **params}).pl()


@dataclass(frozen=True)
class Ingested:
    archive: Lake  # ingested long after the fact: anonymised on write
    fresh: Lake  # ingested an hour after the last line: IPs kept


Ingest = Callable[[str], Ingested]


@pytest.fixture(scope="module")
def ingested(real_logs: Path, tmp_path_factory: pytest.TempPathFactory) -> Ingest:
    done: dict[str, Ingested] = {}

    def ingest(name: str) -> Ingested:
        if name not in done:
            root = tmp_path_factory.mktemp(name.split(".")[0])
            archive_settings = Settings(lake=root / "archive", policy=Policy())
            archive = ingest_file(real_log(name), archive_settings, ARCHIVE_NOW)
            # 168 h: secrepo_2021 spans five days and one hour; no row may be past the limit.
            fresh_settings = Settings(lake=root / "fresh", policy=Policy(anonymize_after_hours=168))
            fresh_now = raw_log(real_logs, name).last_ts + timedelta(hours=1)
            fresh = ingest_file(real_log(name), fresh_settings, fresh_now)
            done[name] = Ingested(Lake(name, root / "archive", archive), Lake(name, root / "fresh", fresh))
        return done[name]

    return ingest


# GoAccess takes %h only if inet_pton() does; host names never contain ':' or look like a dotted quad.
IS_IP = r"(regexp_full_match(client_ip, '\d{1,3}(\.\d{1,3}){3}') or client_ip like '%:%')"


# ----------------------------------------------------------------- P4: every line accounted for

each_log = pytest.mark.parametrize("name", LOGS)


def test_the_logs_in_the_repository_are_the_recorded_ones(real_logs: Path) -> None:
    """Every log the manifest includes is here, byte for byte, with its report; the others are absent
    and say why; the README describes all eight."""
    manifest = real_log_manifest()
    assert sorted(manifest) == LOGS
    assert sorted(readme_table(real_logs)) == LOGS
    for name, entry in manifest.items():
        path = real_logs / name
        if entry["included"]:
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], name
            assert (real_logs / f"{name}.goaccess.json").is_file(), name
        else:
            assert not path.exists() and entry["why_excluded"], name
    readme = (real_logs / "README.md").read_text(encoding="utf-8")
    for name, entry in manifest.items():
        assert entry["licence"] and entry["source"], name  # where it comes from, under which terms
        assert str(entry["sha256"]) in readme, f"the README records {name}'s checksum"


@each_log
def test_rows_plus_rejects_equal_lines_read(real_logs: Path, ingested: Ingest, name: str) -> None:
    lake, raw = ingested(name).archive, raw_log(real_logs, name)
    result = lake.result
    assert int(readme_table(real_logs)[name]["lines"].split()[0]) == len(raw.lines)
    assert result.status == "ingested"
    assert (result.lines_read, result.offset, result.pending_partial_line) == (len(raw.lines), raw.size, False)
    assert result.rows + result.held + result.rejects == len(raw.lines)
    assert result.held == 0

    rows = lake.sql("select row_id, source_line from {dataset}")
    rejects = lake.sql("select row_id, source_line from {dataset}", "rejects") if result.rejects else rows.clear()
    assert (rows.height, rejects.height) == (result.rows, result.rejects)
    # Every line exactly once, in one store or the other, under a unique stable id.
    lines = pl.concat([rows, rejects])
    assert sorted(lines["source_line"].to_list()) == list(range(1, len(raw.lines) + 1))
    assert lines["row_id"].to_list() == [f"{result.file_key}:{n}" for n in lines["source_line"]]

    (record,) = ledger_records(lake.path)
    assert (record["lines_read"], record["rows"], record["rejects"]) == (len(raw.lines), result.rows, result.rejects)
    assert record["source_file"] == str(raw.path)


@each_log
def test_detected_format_is_the_documented_one(real_logs: Path, ingested: Ingest, name: str) -> None:
    documented = readme_table(real_logs)[name]["format"]
    prefixes = {"Apache combined": "combined", "Common Log Format": "common", "nginx combined": "nginx"}
    expected = next(fmt for prefix, fmt in prefixes.items() if documented.startswith(prefix))
    result = ingested(name).archive.result
    assert (result.format, result.detected) == (expected, True)


@each_log
def test_timestamps_are_utc_and_partitioned_by_utc_date(real_logs: Path, ingested: Ingest, name: str) -> None:
    """README's date range is min..max local time; the lake holds it converted with the offset."""
    row = readme_table(real_logs)[name]
    start_text, end_text = (part.strip() for part in row["range"].split(".."))
    start = datetime.fromisoformat(start_text)
    end = datetime.fromisoformat(end_text) if "-" in end_text else datetime.combine(
        start.date(), datetime.strptime(end_text, "%H:%M:%S").time()
    )
    tz = row["tz"]
    offset = timezone(int(tz[0] + "1") * timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])))
    (lo, hi, misplaced), = ingested(name).archive.sql(
        "select min(ts), max(ts), count(*) filter (where date <> ts::date) "
        "from (select ts at time zone 'UTC' as ts, date from {dataset})"
    ).rows()
    assert lo == start.replace(tzinfo=offset).astimezone(UTC).replace(tzinfo=None)
    assert hi == end.replace(tzinfo=offset).astimezone(UTC).replace(tzinfo=None)
    assert misplaced == 0  # out-of-order lines land in the partition of their own UTC date


# ----------------------------------------------------------------- agreement with GoAccess


@each_log
def test_totals_match_goaccess(real_logs: Path, ingested: Ingest, name: str) -> None:
    lake, raw, ref = ingested(name).fresh, raw_log(real_logs, name), goaccess(real_logs, name)
    (ip_rows, named_rows), = lake.sql(
        f"select count(*) filter (where {IS_IP}), count(*) filter (where not {IS_IP}) from {{dataset}}"
    ).rows()
    split_extra = raw.goaccess_records - len(raw.lines)  # long lines GoAccess splits in two
    assert ip_rows + named_rows == lake.result.rows
    assert ref["total"] == len(raw.lines) + split_extra
    assert ref["valid"] == ip_rows  # GoAccess accepts IP hosts only
    assert ref["failed"] == lake.result.rejects + named_rows + split_extra


@each_log
def test_status_classes_and_bandwidth_match_goaccess(real_logs: Path, ingested: Ingest, name: str) -> None:
    ref = goaccess(real_logs, name)
    ours = ingested(name).fresh.sql(
        f"select status // 100, count(*), sum(bytes)::bigint from {{dataset}} where {IS_IP} group by all"
    )
    assert {c: (hits, size) for c, hits, size in ours.rows()} == ref["classes"]
    assert sum(size for _, _, size in ours.rows()) == ref["bandwidth"]


def goaccess_visitors(lake: Lake, offset: timedelta) -> int:
    """GoAccess's unique visitors: distinct (IP, date as logged, agent URL-decoded and trimmed), 4xx excluded."""
    (visitors,), = lake.sql(
        "select count(distinct (client_ip, local_date, agent)) from ("
        "  select client_ip, (ts at time zone 'UTC' + to_minutes($minutes))::date as local_date,"
        "         trim(coalesce(try(url_decode(user_agent)), user_agent, '-')) as agent"
        f"  from {{dataset}} where {IS_IP} and status // 100 <> 4)",
        minutes=int(offset.total_seconds() // 60),
    ).rows()
    return int(visitors)


@each_log
def test_unique_visitors_match_goaccess(real_logs: Path, ingested: Ingest, name: str) -> None:
    lake = ingested(name).fresh
    assert lake.result.anonymized_on_write == 0  # the IPs are needed
    assert goaccess_visitors(lake, raw_log(real_logs, name).offset) == goaccess(real_logs, name)["visitors"]


def test_elastic_visitors_are_ip_date_and_agent(real_logs: Path, ingested: Ingest) -> None:
    """The +0000 log, where the date as logged is the UTC date: 1753 distinct IPs, more visitors."""
    lake = ingested("elastic_apache_combined.log").fresh
    (ips,), = lake.sql("select count(distinct client_ip) from {dataset}").rows()
    assert ips == len(raw_log(real_logs, lake.name).host_counts) == 1753  # as the README says
    assert goaccess_visitors(lake, timedelta(0)) == goaccess(real_logs, lake.name)["visitors"] > ips


def test_nasa_host_names_are_kept_so_our_totals_cover_every_line(real_logs: Path, ingested: Ingest) -> None:
    """GoAccess fails the 15066 host-name lines; we keep them, and the IP-only figures still agree."""
    lake = ingested("nasa_aug95_common.log").fresh
    raw, ref = raw_log(real_logs, lake.name), goaccess(real_logs, lake.name)
    named = {host: n for host, n in raw.host_counts.items() if not _is_ip(host)}
    top = max(named, key=named.__getitem__)
    (rows, named_rows, top_rows), = lake.sql(
        f"select count(*), count(*) filter (where not {IS_IP}), "
        "count(*) filter (where client_ip = lower($top)) from {dataset}", top=top,
    ).rows()
    assert rows == len(raw.lines) == ref["total"] == 20000
    assert named_rows == sum(named.values()) == ref["failed"] == 15066
    assert top_rows == named[top]


@pytest.mark.parametrize(("name", "line", "length"), [
    ("secrepo_2021_combined.log", 335, 4785),  # longer than GoAccess's 4096-byte buffer
    ("elastic_apache_combined.log", 8899, None),  # User-Agent without its closing quote
])
def test_long_and_truncated_lines_are_rows(
    real_logs: Path, ingested: Ingest, name: str, line: int, length: int | None
) -> None:
    raw = raw_log(real_logs, name)
    if length is not None:
        assert len(raw.lines[line - 1]) == length
        assert max(len(text) for text in raw.lines) == length
    else:
        assert raw.lines[line - 1].endswith(b"bot.html")  # no closing quote
    got = ingested(name).fresh.sql(
        "select method, path, query, protocol, status, bytes, referrer, user_agent from {dataset} "
        "where source_line = $line", line=line,
    )
    assert got.height == 1
    method, path, query, protocol, status, size, referrer, agent = got.row(0)
    # The row gives the whole line back (the last quote is missing from the truncated one).
    target = path + ("" if query is None else f"?{query}")
    closing = '"' if length else ""
    tail = f'"{method} {target} {protocol}" {status} {size} "{referrer or "-"}" "{agent}{closing}'
    assert raw.lines[line - 1].decode().endswith(tail)


@each_log
def test_only_the_junk_line_is_rejected(ingested: Ingest, name: str) -> None:
    lake = ingested(name).archive
    expected = [(2, "xxxxxxxxxxxx", "does not match format combined")] if name.startswith("basjes_small") else []
    got = lake.sql("select source_line, line, reason from {dataset}", "rejects").rows() if lake.result.rejects else []
    assert got == expected


# ----------------------------------------------------------------- P3: old logs leave no IP on disk


@each_log
def test_archive_is_anonymised_on_write(ingested: Ingest, name: str) -> None:
    lake = ingested(name).archive
    assert lake.result.anonymized_on_write == lake.result.rows
    (personal, stamped, origins), = lake.sql(
        "select count(*) filter (where coalesce(client_ip, session_id, remote_user, forwarded_for, query,"
        "                                      user_agent) is not null),"
        "       count(*) filter (where anonymized_at is not null),"
        "       count(*) filter (where referrer is null"
        "                        or regexp_full_match(referrer, '[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*'))"
        " from {dataset}"
    ).rows()
    assert (personal, stamped, origins) == (0, lake.result.rows, lake.result.rows)


@each_log
def test_archive_keeps_every_non_personal_field(ingested: Ingest, name: str) -> None:
    both = ingested(name)
    columns = ("row_id, ts, method, path, protocol, status, bytes, referrer_host, browser, os, device, is_bot, "
               "is_page, source_line")
    old = both.archive.sql(f"select {columns} from {{dataset}} order by row_id")
    new = both.fresh.sql(f"select {columns} from {{dataset}} order by row_id")
    assert old.height == both.archive.result.rows
    assert old.equals(new)


@each_log
def test_no_known_client_address_anywhere_in_the_lake(real_logs: Path, ingested: Ingest, name: str) -> None:
    lake, raw = ingested(name).archive, raw_log(real_logs, name)
    ips = raw.ip_hosts
    names = [h.lower() for h, _ in raw.host_counts.most_common() if "." in h and not _is_ip(h)]  # NASA
    # The busiest clients, IPv6 ones, host names, and the smallest and largest host (those two would
    # be in plain text in the Parquet column statistics if they were stored).
    edges = [min(ips + names), max(ips + names)]
    known = {*ips[:3], *[h for h in ips if ":" in h][:2], *names[:3], *edges}
    if name == "basjes_small_malformed.log.gz":
        known.add("172.21.13.88")  # the one private-range client
    # 1. Read back: no string cell of either dataset mentions them.
    for dataset in ("requests", "rejects"):
        if (lake.path / dataset).exists():
            text = lake.sql("select * from {dataset}", dataset).select(pl.col(pl.String).fill_null(""))
            for host in known:
                hits = text.select(pl.any_horizontal(pl.all().str.contains(host, literal=True)).sum()).item()
                assert hits == 0, f"{host} found in {dataset}"
    # 2. The raw bytes of every file under the lake (Parquet, ledger, audit log, lock ...).
    files = [p for p in lake.path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files)
    for path in files:
        data = path.read_bytes()
        for host in known:
            assert host.encode() not in data, f"{host} in {path}"
    # The same check on the fresh lake (IPs kept) finds them: it can fail.
    fresh_bytes = b"".join(p.read_bytes() for p in ingested(name).fresh.path.rglob("*.parquet"))
    assert all(host.encode() in fresh_bytes for host in edges)


# ----------------------------------------------------------------- the marts beside GoAccess, panel by panel

#: Each log's zone for its days: its own UTC offset (GoAccess counts the date as logged), and the host
#: names an operator would give as the site's own (policy own_hosts: the site itself, never a referrer).
MART_SITES: dict[str, tuple[str, list[str]]] = {
    "basjes_hackers_combined_ipv6.log": ("Etc/GMT-1", ["*.basjes.nl", "niels.basj.es"]),
    "basjes_small_malformed.log.gz": ("Etc/GMT-2", ["*.basjes.nl"]),
    "elastic_apache_combined.log": ("UTC", ["semicomplete.com"]),
    "nasa_aug95_common.log": ("Etc/GMT+4", []),
    "secrepo_2018-12-15_combined.log": ("Etc/GMT+8", ["secrepo.com"]),
    "secrepo_2021_combined.log": ("Etc/GMT+7", ["secrepo.com"]),
    "secrepo_2022-12-22_combined.log": ("Etc/GMT+8", ["secrepo.com"]),
    "zanbil_nginx_combined_xff.log": ("Asia/Tehran", ["zanbil.ir"]),  # +03:30 in January 2019
}

#: What the same figure is in the marts and in GoAccess 1.7's report, by name: (ours, GoAccess).
Figures = dict[str, tuple[int, int]]


@dataclass(frozen=True)
class MartLake:
    lake: Path
    report: dict[str, Any]

    def mart(self, name: str) -> pl.DataFrame:
        return marts.read_mart(self.lake, name)


@pytest.fixture(scope="module")
def mart_lakes(ingested: Ingest) -> Callable[[str], MartLake]:
    """The fresh lake of a log (IPs kept) with its marts, built by the log's own local days."""
    done: dict[str, MartLake] = {}

    def build(name: str) -> MartLake:
        if name not in done:
            fresh = ingested(name).fresh
            zone, own = MART_SITES[name]
            policy = policy_from_mapping({"retention": {"anonymize_after_hours": 168},
                                          "site": {"timezone": zone, "own_hosts": own}})
            (record,) = ledger_records(fresh.path)
            marts.build_marts(Settings(lake=fresh.path, policy=policy), datetime.fromisoformat(record["ingested_at"]))
            done[name] = MartLake(fresh.path, json.loads(real_log_report(name).read_text(encoding="utf-8")))
        return done[name]

    return build


def _total(report: dict[str, Any], panel: str, what: str = "hits") -> int:
    return int(report[panel]["metadata"].get(what, {}).get("total", {}).get("value", 0))


def _own(host: str, own: list[str]) -> bool:
    bare = host.lower().removeprefix("www.")
    return any(bare == o or (o.startswith("*.") and (bare == o[2:] or bare.endswith(o[1:]))) for o in own)


def compare_with_goaccess(name: str, built: MartLake) -> Figures:
    """Every figure both report, from the marts and from GoAccess's JSON (panel totals are GoAccess's own)."""
    ga, mart = built.report, built.mart
    daily, hourly, codes = mart("daily_traffic"), mart("hourly_traffic"), mart("status_codes")
    days = {d.strftime("%Y%m%d"): (h, v) for d, h, v in daily.select("date", "count_requests",
                                                                      "count_unique_visitors").rows()}
    ga_days = {r["data"]: (r["hits"]["count"], r["visitors"]["count"]) for r in ga["visitors"]["data"]}
    hours = hourly.group_by("local_hour").agg(pl.col("count_requests").sum(), pl.col("count_visitors").sum())
    ga_hours = {int(r["data"]): r["hits"]["count"] for r in ga["visit_time"]["data"]}
    classes = dict(codes.group_by("status_class").agg(pl.col("count_visitors").sum()).rows())
    ga_classes = {r["data"][:3]: r["visitors"]["count"] for r in ga["status_codes"]["data"]}
    referred = dict(mart("referrers").group_by("referrer_host").agg(pl.col("count_requests").sum()).rows())
    ga_referred = {r["data"]: r["hits"]["count"] for r in ga["referring_sites"]["data"]}
    own = MART_SITES[name][1]
    pages, clients = mart("pages"), mart("clients")
    return {
        "requests": (daily["count_requests"].sum(), ga["general"]["valid_requests"]),
        "bytes": (daily["sum_bytes"].sum(), ga["general"]["bandwidth"]),
        "unique visitors": (daily["count_unique_visitors"].sum(), ga["general"]["unique_visitors"]),
        "days with GoAccess's hits and visitors": (sum(days.get(d) == v for d, v in ga_days.items()), len(ga_days)),
        "hours with GoAccess's hits": (sum(ga_hours.get(h) == n for h, n, _ in hours.rows()), len(ga_hours)),
        "visitors per hour, summed": (hours["count_visitors"].sum(), _total(ga, "visit_time", "visitors")),
        "404s": (codes.filter(pl.col("status") == 404)["count_requests"].sum(), _total(ga, "not_found")),
        "visitors of 404s": (codes.filter(pl.col("status") == 404)["count_visitors"].sum(),
                             _total(ga, "not_found", "visitors")),
        **{f"visitors of {c}": (classes.get(c, 0), ga_classes.get(c, 0)) for c in ("2xx", "3xx", "4xx", "5xx")},
        "hits of referring hosts listed by both": (
            sum(n for h, n in referred.items() if h in ga_referred),
            sum(n for h, n in ga_referred.items() if h in referred)),
        "hits of the site's own hosts as referrers": (
            sum(n for h, n in referred.items() if _own(h, own)),
            sum(n for h, n in ga_referred.items() if _own(h, own))),
        "visitors of browsers": (clients["count_visitors"].sum(), _total(ga, "browsers", "visitors")),
        "page views / GoAccess's requests": (pages["count_page_views"].sum(), _total(ga, "requests")),
        "visitors of pages / of GoAccess's requests": (pages["count_visitors"].sum(),
                                                       _total(ga, "requests", "visitors")),
    }


#: Why a figure differs from GoAccess 1.7 (docs/marts.md, "Comparison with GoAccess"); every other figure of
#: compare_with_goaccess agrees exactly on every log.
WHY: dict[str, str] = {
    "page views / GoAccess's requests": "GoAccess's requests panel counts every non-static, non-404 request (any "
        "method, status and client, keyed with the query string); a page view is a page answered 2xx/304 to a GET "
        "or POST of a person",
    "visitors of pages / of GoAccess's requests": "the same: visitors of page views of people",
    "visitors of 404s": "GoAccess counts no visitor for a 4xx answer (without --4xx-to-unique-count), so its 404 "
        "panel always shows 0; the marts count the clients that got them",
    "visitors of 4xx": "the same for the 4xx status codes",
    "hits of the site's own hosts as referrers": "GoAccess lists the site's own hosts as referring sites; the "
        "marts leave out the hosts the policy names (own_hosts)",
    "visitors per hour, summed": "GoAccess counts a few visitors fewer per hour of day than there are distinct "
        "(IP, agent) pairs per day and hour among its own non-4xx requests; no definition we tried (static files, "
        "methods, statuses, first hour only) reproduces its figure",
    "visitors of 2xx": "likewise one visitor fewer in GoAccess's 2xx class (4 distinct clients were answered 200)",
    "visitors of browsers": "GoAccess puts the visitors whose agent it cannot name in no browser",
    "requests": "NASA: GoAccess needs %h to be an IP and fails the 15,066 lines with host names; the lake keeps them",
}
WHY |= {key: WHY["requests"] for key in (
    "bytes", "unique visitors", "days with GoAccess's hits and visitors", "hours with GoAccess's hits", "404s",
    "visitors of 3xx")}

#: The figures that still differ from GoAccess, per log: (the marts, GoAccess), reasons in WHY.
DIFFERENCES: dict[str, Figures] = {
    "basjes_hackers_combined_ipv6.log": {
        "visitors per hour, summed": (771, 769),
        "visitors of 404s": (6, 0),
        "visitors of 4xx": (18, 0),
        "hits of the site's own hosts as referrers": (0, 3435),  # howto.basjes.nl 1,846, niels.basjes.nl 1,433 ...
        "page views / GoAccess's requests": (2846, 3444),
        "visitors of pages / of GoAccess's requests": (1946, 2930),
    },
    "basjes_small_malformed.log.gz": {
        "visitors of 2xx": (4, 3),
        "hits of the site's own hosts as referrers": (0, 11),
        "page views / GoAccess's requests": (10, 14),  # Ezooms' two pages are a crawler's
        "visitors of pages / of GoAccess's requests": (8, 14),
    },
    "elastic_apache_combined.log": {
        "visitors per hour, summed": (3117, 3115),
        "visitors of 404s": (98, 0),
        "visitors of 4xx": (101, 0),
        "hits of the site's own hosts as referrers": (0, 5039),  # www.semicomplete.com 3,038, semicomplete.com 2,001
        "visitors of browsers": (2095, 2093),
        "page views / GoAccess's requests": (1718, 4157),  # feed readers, crawlers, errors, HEAD are not page views
        "visitors of pages / of GoAccess's requests": (1488, 3086),
    },
    "nasa_aug95_common.log": {
        "requests": (20000, 4934),
        "bytes": (321739411, 64120637),
        "unique visitors": (1642, 409),
        "days with GoAccess's hits and visitors": (0, 1),
        "hours with GoAccess's hits": (0, 11),
        "visitors per hour, summed": (2059, 516),
        "404s": (187, 28),
        "visitors of 404s": (70, 0),
        "visitors of 2xx": (1605, 395),
        "visitors of 3xx": (377, 85),
        "visitors of 4xx": (71, 0),
        "visitors of browsers": (1642, 0),  # and GoAccess names no browser for a common-format log
        "page views / GoAccess's requests": (6477, 1562),
        "visitors of pages / of GoAccess's requests": (5410, 1200),
    },
    "secrepo_2018-12-15_combined.log": {
        "visitors of 404s": (65, 0),
        "visitors of 4xx": (92, 0),
        "hits of the site's own hosts as referrers": (0, 91),
        "visitors of browsers": (316, 315),
        "page views / GoAccess's requests": (104, 256),
        "visitors of pages / of GoAccess's requests": (99, 170),
    },
    "secrepo_2021_combined.log": {
        "visitors per hour, summed": (1968, 1959),
        "visitors of 404s": (185, 0),
        "visitors of 4xx": (195, 0),
        "hits of the site's own hosts as referrers": (0, 1093),
        "page views / GoAccess's requests": (562, 2087),
        "visitors of pages / of GoAccess's requests": (519, 1817),
    },
    "secrepo_2022-12-22_combined.log": {
        "visitors per hour, summed": (620, 605),
        "visitors of 404s": (280, 0),
        "visitors of 4xx": (291, 0),
        "hits of the site's own hosts as referrers": (0, 113),
        "page views / GoAccess's requests": (47, 263),  # 711 of its 1,262 requests are HEAD
        "visitors of pages / of GoAccess's requests": (39, 210),
    },
    "zanbil_nginx_combined_xff.log": {
        "visitors per hour, summed": (706, 705),
        "visitors of 404s": (26, 0),
        "visitors of 4xx": (34, 0),
        "hits of the site's own hosts as referrers": (0, 3983),
        "page views / GoAccess's requests": (4744, 8721),
        "visitors of pages / of GoAccess's requests": (3908, 8086),
    },
}


@each_log
def test_the_figures_that_still_differ_from_goaccess(mart_lakes: Callable[[str], MartLake], name: str) -> None:
    """Days by the log's own offset, the site's hosts named: every shared figure agrees but these, each with
    its reason in WHY (unique visitors per day included: issue 14's 836 / 94 against 170 / 51 for secrepo_2021's
    2021-10-27 were UTC days)."""
    figures = compare_with_goaccess(name, mart_lakes(name))
    differing = {key: pair for key, pair in figures.items() if pair[0] != pair[1]}
    assert differing == DIFFERENCES[name]
    assert set(differing) <= set(WHY)


@each_log
def test_page_views_are_the_pages_answered_2xx_or_304_to_get_or_post_of_people(
    mart_lakes: Callable[[str], MartLake], ingested: Ingest, name: str
) -> None:
    """HEAD requests (711 of secrepo_2022's 1,262), errors, redirects and automated clients are not page views."""
    built = mart_lakes(name)
    (expected, heads), = ingested(name).fresh.sql(
        "select count(*) filter (where is_page and method in ('GET', 'POST') and (status between 200 and 299 "
        "or status = 304) and coalesce(agent_group, 'person') = 'person'), count(*) filter (where method = 'HEAD') "
        "from {dataset}").rows()
    assert built.mart("daily_traffic")["count_page_views"].sum() == built.mart("pages")["count_page_views"].sum()
    assert built.mart("pages")["count_page_views"].sum() == expected
    if name == "secrepo_2022-12-22_combined.log":
        assert heads == 711


def test_the_zanbil_report_reads_decoded_and_leaves_404s_out_of_pages(
    mart_lakes: Callable[[str], MartLake], tmp_path: Path
) -> None:
    """Issue 14 on the zanbil log: Persian product paths were shown as %D8%A8...; a 404 URL (85 views) was the
    second page and an exit page."""
    built = mart_lakes("zanbil_nginx_combined_xff.log")
    pages, exits = built.mart("pages"), built.mart("entry_exit_pages")
    client_errors = built.mart("status_paths").filter(pl.col("status_class") == "4xx").group_by("path").agg(
        pl.col("count_requests").sum().alias("errors"))
    answered = built.mart("resources").group_by("path").agg(pl.col("count_requests").sum())
    only_4xx = client_errors.join(answered, on="path").filter(pl.col("errors") == pl.col("count_requests"))
    missing = set(only_4xx["path"])  # URLs that never answered anything but 4xx
    assert len(missing) > 10 and any(p.startswith("/amp_preconnect_polyfill_404") for p in missing)
    assert not missing & set(pages["path"]) and not missing & set(exits["path"])
    persian = [p for p in pages["path"] if any("\u0600" <= ch <= "\u06ff" for ch in p)]
    assert persian and not [p for p in pages["path"] if re.search("%D[89AB]", p, re.IGNORECASE)]
    out = tmp_path / "zanbil.html"
    write_report(Settings(lake=built.lake), out, now=ARCHIVE_NOW)
    text = out.read_text(encoding="utf-8")
    section = text.split('id="pages"', 1)[1].split("</section>", 1)[0]
    top = pages.group_by("path").agg(pl.col("count_page_views").sum()).sort("count_page_views", descending=True)
    assert top["path"][0] in html.unescape(section) and persian[0][:40] in html.unescape(text)
    assert "%D8" not in section.upper()


@pytest.mark.parametrize(("name", "host", "engine"), [
    ("elastic_apache_combined.log", "r.duckduckgo.com", "DuckDuckGo"),
    ("elastic_apache_combined.log", "images.google.com", "Google Images"),
    ("elastic_apache_combined.log", "images.yandex.ru", "Yandex Images"),
    ("elastic_apache_combined.log", "image.baidu.com", "Baidu Images"),  # the local supplement of the list
    ("zanbil_nginx_combined_xff.log", "com.google.android.googlequicksearchbox", "Google"),  # an app referrer
])
def test_the_search_engines_the_hand_list_missed(
    mart_lakes: Callable[[str], MartLake], name: str, host: str, engine: str
) -> None:
    referrers = mart_lakes(name).mart("referrers").filter(pl.col("referrer_host") == host)
    assert referrers.height >= 1
    assert set(referrers["referrer_kind"]) == {"search"} and set(referrers["referrer_name"]) == {engine}
    engines = mart_lakes(name).mart("search_engines").group_by("search_engine").agg(pl.col("count_requests").sum())
    assert dict(engines.rows())[engine] >= referrers["count_requests"].sum()
