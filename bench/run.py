"""accesslake benchmark: ingest, marts, anonymisation and the nightly run, beside references.

    uv run --with anonip python bench/run.py                   # 2,000,000 lines, median of 3 runs
    uv run --with anonip python bench/run.py --lines 500000 --runs 5
    uv run python bench/run.py --smoke                         # a tiny size in seconds (CI)
    uv run --with anonip python bench/run.py --big 20000000    # + one 20M-line ingest (memory; ~6 GB disk)
    uv run --with anonip --with py-spy python bench/run.py --profile   # + where the time goes

The log is generated once per size into ``--out`` (default ``bench/out/``,
git-ignored) by :func:`accesslake.demo.loggen.generate_log`: one UTC day of a
realistic shop (about lines/6 clients, sessions, bots, attacks, a growing
page catalogue), in ``DEMO_FORMAT`` (Apache combined + ``%D`` + the ``sid``
cookie). Each run measures, in this order and each in a fresh process (so
its peak resident memory, ``ru_maxrss`` from ``wait4``, is its own):

* ``ingest``     the log into a fresh lake (lines/s)
* ``marts``      the 16 marts of the day, from that lake
* ``anonymize``  a copy of that lake, six days later: every row is rewritten (rows/s)
* ``floor``      a copy of that lake: PyArrow read -> null client_ip -> write, per file
* ``nightly``    the whole nightly run, the log in a fresh lake's landing/
* ``goaccess``   GoAccess's JSON report of the same file (skipped, with a note, if missing)
* ``anonip``     anonip masking the IPs of the same file (skipped, with a note, if missing)

Timings are medians over ``--runs``. Our steps report the timed call
(start-up and imports excluded) and the process wall time; ratios against
the external tools use process wall time on both sides. Nothing here
asserts a time: the targets are reported as met or not.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
STEPS_PY = BENCH / "steps.py"
LOG_END = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)  # the log covers 2026-11-28 (UTC)
DAY = date(2026, 11, 28)
NIGHTLY_AT = LOG_END + timedelta(hours=1, minutes=30)  # 02:30 Europe/Berlin
ANONYMIZE_AT = NIGHTLY_AT + timedelta(days=6)  # past anonymize_after (120 h) for every row
SITE = "www"
COOKIE = "sid"
# GoAccess reading DEMO_FORMAT: %D is the time to serve in microseconds (GoAccess's %L
# would be milliseconds); the ident/user fields and the sid cookie are skipped (%^).
GOACCESS_FORMAT = '%h %^[%d:%t %^] "%r" %s %b "%R" "%u" %D "%^"'
ORDER = ("ingest", "marts", "detect", "anonymize", "floor", "nightly", "goaccess", "anonip")
MIB = 2**20


@dataclass
class Sample:
    """One measured process: wall and CPU seconds, peak memory, and what the step reported."""

    wall: float
    cpu: float
    peak_bytes: int
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return float(self.report.get("seconds", self.wall))


def measure(command: list[str], log: Path) -> Sample:
    """Run ``command`` to completion; wall time, CPU time and ru_maxrss of that process alone.

    Linux carries a process's peak RSS across fork and exec, so a child starts
    with the parent's: this parent imports no data library (versions come from
    package metadata, the log is generated in a child) and stays near 15 MiB.
    """
    with log.open("w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=BENCH.parent)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed ({proc.returncode}); see {log}:\n{text[-2000:]}")
    report: dict[str, Any] = {}
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            report = json.loads(line)
            break
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, report)


def step_command(step: str, **args: Any) -> list[str]:
    return [sys.executable, str(STEPS_PY), step, json.dumps({k: str(v) for k, v in args.items()})]


# ---------------------------------------------------------------- the machine and the tools


def machine() -> dict[str, Any]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        mem = int(meminfo.read_text().split("MemTotal:")[1].split()[0]) * 1024
    from importlib.metadata import version

    return {
        "nproc": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem / 2**30, 1),
        "python": platform.python_version(), "polars": version("polars"), "pyarrow": version("pyarrow"),
        "duckdb": version("duckdb"), "goaccess": goaccess_version(), "anonip": anonip_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def goaccess_version() -> str | None:
    exe = shutil.which("goaccess")
    if exe is None:
        return None
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    return out.split("-", 1)[1].strip().split()[0].rstrip(".") if "-" in out else out.strip()


def anonip_command() -> list[str] | None:
    if importlib.util.find_spec("anonip") is not None:
        return [sys.executable, "-m", "anonip"]
    exe = shutil.which("anonip")
    return [exe] if exe else None


def anonip_version() -> str | None:
    if anonip_command() is None:
        return None
    try:
        from importlib.metadata import version

        return version("anonip")
    except Exception:  # noqa: BLE001 - a script on PATH without metadata
        return "unknown"


# ---------------------------------------------------------------- inputs


def generated(out: Path, lines: int) -> Path:
    """The log of ``lines`` lines for the benchmark day, generated once (in a child) and reused."""
    path = out / f"access-{lines}.log"
    if not path.exists():
        out.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        start = time.perf_counter()
        measure(step_command("generate", log=tmp, now=LOG_END.isoformat(), lines=lines), out / "generate.txt")
        tmp.replace(path)
        print(f"generated {path.name} ({path.stat().st_size / MIB:,.0f} MiB) in {time.perf_counter() - start:.1f} s",
              flush=True)
    return path


def check_disk(out: Path, lines: int) -> None:
    need = lines * 330 * 13 // 10  # the log (~293 bytes a line), its lake and a margin
    free = shutil.disk_usage(out if out.exists() else out.parent).free
    if free < need:
        raise SystemExit(f"--big {lines}: needs about {need / 2**30:.1f} GiB free in {out}, "
                         f"{free / 2**30:.1f} GiB are; free some space or pass a smaller size")


# ---------------------------------------------------------------- one run


def one_run(log: Path, work: Path, wanted: set[str], notes: list[str]) -> dict[str, Sample]:
    """Every step once, interleaved, so that each sees the same load; returns the samples."""
    samples: dict[str, Sample] = {}
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    lake = work / "lake"
    common = {"site": SITE, "cookie": COOKIE}  # the format: DEMO_FORMAT (bench/steps.py)
    samples["ingest"] = measure(step_command("ingest", log=log, lake=lake, now=NIGHTLY_AT.isoformat(), **common),
                                logs / "ingest.txt")
    if "marts" in wanted:
        samples["marts"] = measure(step_command("marts", lake=lake, now=NIGHTLY_AT.isoformat(), site=SITE,
                                                day=DAY.isoformat()), logs / "marts.txt")
        shutil.rmtree(lake / "marts", ignore_errors=True)
    if "detect" in wanted:
        samples["detect"] = measure(step_command("detect", lake=lake, now=NIGHTLY_AT.isoformat()), logs / "detect.txt")
        shutil.rmtree(lake / "forensics", ignore_errors=True)
    for step, args in (("anonymize", {"now": ANONYMIZE_AT.isoformat()}), ("floor", {})):
        if step in wanted:
            copy = work / f"lake-{step}"
            shutil.copytree(lake, copy)
            samples[step] = measure(step_command(step, lake=copy, **args), logs / f"{step}.txt")
            shutil.rmtree(copy)
    shutil.rmtree(lake)
    if "nightly" in wanted:
        night = work / "lake-nightly"
        (night / "landing").mkdir(parents=True)
        try:
            os.link(log, night / "landing" / log.name)
        except OSError:
            shutil.copy(log, night / "landing" / log.name)
        samples["nightly"] = measure(step_command("nightly", lake=night, now=NIGHTLY_AT.isoformat(), **common),
                                     logs / "nightly.txt")
        shutil.rmtree(night)
    exe = shutil.which("goaccess")
    if "goaccess" in wanted and exe:
        report = work / "goaccess.json"
        samples["goaccess"] = measure(
            [exe, str(log), "--no-global-config", "--no-progress", f"--log-format={GOACCESS_FORMAT}",
             "--date-format=%d/%b/%Y", "--time-format=%T", "-o", str(report)], logs / "goaccess.txt")
        samples["goaccess"].report = {"items": _count_lines(log), "total_requests": _goaccess_total(report)}
        report.unlink()
    elif "goaccess" in wanted:
        _note(notes, "goaccess: not installed (apt-get install goaccess); its reference is skipped")
    anonip = anonip_command()
    if "anonip" in wanted and anonip:
        masked = work / "anonip.log"
        samples["anonip"] = measure([*anonip, "--input", str(log), "--output", str(masked)], logs / "anonip.txt")
        samples["anonip"].report = {"items": _count_lines(log)}
        masked.unlink()
    elif "anonip" in wanted:
        _note(notes, "anonip: not installed (run with `uv run --with anonip ...`); its reference is skipped")
    return samples


def _note(notes: list[str], text: str) -> None:
    if text not in notes:
        notes.append(text)


def _goaccess_total(report: Path) -> int:
    general = json.loads(report.read_text())["general"]
    return int(general["total_requests"])


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 24), b""))


# ---------------------------------------------------------------- summary


def summarise(runs: list[dict[str, Sample]]) -> dict[str, dict[str, Any]]:
    """Per step: medians of the timed call, the process wall, CPU time; the largest peak memory."""
    out: dict[str, dict[str, Any]] = {}
    for step in ORDER:
        got = [run[step] for run in runs if step in run]
        if not got:
            continue
        items = int(got[0].report.get("items", 0))
        seconds = statistics.median(s.seconds for s in got)
        wall = statistics.median(s.wall for s in got)
        out[step] = {
            "items": items, "seconds": seconds, "wall": wall, "cpu": statistics.median(s.cpu for s in got),
            "peak_mib": max(s.peak_bytes for s in got) / MIB, "per_second": items / seconds if seconds else 0.0,
            "runs": len(got), "all_seconds": [round(s.seconds, 3) for s in got],
            "all_wall": [round(s.wall, 3) for s in got],
            "extra": {k: v for k, v in got[-1].report.items() if k not in ("seconds", "items")},
        }
    return out


def ratios(runs: list[dict[str, Sample]], num: str, den: str, timed: bool = False) -> list[float]:
    """Per run, ``den``'s time / ``num``'s time (how many times faster ``num`` is): both
    measured in the same run, so under the same load. Process wall time, or the timed
    call when ``timed`` (both steps ours)."""
    def time_of(sample: Sample) -> float:
        return sample.seconds if timed else sample.wall

    return [time_of(run[den]) / time_of(run[num]) for run in runs if num in run and den in run]


def targets(
    runs: list[dict[str, Sample]], steps: dict[str, dict[str, Any]], big: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The performance targets with the measured value and whether each is met (None: not measured).

    Speed ratios are medians of the per-run ratios (each pair measured back to back).
    """
    rows: list[dict[str, Any]] = []

    def add(name: str, value: float | None, text: str, met: bool | None) -> None:
        rows.append({"target": name, "value": value, "measured": text, "met": met})

    def per_run(values: list[float], digits: int = 1) -> str:
        return f" (runs: {', '.join(f'{v:.{digits}f}' for v in values)})" if len(values) > 1 else ""

    speedup = ratios(runs, "ingest", "goaccess")  # same lines: time ratio = lines/s ratio
    if speedup:
        ratio = statistics.median(speedup)
        add("ingest >= 10x GoAccess lines/s", ratio, f"{ratio:.1f}x{per_run(speedup)}", ratio >= 10)
    else:
        add("ingest >= 10x GoAccess lines/s", None, "GoAccess not measured", None)
    night = ratios(runs, "nightly", "goaccess")
    if night:
        ratio = statistics.median(night)
        add("nightly (one day) >= 5x faster than GoAccess's report", ratio, f"{ratio:.2f}x{per_run(night, 2)}",
            ratio >= 5)
    else:
        add("nightly (one day) >= 5x faster than GoAccess's report", None, "not measured", None)
    floor = ratios(runs, "floor", "anonymize", timed=True)  # anonymize's time / the floor's
    if floor:
        ratio = statistics.median(floor)
        add("anonymisation within 1.3x of the PyArrow rewrite floor", ratio,
            f"{ratio:.2f}x the floor's time{per_run(floor, 2)}", ratio <= 1.3)
    for step in ("ingest", "marts", "detect", "nightly"):  # issue 15: each within 512 MiB, +10% at 20M lines
        row = steps.get(step)
        if row:
            add(f"{step} peak memory <= 512 MiB", row["peak_mib"], f"{row['peak_mib']:.0f} MiB", row["peak_mib"] <= 512)
        if row and big and step in big:
            ratio = big[step]["peak_mib"] / row["peak_mib"]
            add(f"{step} peak at {big['lines']:,} lines within 10% of the smaller file's", ratio,
                f"{big[step]['peak_mib']:.0f} MiB ({(ratio - 1) * 100:+.1f}%)", ratio <= 1.10)
    return rows


