"""The curves of docs/performance.md, drawn from the benchmarks' results (matplotlib, a dev dependency).

    uv run python bench/plots.py                 # reads bench/out/, writes docs/performance-*.png

* ``performance-year.png``: the nightly's time against the lake's age (``bench/year.py``: a folder and
  S3), with the Parquet files it opened (folder) and the S3 requests it made;
* ``performance-ingest.png``: ingest time and peak memory against the size of the log
  (``bench/run.py`` at several ``--lines``, and ``--big``);
* ``performance-memory.png``: the peak memory of ingest, marts, detection and the nightly at 2M and
  20M lines (``bench/run.py --big 20000000 --big-steps ...``) against the 512 MiB target.

A result that is missing is left out of its figure (said on the output).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
DOCS = BENCH.parent / "docs"
STEPS = ("ingest", "marts", "detect", "nightly")


def _load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def year(out: Path, docs: Path) -> Path | None:
    import matplotlib.pyplot as plt

    runs = {label: _load(out / "year" / name) for label, name in (("folder", "year.json"), ("S3", "year-s3.json"))}
    runs = {k: v for k, v in runs.items() if v}
    if not runs:
        return None
    fig, (time_ax, reads_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for label, run in runs.items():
        days = sorted(int(d) for d in run["nights"])
        nights = [run["nights"][str(d)] for d in days]
        time_ax.plot(days, [n["seconds"] for n in nights], marker="o", label=f"{label} (median of {run['runs']})")
        if label == "folder" and all("opened_parquet" in n for n in nights):
            reads_ax.plot(days, [sum(n["opened_parquet"].values()) for n in nights], marker="o",
                          label="Parquet files opened (folder)")
        if all("s3_requests_total" in n for n in nights):
            reads_ax.plot(days, [n["s3_requests_total"] for n in nights], marker="s", label="S3 requests")
    lines = next(iter(runs.values()))["lines_per_day"]
    time_ax.set(title=f"Nightly run against the lake's age ({lines:,} lines a day)", xlabel="lake age (days)",
                ylabel="seconds", ylim=(0, None))
    reads_ax.set(title="What one nightly run reads", xlabel="lake age (days)", ylabel="count", ylim=(0, None))
    for ax in (time_ax, reads_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, docs / "performance-year.png")


def ingest(out: Path, docs: Path) -> Path | None:
    import matplotlib.pyplot as plt

    points: dict[int, tuple[float, float]] = {}
    for path in out.glob("results-*.json"):
        if not re.fullmatch(r"results-\d+\.json", path.name):
            continue
        result = json.loads(path.read_text())
        step = result["steps"].get("ingest")
        if step:
            points[int(result["lines"])] = (step["wall"], step["peak_mib"])
        big = result.get("big") or {}
        if "ingest" in big:
            points[int(big["lines"])] = (big["ingest"]["wall"], big["ingest"]["peak_mib"])
    points = {k: v for k, v in points.items() if k >= 100_000}  # the smoke size says nothing
    if len(points) < 2:
        return None
    sizes = sorted(points)
    fig, (time_ax, memory_ax) = plt.subplots(1, 2, figsize=(11, 4))
    time_ax.plot(sizes, [points[n][0] for n in sizes], marker="o")
    time_ax.set(title="Ingest time against the log's size", xlabel="lines", ylabel="seconds (process)",
                xscale="log", yscale="log")
    memory_ax.plot(sizes, [points[n][1] for n in sizes], marker="o", label="peak resident memory")
    memory_ax.axhline(512, color="red", linestyle="--", label="512 MiB")
    memory_ax.set(title="Ingest peak memory against the log's size", xlabel="lines", ylabel="MiB", xscale="log",
                  ylim=(0, None))
    memory_ax.legend()
    for ax in (time_ax, memory_ax):
        ax.grid(alpha=0.3)
    return _save(fig, docs / "performance-ingest.png")


def memory(out: Path, docs: Path, lines: int) -> Path | None:
    import matplotlib.pyplot as plt

    result = _load(out / f"results-{lines}.json")
    if not result:
        return None
    big = result.get("big") or {}
    steps = [s for s in STEPS if s in result["steps"]]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.38
    xs = list(range(len(steps)))
    ax.bar([x - width / 2 for x in xs], [result["steps"][s]["peak_mib"] for s in steps], width,
           label=f"{lines:,} lines")
    if big:
        ax.bar([x + width / 2 for x in xs], [big[s]["peak_mib"] if s in big else 0 for s in steps], width,
               label=f"{big['lines']:,} lines")
    ax.axhline(512, color="red", linestyle="--", label="512 MiB")
    ax.set_xticks(xs, steps)
    ax.set(title="Peak resident memory per step (one day)", ylabel="MiB")
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    return _save(fig, docs / "performance-memory.png")


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def main(argv: list[str] | None = None) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=BENCH / "out", help="where the benchmarks wrote their results")
    parser.add_argument("--docs", type=Path, default=DOCS, help="where the images go")
    parser.add_argument("--lines", type=int, default=2_000_000, help="the size of the memory figure's day")
    args = parser.parse_args(argv)
    written = []
    for name, draw in (("year", lambda: year(args.out, args.docs)), ("ingest", lambda: ingest(args.out, args.docs)),
                       ("memory", lambda: memory(args.out, args.docs, args.lines))):
        path = draw()
        print(f"{name}: {path}" if path else f"{name}: no results in {args.out}; skipped")
        if path:
            written.append(path)
    return written


if __name__ == "__main__":
    main()
