"""One benchmark step, run in its own process by ``bench/run.py``.

    python bench/steps.py STEP '{"lake": ..., ...}'

prints one JSON object on its last line of output: ``seconds`` (the timed
call only: imports, Python start-up and setup are outside it), ``items``
(what the throughput counts: lines, rows) and step-specific counts. The
parent reads the process's peak memory and CPU time from ``wait4``, so every
step runs alone in a fresh interpreter and its ``ru_maxrss`` is its own.

Steps: ``generate`` (the log), ``ingest``, ``marts``, ``anonymize``, ``nightly`` (accesslake) and
``floor`` (the PyArrow rewrite floor: read each requests file, null the
client IP, write it back crash-safely, as anonymisation must).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

Result = dict[str, Any]


def _settings(lake: str) -> Any:
    from accesslake.config import Settings
    from accesslake.storage import lake_root

    return Settings(lake=lake_root(lake))  # a folder or s3://bucket/prefix (bench/s3.py)


def _format(args: dict[str, Any]) -> str:
    from accesslake.demo.loggen import DEMO_FORMAT

    return str(args.get("format", DEMO_FORMAT))


def generate(args: dict[str, Any]) -> Result:
    from accesslake.demo.loggen import generate_log

    start = time.perf_counter()
    result = generate_log(Path(args["log"]), now=datetime.fromisoformat(args["now"]), days=int(args.get("days", 1)),
                          lines=int(args["lines"]), seed=42)
    return {"seconds": time.perf_counter() - start, "items": result.lines}


def ingest(args: dict[str, Any]) -> Result:
    from accesslake.ingest import ingest_file
    from accesslake.storage import writer_lock

    settings = _settings(args["lake"])
    now = datetime.fromisoformat(args["now"])
    start = time.perf_counter()
    with writer_lock(settings.lake):
        result = ingest_file(Path(args["log"]), settings, now, site=args["site"], fmt=_format(args),
                             cookie=args["cookie"])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "items": result.lines_read, "rows": result.rows, "rejects": result.rejects,
            "files": len(result.files)}


def marts(args: dict[str, Any]) -> Result:
    from accesslake.analytics.marts import build_marts, input_files
    from accesslake.storage import parquet_metadata, writer_lock

    settings = _settings(args["lake"])
    day = date.fromisoformat(args["day"])
    rows = sum(parquet_metadata(p).num_rows for p in input_files(settings.lake, args["site"], day))
    start = time.perf_counter()
    with writer_lock(settings.lake):
        result = build_marts(settings, datetime.fromisoformat(args["now"]), days=[(args["site"], day)])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "items": rows, "files": result.files_written}


def detect(args: dict[str, Any]) -> Result:
    """Abuse detection over the lake's days still inside anonymize_after (rows/s: the rows it reads)."""
    from accesslake.forensics.candidates import detect as run_detect
    from accesslake.storage import Layout, parquet_metadata, writer_lock

    settings = _settings(args["lake"])
    rows = sum(parquet_metadata(p).num_rows for p in _files(Layout(settings.lake).requests))
    start = time.perf_counter()
    with writer_lock(settings.lake):
        result = run_detect(settings, datetime.fromisoformat(args["now"]))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "items": rows, "candidates": result.count_candidates}


def _files(root: Any) -> list[Any]:
    from accesslake.storage import list_files

    return list_files(root)


def anonymize(args: dict[str, Any]) -> Result:
    from accesslake.retention import run_retention as run
    from accesslake.storage import writer_lock

    settings = _settings(args["lake"])
    start = time.perf_counter()
    with writer_lock(settings.lake):
        result = run(settings, datetime.fromisoformat(args["now"]))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "items": result.rows_anonymized, "files": result.files_rewritten}