def table(steps: dict[str, dict[str, Any]], lines: int) -> list[str]:
    labels = {
        "ingest": ("ingest", "lines/s"), "marts": ("marts of the day (17 tables)", "rows/s"),
        "detect": ("abuse detection (the day)", "rows/s"),
        "anonymize": ("anonymisation (every row due)", "rows/s"),
        "floor": ("PyArrow floor: read, null client_ip, write", "rows/s"),
        "nightly": ("nightly run (ingest + marts + anonymise + audit)", "lines/s"),
        "goaccess": ("GoAccess JSON report", "lines/s"), "anonip": ("anonip (IPs in the text)", "lines/s"),
    }
    out = [f"| step ({lines:,} lines) | timed call s | process s | CPU s | peak MiB | throughput |",
           "|---|---:|---:|---:|---:|---:|"]
    for step, row in steps.items():
        label, unit = labels[step]
        timed = f"{row['seconds']:.2f}" if step not in ("goaccess", "anonip") else "-"
        rate = row["items"] / (row["seconds"] if step not in ("goaccess", "anonip") else row["wall"])
        out.append(f"| {label} | {timed} | {row['wall']:.2f} | {row['cpu']:.2f} | {row['peak_mib']:.0f} | "
                   f"{rate:,.0f} {unit} |")
    return out


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2_000_000, help="log size (default 2,000,000)")
    parser.add_argument("--runs", type=int, default=3, help="runs; medians are reported (default 3)")
    parser.add_argument("--smoke", action="store_true", help="5,000 lines, one run, no extras: seconds")
    parser.add_argument("--big", type=int, metavar="LINES", help="also one ingest of this size (peak memory)")
    parser.add_argument("--big-steps", default="ingest", metavar="STEPS",
                        help="the steps run on the --big log (default ingest; e.g. ingest,marts,detect,nightly)")
    parser.add_argument("--profile", action="store_true", help="also sample ingest and anonymize with py-spy")
    parser.add_argument("--only", help=f"comma-separated steps of {','.join(ORDER)} (ingest always runs)")
    parser.add_argument("--out", type=Path, default=BENCH / "out", help="logs, lakes and results (bench/out)")
    parser.add_argument("--keep", action="store_true", help="keep the --big log afterwards")
    args = parser.parse_args(argv)
    if args.smoke:
        args.lines, args.runs, args.big, args.profile = 5_000, 1, None, False
    wanted = set(ORDER) if not args.only else {"ingest", *args.only.split(",")}
    unknown = wanted - set(ORDER)
    if unknown:
        parser.error(f"--only: unknown step(s) {', '.join(sorted(unknown))}; known: {', '.join(ORDER)}")
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    info = machine()
    print(f"machine: {info['nproc']} cores, {info['cpu']}, {info['memory_gib']} GiB; load {info['load_average']}; "
          f"Python {info['python']}, polars {info['polars']}, pyarrow {info['pyarrow']}, duckdb {info['duckdb']}, "
          f"GoAccess {info['goaccess']}, anonip {info['anonip']}", flush=True)
    log = generated(out, args.lines)
    notes: list[str] = []
    runs = []
    for index in range(args.runs):
        work = out / f"run-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        runs.append(one_run(log, work, wanted, notes))
        shutil.rmtree(work, ignore_errors=True)
        done = ", ".join(f"{k} {v.seconds:.2f}s" for k, v in runs[-1].items())
        print(f"run {index + 1}/{args.runs}: {done}", flush=True)
    steps = summarise(runs)
    big = run_big(out, args.big, args.keep, notes, set(args.big_steps.split(","))) if args.big else None
    profile = run_profiles(out, log, notes) if args.profile else None
    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    checks = targets(runs, steps, big)
    results = {"machine": info, "lines": args.lines, "runs": args.runs, "steps": steps, "big": big,
               "targets": checks, "notes": notes, "profile": profile}
    lines = table(steps, args.lines)
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['measured']} | "
              f"{'yes' if t['met'] else 'no' if t['met'] is not None else 'n/a'} |" for t in checks]
    if big:
        lines += ["", f"big file ({big['lines']:,} lines, one run): " + ", ".join(
            f"{k} {v['seconds']:.1f} s, peak {v['peak_mib']:.0f} MiB" for k, v in big.items() if k != "lines")]
    lines += [f"note: {n}" for n in notes]
    print("\n".join(lines))
    (out / f"results-{args.lines}.json").write_text(json.dumps(results, indent=2, default=str))
    (out / f"results-{args.lines}.md").write_text("\n".join(lines) + "\n")
    print(f"results: {out / f'results-{args.lines}.json'}")
    return results


