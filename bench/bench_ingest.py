"""Benchmark: ingest a generated combined-format log; print lines/s and peak memory.

    uv run python bench/bench_ingest.py                 # 2,000,000 lines
    uv run python bench/bench_ingest.py --lines 500000 --lines 2000000   # memory vs size

The log is generated once per size into bench/out/ (git-ignored) with
:func:`accesslake.loggen.generate_log`: about lines/6 distinct clients, a
growing page catalogue, sessions, bots and a daily rhythm; not one small file
repeated. Each ingest runs in a fresh child process so its peak resident
memory (``ru_maxrss``) is its own. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
NOW = datetime(2026, 11, 29, 3, 0, tzinfo=timezone.utc)

CHILD = """
import json, sys, time, resource
from datetime import datetime
from pathlib import Path
from accesslake.config import Settings
from accesslake.ingest import ingest_file
from accesslake.lake import writer_lock
path, lake, now = Path(sys.argv[1]), Path(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
settings = Settings(lake=lake)
start = time.perf_counter()
with writer_lock(lake):
    result = ingest_file(path, settings, now, fmt=sys.argv[4], cookie="sid")
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": elapsed, "lines": result.lines_read, "rows": result.rows,
                  "rejects": result.rejects, "peak_bytes": peak}))
"""


def generated(lines: int) -> Path:
    from accesslake.loggen import generate_log

    path = OUT / f"combined-{lines}.log"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        generate_log(path, now=NOW, days=1, lines=lines, seed=42)
        print(f"generated {path.name} ({path.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - start:.1f} s")
    return path


def run_once(path: Path, fmt: str) -> dict[str, float]:
    lake = OUT / "lake"
    shutil.rmtree(lake, ignore_errors=True)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(lake), NOW.isoformat(), fmt],
        check=True, capture_output=True, text=True,
    )
    shutil.rmtree(lake, ignore_errors=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, action="append", help="log size(s); default 2000000")
    parser.add_argument("--runs", type=int, default=3, help="runs per size; the median is reported")
    args = parser.parse_args()
    from accesslake.loggen import DEMO_FORMAT

    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
          f"{__import__('os').cpu_count()} cores, Python {platform.python_version()}")
    for lines in args.lines or [2_000_000]:
        path = generated(lines)
        runs = sorted((run_once(path, DEMO_FORMAT) for _ in range(args.runs)), key=lambda r: r["seconds"])
        median = runs[len(runs) // 2]
        print(f"ingest {lines:>10,} lines: {median['lines'] / median['seconds']:>10,.0f} lines/s "
              f"(median of {args.runs}: {median['seconds']:.2f} s), peak memory "
              f"{max(r['peak_bytes'] for r in runs) / 2**20:.0f} MiB, rows {median['rows']:,}, "
              f"rejects {median['rejects']:,}")


if __name__ == "__main__":
    main()
