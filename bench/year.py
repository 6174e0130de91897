"""A year of nights: does the nightly's cost grow with the lake's age?

    uv run python bench/year.py                          # 365 days of 2,000 lines; nights 10, 100, 365
    uv run python bench/year.py --s3                     # ... the lake on S3 (SeaweedFS on 127.0.0.1)
    uv run python bench/year.py --days 30 --at 10 30 --lines-per-day 500 --runs 1   # quick look

Builds a lake day by day as the nightly would leave it (each day's log ingested
at 02:30 Europe/Berlin after the day, its marts built, the backlog anonymised;
one audit at the end of each stretch of days verifies every file, as the nightly
audits of those days would have: the manifest of verified files is part of
the lake the nightly finds), and at the nights given by ``--at`` runs
the real nightly (``accesslake.pipeline.run_nightly``, in a fresh process, one
new day in landing/) and records:

* its wall time (median of ``--runs``; the lake is copied back before each run),
* on a folder: the Parquet files the process opened, by store, counted with
  ``strace -f -e trace=openat`` (when strace is installed; else not counted),
* on S3: the requests it made, by operation, counted with botocore events,
* its peak memory.

Small days are enough: the point is the number of files and partitions. The
result goes to ``--out`` (``bench/out/year/year.json``, ``year-s3.json``); ``bench/plots.py`` draws it
into docs/ (nightly time against the lake's age).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))

from run import MIB, measure, step_command  # noqa: E402

FIRST_DAY_END = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)  # the lake's first day is 2025-12-31 (UTC)
NIGHT = timedelta(hours=1, minutes=30)  # 02:30 Europe/Berlin in winter
STORES = ("requests", "held", "rejects", "marts", "forensics", "quarantine", "landing", "other")


def night_of(day: int) -> datetime:
    """The nightly run after day ``day`` (1-based)."""
    return FIRST_DAY_END + timedelta(days=day - 1) + NIGHT


def store_of(path: str, lake: str) -> str | None:
    if not path.startswith(lake.rstrip("/") + "/"):
        return None
    first = path[len(lake.rstrip("/")) + 1:].split("/", 1)[0]
    return first if first in STORES else "other"


def opened_files(trace: Path, lake: str) -> dict[str, int]:
    """Distinct Parquet files under ``lake`` that ``strace`` saw opened, by store."""
    seen: set[str] = set()
    pattern = re.compile(r'openat\([^,]+, "([^"]+)"')
    for line in trace.read_text(errors="replace").splitlines():
        match = pattern.search(line)
        if match and match.group(1).endswith(".parquet") and "ENOENT" not in line:
            seen.add(match.group(1))
    counts = Counter(store_of(path, lake) for path in seen)
    counts.pop(None, None)
    return dict(sorted((str(k), v) for k, v in counts.items()))


def build(lake: str, upto: int, lines: int, work: Path, done: int) -> None:
    """Add days ``done+1 .. upto`` to the lake, as the nightly leaves them (without the audit)."""
    if upto > done:
        measure(step_command("year_build", lake=lake, first=done + 1, last=upto, lines=lines,
                             start=FIRST_DAY_END.isoformat(), work=work), work / "build.txt")


def nightly_once(lake: str, day: int, lines: int, work: Path, s3: bool, *, trace: bool = False) -> dict[str, Any]:
    """One nightly run after ``day`` with that day's log in landing/; its time, and (``trace``) the files it
    opened (under strace, which slows every system call: such a run is not timed) or the requests it made."""
    args = {"lake": lake, "day": day, "lines": lines, "start": FIRST_DAY_END.isoformat(), "work": work}
    command = step_command("year_night", **args)
    trace_file = work / f"strace-{day}.txt"
    traced = trace and not s3 and shutil.which("strace") is not None
    if traced:
        command = ["strace", "-f", "-qq", "-e", "trace=openat", "-o", str(trace_file), *command]
    sample = measure(command, work / f"night-{day}.txt")
    row: dict[str, Any] = {"seconds": sample.seconds, "wall": sample.wall, "peak_mib": sample.peak_bytes / MIB,
                           **{k: v for k, v in sample.report.items() if k not in ("seconds", "items")}}
    if traced:
        row["opened_parquet"] = opened_files(trace_file, str(Path(lake).resolve()))
        trace_file.unlink()
    return row


def copy_lake(source: str, target: str, s3: bool) -> None:
    if s3:
        measure(step_command("copy_lake", source=source, target=target), Path(tempfile.gettempdir()) / "copy.txt")
    else:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target, symlinks=True)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--at", type=int, nargs="+", default=[10, 100, 365], help="nights to measure")
    parser.add_argument("--lines-per-day", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--s3", action="store_true", help="the lake on S3 (SeaweedFS on 127.0.0.1)")
    parser.add_argument("--out", type=Path, default=BENCH / "out" / "year")
    parser.add_argument("--smoke", action="store_true", help="4 days of 300 lines, nights 2 and 4, one run (CI)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.days, args.at, args.lines_per_day, args.runs = 4, [2, 4], 300, 1
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="year-", dir=args.out))
    server = None
    try:
        if args.s3:
            from s3_kit import S3Server

            server = S3Server(work / "seaweed").start()
            os.environ.update(server.env)
            base = f"s3://{server.bucket}/year-{uuid.uuid4().hex[:8]}"
            lake, scratch = f"{base}/lake", f"{base}/night"
        else:
            lake, scratch = str(work / "lake"), str(work / "night")
        results: dict[str, Any] = {}
        done = 0
        for day in sorted(d for d in args.at if d <= args.days):
            build(lake, day, args.lines_per_day, work, done)
            done = day
            runs = []
            for _ in range(args.runs):
                copy_lake(lake, scratch, args.s3)
                runs.append(nightly_once(scratch, day + 1, args.lines_per_day, work, args.s3))
            row = dict(runs[0])
            row["seconds"] = statistics.median(r["seconds"] for r in runs)
            row["wall"] = statistics.median(r["wall"] for r in runs)
            row["peak_mib"] = max(r["peak_mib"] for r in runs)
            row["all_seconds"] = [round(r["seconds"], 3) for r in runs]
            row["load_average"] = [round(x, 2) for x in os.getloadavg()]
            if not args.s3 and shutil.which("strace") is not None:  # one more run, traced, for the files opened
                copy_lake(lake, scratch, args.s3)
                row["opened_parquet"] = nightly_once(scratch, day + 1, args.lines_per_day, work, args.s3,
                                                     trace=True)["opened_parquet"]
            results[str(day)] = row
            counts = {k: v for k, v in row.items() if k not in ("seconds", "wall", "peak_mib", "all_seconds")}
            print(f"night after day {day:>3}: {row['seconds']:6.2f} s (wall {row['wall']:.2f} s, peak "
                  f"{row['peak_mib']:.0f} MiB) {json.dumps(counts)}", flush=True)
        report = {"days": args.days, "lines_per_day": args.lines_per_day, "runs": args.runs,
                  "storage": "s3" if args.s3 else "folder", "nights": results}
        name = "year-s3.json" if args.s3 else "year.json"
        (args.out / name).write_text(json.dumps(report, indent=2, default=str))
        return report
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