def run_big(out: Path, lines: int, keep: bool, notes: list[str], steps: set[str] | None = None) -> dict[str, Any]:
    """One run of ``steps`` (default: ingest alone) on a big log, for peak memory; the log is removed afterwards
    unless ``keep``."""
    check_disk(out, lines)
    log = generated(out, lines)
    try:
        work = out / f"big-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        samples = one_run(log, work, {"ingest", *(steps or ())}, notes)
        shutil.rmtree(work, ignore_errors=True)
    finally:
        if not keep:
            log.unlink()
    result: dict[str, Any] = {"lines": lines}
    for step, sample in samples.items():
        result[step] = {"seconds": sample.seconds, "wall": sample.wall, "cpu": sample.cpu,
                        "peak_mib": sample.peak_bytes / MIB, **sample.report}
    return result


def run_profiles(out: Path, log: Path, notes: list[str]) -> dict[str, list[str]] | None:
    """Sample one ingest and one anonymisation with py-spy; summaries per thread."""
    sys.path.insert(0, str(BENCH))
    import hotspots as spy  # bench/hotspots.py

    if spy.py_spy() is None:
        _note(notes, "profile: py-spy not installed (run with `uv run --with py-spy ...`); skipped")
        return None
    work = out / f"profile-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    lake = work / "lake"
    summaries: dict[str, list[str]] = {}
    common = {"site": SITE, "cookie": COOKIE}
    for step, args in (("ingest", {"log": log, "lake": lake, "now": NIGHTLY_AT.isoformat(), **common}),
                       ("anonymize", {"lake": lake, "now": ANONYMIZE_AT.isoformat()})):
        raw = out / f"profile-{step}.txt"
        spy.record(step_command(step, **args), raw)
        summaries[step] = spy.summarise(raw)
        print(f"profile of {step} ({raw}):", *summaries[step], sep="\n  ")
    shutil.rmtree(work, ignore_errors=True)
    return summaries


if __name__ == "__main__":
    main()
