"""Where the time goes: sample a benchmark step with py-spy and summarise it.

    uv run --with py-spy python bench/run.py --profile        # via the harness
    python bench/hotspots.py RAW_FILE                         # summarise a saved profile

py-spy samples every Python thread (``--threads``) including those waiting
(``--idle``): a thread that called into Polars, PyArrow or DuckDB sleeps
while their native thread pools work, so without ``--idle`` the heaviest
calls would be missing. Each sample is charged to the innermost frame in
``accesslake/`` (the line of ours that asked for the work) and the library
call it made; samples of a thread waiting for work are labelled as such.
The shares are of wall time per thread, not of CPU time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_WORKER_IDLE = "_worker (concurrent/futures/thread.py"
_FUTURE_WAIT = "result (concurrent/futures/_base.py"


def py_spy() -> str | None:
    """The py-spy executable, or None (then profiling is skipped with a note)."""
    found = shutil.which("py-spy")
    if found:
        return found
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else None


def record(command: list[str], raw: Path, rate: int = 100) -> subprocess.CompletedProcess[str]:
    """Run ``command`` under ``py-spy record`` writing collapsed stacks to ``raw``."""
    exe = py_spy()
    if exe is None:
        raise RuntimeError("py-spy is not installed")
    return subprocess.run(
        [exe, "record", "--threads", "--idle", "--format", "raw", "--rate", str(rate), "-o", str(raw), "--",
         *command],
        check=True, capture_output=True, text=True,
    )


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    file = match["file"].split("site-packages/")[-1]
    return f"{match['func']} ({file}:{match['line']})" if match["line"] else f"{match['func']} ({file})"


def _label(frames: list[str]) -> str:
    ours = [i for i, f in enumerate(frames) if "accesslake/" in f]
    if not ours:
        if any(f.startswith(_WORKER_IDLE) for f in frames):
            return "idle: waiting to be asked for the next batch"
        return "other: " + _short(frames[-1]) if frames else "other: (no Python frame)"
    inner = ours[-1]
    callee = frames[inner + 1] if inner + 1 < len(frames) else ""
    if callee.startswith(_FUTURE_WAIT):
        return f"{_short(frames[inner])} -> waiting for the parse thread"
    # The library call made there, past the decorators and wrappers libraries put around their API.
    named = [f for f in frames[inner + 1:] if "<locals>" not in f and not f.startswith("wrapper ")]
    what = _short(named[0]).split(" (")[0] if named else "(own code)"
    return f"{_short(frames[inner])} -> {what}"


def summarise(raw: Path, top: int = 12) -> list[str]:
    """Per thread: the ``top`` places where its wall time goes, as percentages."""
    per_thread: dict[str, Counter[str]] = {}
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        thread = re.sub(r"^thread \(\d+\):?\s*", "", frames[0]) or "thread"
        thread = "main" if thread.startswith(("MainThread", "thread")) else re.sub(r"_\d+$", "", thread)
        per_thread.setdefault(thread, Counter())[_label(frames[1:])] += int(count)
    out: list[str] = []
    for thread, counts in sorted(per_thread.items(), key=lambda kv: -sum(kv[1].values())):
        total = sum(counts.values())
        out.append(f"thread {thread} ({total} samples):")
        for label, n in counts.most_common(top):
            out.append(f"  {100 * n / total:5.1f}%  {label}")
    return out


if __name__ == "__main__":
    print("\n".join(summarise(Path(sys.argv[1]))))