class PeakPerCall:
    """The nightly's executor, run in this process, noting each library call's wall time and peak resident
    memory (Linux: the peak is reset before each call through /proc/self/clear_refs)."""

    def __init__(self) -> None:
        from accesslake.pipeline import InProcess

        self.inner = InProcess()
        self.calls: dict[str, dict[str, float]] = {}

    def _around(self, name: str, run: Callable[[], Any]) -> Any:
        _reset_peak()  # (this lowers the ru_maxrss the parent reads: the step reports its own peak instead)
        before = _peak_mib()
        start = time.perf_counter()
        try:
            return run()
        finally:
            seen = self.calls.setdefault(name, {"seconds": 0.0, "peak_mib": 0.0, "rss_before_mib": before})
            seen["seconds"] += time.perf_counter() - start
            seen["peak_mib"] = max(seen["peak_mib"], _peak_mib())

    def call(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        return self._around(name, lambda: self.inner.call(name, fn, *args))

    def map(self, name: str, fn: Callable[..., Any], items: list[Any], *args: Any, **kw: Any) -> list[Any]:
        return self._around(name, lambda: self.inner.map(name, fn, items, *args, **kw))  # type: ignore[no-any-return]


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def nightly(args: dict[str, Any]) -> Result:
    from accesslake.pipeline import NightlyOptions, run_nightly

    settings = _settings(args["lake"])
    executor = PeakPerCall() if args.get("per_call") else None
    start = time.perf_counter()
    result = run_nightly(settings, datetime.fromisoformat(args["now"]),
                         NightlyOptions(site=args["site"], fmt=_format(args), cookie=args["cookie"]),
                         executor=executor)
    seconds = time.perf_counter() - start
    audit_ok = result.audit is not None and result.audit.ok
    out: Result = {"seconds": seconds, "items": sum(r.lines_read for r in result.ingested),
                   "marts_days": len(result.marts.built) if result.marts else 0, "audit_ok": audit_ok}
    if executor is not None:
        out["calls"] = {k: {m: round(v, 2) for m, v in c.items()} for k, c in executor.calls.items()}
        out["peak_mib"] = max(c["peak_mib"] for c in executor.calls.values())
    return out


def floor(args: dict[str, Any]) -> Result:
    """Read -> null ``client_ip`` -> write (zstd, as the lake) -> fsync -> rename, per requests file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(Path(args["lake"], "requests").rglob("*.parquet"))
    rows = 0
    start = time.perf_counter()
    for path in files:
        table = pq.read_table(path)
        index = table.schema.get_field_index("client_ip")
        field = table.schema.field(index)
        table = table.set_column(index, field, pa.nulls(table.num_rows, field.type))
        tmp = path.with_name(f".{path.name}.tmp")
        pq.write_table(table, tmp, compression="zstd")
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        rows += table.num_rows
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "items": rows, "files": len(files)}


# The fields of a demo-format line: combined + %D + the sid cookie (bench/shapes.py reshapes them).
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_DEMO_LINE = (rf"^(?P<host>\S+) (?P<ident>\S+) (?P<user>\S+) (?P<time>\[[^\]]+\]) \"(?P<method>\S+) "
              rf"(?P<target>\S+) (?P<proto>[^\"]+)\" (?P<status>\S+) (?P<bytes>\S+) (?P<referrer>{_QUOTED}) "
              rf"\"(?P<agent>(?:[^\"\\]|\\.)*)\" (?P<micros>\S+) (?P<cookie>{_QUOTED})$")


def reshape(args: dict[str, Any]) -> Result:
    """A demo-format log rewritten as another shape (bench/shapes.py); unmatched lines are kept as they are."""
    import polars as pl

    shape = args["shape"]
    text = Path(args["source"]).read_bytes().decode("utf-8", errors="replace")
    lines = pl.Series("line", text.removesuffix("\n").split("\n"), dtype=pl.String)
    start = time.perf_counter()
    parts = lines.str.extract_groups(_DEMO_LINE).struct.unnest().with_columns(line=lines,
                                                                              n=pl.int_range(pl.len()))
    ok = pl.col("host").is_not_null()
    host, target, agent = pl.col("host"), pl.col("target"), pl.col("agent")
    if shape == "combined-3days-returning":  # 5,000 addresses, each coming back every day
        slot = (pl.col("host").hash(seed=7) % 5000).cast(pl.Int64)
        host = pl.format("198.18.{}.{}", slot // 256, slot % 256)
    if shape == "combined-many-agents":  # a build number per line, from a pool of lines/20
        build = (pl.col("n").hash(seed=11) % max(1, len(lines) // 20)).cast(pl.String)
        agent = pl.col("agent").str.replace(r"^([^(]*\()", "${1}build " + "", literal=False) + " b/" + build
    if shape == "combined-many-paths":  # most requests get a path and query of their own
        target = pl.format("/x{}{}?v={}", pl.col("n") % 250_000, pl.col("target"), pl.col("n"))
    request = pl.format('"{} {} {}"', pl.col("method"), target, pl.col("proto"))
    combined = pl.concat_str([host, pl.col("ident"), pl.col("user"), pl.col("time"), request, pl.col("status"),
                              pl.col("bytes"), pl.col("referrer"), pl.format('"{}"', agent)], separator=" ")
    common = pl.concat_str([host, pl.col("ident"), pl.col("user"), pl.col("time"), request, pl.col("status"),
                            pl.col("bytes")], separator=" ")
    out = parts.select(pl.when(ok).then(common if shape == "common-1day" else combined)
                       .otherwise(pl.col("line")).alias("line"))
    Path(args["target"]).write_text("\n".join(out["line"].to_list()) + "\n", encoding="utf-8")
    return {"seconds": time.perf_counter() - start, "items": out.height,
            "distinct": {"hosts": parts.select(host.n_unique()).item(),
                         "agents": parts.select(agent.n_unique()).item(),
                         "targets": parts.select(target.n_unique()).item()}}


def _day_log(folder: Path, day: int, args: dict[str, Any]) -> Path:
    """The demo log of day ``day`` of bench/year.py's lake (seeded by the day), written into ``folder``."""
    from datetime import timedelta

    from accesslake.demo.loggen import generate_log

    end = datetime.fromisoformat(args["start"]) + timedelta(days=day - 1)
    path = folder / f"access-{end:%Y%m%d}.log"
    generate_log(path, now=end, days=1, lines=int(args["lines"]), seed=day)
    return path


def _night(args: dict[str, Any], day: int) -> datetime:
    from datetime import timedelta

    return datetime.fromisoformat(args["start"]) + timedelta(days=day - 1, hours=1, minutes=30)


def year_build(args: dict[str, Any]) -> Result:
    """Days ``first..last`` of bench/year.py's lake, as the nightly leaves them: ingest, marts, retention each
    day, then one audit (it verifies every file, as the nightly audits of those days would have)."""
    from accesslake.analytics import build_marts
    from accesslake.audit import run_audit
    from accesslake.demo.loggen import DEMO_COOKIE, DEMO_FORMAT
    from accesslake.ingest import ingest_file
    from accesslake.retention import run_retention
    from accesslake.storage import writer_lock

    settings = _settings(args["lake"])
    scratch = Path(args["work"]) / "build"
    scratch.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with writer_lock(settings.lake):
        for day in range(int(args["first"]), int(args["last"]) + 1):
            log = _day_log(scratch, day, args)
            night = _night(args, day)
            ingest_file(log, settings, night, site="www", fmt=DEMO_FORMAT, cookie=DEMO_COOKIE)
            build_marts(settings, night)
            run_retention(settings, night)
            log.unlink()
        audit = run_audit(settings, _night(args, int(args["last"])))
    return {"seconds": time.perf_counter() - start, "items": int(args["last"]) - int(args["first"]) + 1,
            "audit_ok": audit.ok}


def _count_s3_requests(lake: Any) -> Counter[str]:
    """Count every S3 request the process makes from now on, by operation (botocore events)."""
    from fsspec.asyn import sync

    counts: Counter[str] = Counter()
    fs = lake.fs
    sync(fs.loop, fs.set_session)

    def seen(event_name: str = "", **_: Any) -> None:
        counts[event_name.rsplit(".", 1)[-1]] += 1

    fs.s3.meta.events.register("before-send.s3", seen)
    return counts


def year_night(args: dict[str, Any]) -> Result:
    """The real nightly run after day ``day`` of bench/year.py's lake, that day's log in landing/."""
    from accesslake.demo.loggen import DEMO_COOKIE, DEMO_FORMAT
    from accesslake.pipeline import NightlyOptions, run_nightly
    from accesslake.storage import Layout, local_path, write_bytes_atomic

    settings = _settings(args["lake"])
    day = int(args["day"])
    scratch = Path(args["work"]) / "landing-scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    log = _day_log(scratch, day, args)
    write_bytes_atomic(Layout(settings.lake).landing / log.name, log.read_bytes())
    log.unlink()
    requests = None if local_path(settings.lake) is not None else _count_s3_requests(settings.lake)
    start = time.perf_counter()
    result = run_nightly(settings, _night(args, day), NightlyOptions(site="www", fmt=DEMO_FORMAT, cookie=DEMO_COOKIE))
    seconds = time.perf_counter() - start
    out: Result = {"seconds": seconds, "items": sum(r.lines_read for r in result.ingested),
                   "audit_ok": bool(result.audit and result.audit.ok), "failures": len(result.failures)}
    if result.audit is not None:
        out.update(audit_read=result.audit.files_read, audit_skipped=result.audit.files_skipped)
        if result.audit.violations:
            out["violations"] = result.audit.violations[:3]
    if result.anonymized is not None:
        out.update(retention_read=result.anonymized.files_checked, retention_skipped=result.anonymized.files_skipped)
    if result.marts is not None:
        out["marts_built"] = [f"{site} {day}" for site, day in result.marts.built]
    if result.failures:
        out["failed"] = [f.line() for f in result.failures[:3]]
    if requests is not None:
        out["s3_requests"] = dict(sorted(requests.items()))
        out["s3_requests_total"] = sum(requests.values())
    return out


def copy_lake(args: dict[str, Any]) -> Result:
    """Copy an S3 lake prefix to another (bench/year.py runs each measured night on a copy): object by object,
    oldest first, so that the copies' upload times keep the order of the originals' (the marts' staleness
    compares them; a copy keeps each object's ETag, which the manifest of verified files compares)."""
    from accesslake.storage import lake_root, stats

    source, target = lake_root(args["source"]), lake_root(args["target"])
    start = time.perf_counter()
    fs = source.fs
    old = fs.find(target.path)
    if old:
        fs.rm(old)
    prefix = str(source).rstrip("/") + "/"
    listed = sorted(stats(source).items(), key=lambda kv: (kv[1][1], kv[0]))
    for key, _ in listed:
        fs.copy(f"{source.path}/{key[len(prefix):]}", f"{target.path}/{key[len(prefix):]}")
    return {"seconds": time.perf_counter() - start, "items": len(listed)}


STEPS: dict[str, Callable[[dict[str, Any]], Result]] = {
    "generate": generate, "ingest": ingest, "marts": marts, "detect": detect, "anonymize": anonymize,
    "nightly": nightly, "floor": floor,
    "reshape": reshape, "year_build": year_build, "year_night": year_night, "copy_lake": copy_lake,
}


def main(argv: list[str]) -> None:
    step, args = argv[0], json.loads(argv[1])
    print(json.dumps(STEPS[step](args)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
