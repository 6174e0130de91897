"""Ingest against GoAccess on several shapes of log: the 10x target must hold on every one.

    uv run python bench/shapes.py                      # 2,000,000 lines per shape, median of 3
    uv run python bench/shapes.py --lines 500000 --runs 1 --shapes combined-3days-returning
    uv run python bench/shapes.py --smoke              # tiny sizes (CI)

A log's shape changes what costs: how many days it spans (partitions), how many
distinct clients (GoAccess slows down with many), user agents (parsed once per
distinct string) and paths, and its format. Each shape starts from the demo
generator (:func:`accesslake.demo.loggen.generate_log`: a realistic shop with
sessions, bots and attacks) and is reshaped in a child process with Polars:

=============================  ====================================================================
shape                          what it is
=============================  ====================================================================
demo-1day                      the generator's own: one day, demo format (combined + %D + cookie),
                               about lines/6 distinct clients
combined-1day                  the same day in Apache ``combined`` (GoAccess's COMBINED preset)
combined-3days-returning       three days, ``combined``, 5,000 distinct client addresses that come
                               back every day (a smaller site with returning visitors)
combined-many-agents           ``combined``, one day, a distinct user agent every few lines
                               (browser builds, app versions: a long tail of strings)
combined-many-paths            ``combined``, one day, a distinct path and query on most page views
common-1day                    Common Log Format (no referrer, no user agent; COMMON preset)
=============================  ====================================================================

GoAccess runs with its preset wherever one fits (``COMBINED``, ``COMMON``), with
the explicit format string for the demo format. The ratio is GoAccess's process
wall time over ours (same lines: time ratio = lines/s ratio). Peak memory of each
ingest is reported too. Nothing here asserts: the target is reported as met or not.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (
    BENCH,
    GOACCESS_FORMAT,
    LOG_END,
    MIB,
    NIGHTLY_AT,
    _count_lines,
    machine,
    measure,
    step_command,
)

#: shape -> (days, GoAccess --log-format, accesslake --format)
SHAPES: dict[str, tuple[int, str, str]] = {
    "demo-1day": (1, GOACCESS_FORMAT, "demo"),
    "combined-1day": (1, "COMBINED", "combined"),
    "combined-3days-returning": (3, "COMBINED", "combined"),
    "combined-many-agents": (1, "COMBINED", "combined"),
    "combined-many-paths": (1, "COMBINED", "combined"),
    "common-1day": (1, "COMMON", "common"),
}
TARGET = 10.0


def shaped(out: Path, shape: str, lines: int) -> Path:
    """The log of ``shape`` with ``lines`` lines, generated once (in a child) and reused."""
    path = out / f"{shape}-{lines}.log"
    if not path.exists():
        out.mkdir(parents=True, exist_ok=True)
        days = SHAPES[shape][0]
        base = out / f"base-{days}d-{lines}.log"
        if not base.exists():
            measure(step_command("generate", log=base, now=LOG_END.isoformat(), lines=lines, days=days),
                    out / "generate.txt")
        if shape == "demo-1day":
            shutil.copyfile(base, path)
        else:
            tmp = path.with_suffix(".tmp")
            done = measure(step_command("reshape", source=base, target=tmp, shape=shape), out / "reshape.txt")
            path.with_suffix(".json").write_text(json.dumps(done.report.get("distinct", {})))
            tmp.replace(path)
    return path


def one(out: Path, shape: str, log: Path, run: int) -> dict[str, Any]:
    """Ingest and GoAccess once on ``log``."""
    work = out / f"work-{shape}-{run}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    fmt = SHAPES[shape][2]
    args: dict[str, Any] = {"log": log, "lake": work / "lake", "now": NIGHTLY_AT.isoformat(), "site": "www",
                            "cookie": "sid"}
    if fmt != "demo":
        args["format"] = fmt
    ours = measure(step_command("ingest", **args), work / "ingest.txt")
    row: dict[str, Any] = {"ingest_wall": ours.wall, "ingest_seconds": ours.seconds,
                           "ingest_peak_mib": ours.peak_bytes / MIB, "lines": ours.report.get("items")}
    exe = shutil.which("goaccess")
    if exe:
        goaccess_format = SHAPES[shape][1]
        command = [exe, str(log), "--no-global-config", "--no-progress", f"--log-format={goaccess_format}",
                   "-o", str(work / "goaccess.json")]
        if goaccess_format not in ("COMBINED", "COMMON"):
            command += ["--date-format=%d/%b/%Y", "--time-format=%T"]
        theirs = measure(command, work / "goaccess.txt")
        row.update(goaccess_wall=theirs.wall, ratio=theirs.wall / ours.wall)
    shutil.rmtree(work, ignore_errors=True)
    return row


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shapes", nargs="*", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--out", type=Path, default=BENCH / "out" / "shapes")
    parser.add_argument("--smoke", action="store_true", help="5,000 lines, one run (CI)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.lines, args.runs = 5_000, 1
    info = machine()
    print(f"machine: {info['nproc']} cores, {info['cpu']}; GoAccess {info['goaccess']}", flush=True)
    results: dict[str, Any] = {}
    for shape in args.shapes:
        log = shaped(args.out, shape, args.lines)
        runs = [one(args.out, shape, log, run) for run in range(args.runs)]
        summary = {key: statistics.median(r[key] for r in runs) for key in runs[0] if key != "lines"}
        summary["lines"] = _count_lines(log)
        stats = log.with_suffix(".json")
        summary["distinct"] = json.loads(stats.read_text()) if stats.exists() else {}
        results[shape] = summary
        ratio = summary.get("ratio")
        print(f"{shape:<26} {summary['lines']:>10,} lines  ingest {summary['ingest_wall']:7.2f} s "
              f"({summary['lines'] / summary['ingest_wall']:>9,.0f} lines/s, peak {summary['ingest_peak_mib']:,.0f} "
              f"MiB)" + (f"  GoAccess {summary['goaccess_wall']:7.2f} s  ratio {ratio:5.1f}x "
                         f"{'met' if ratio >= TARGET else 'NOT MET'}" if ratio else "  GoAccess: not installed"),
              flush=True)
    report = {"machine": info, "lines": args.lines, "runs": args.runs, "target": TARGET, "shapes": results}
    (args.out / "shapes.json").write_text(json.dumps(report, indent=2, default=str))
    return report


if __name__ == "__main__":
    main()
