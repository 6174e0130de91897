"""Benchmark the ingest alone, beside GoAccess: ``bench/run.py`` restricted to those two.

    uv run python bench/bench_ingest.py                                   # 2,000,000 lines
    uv run python bench/bench_ingest.py --lines 500000 --lines 2000000    # memory vs size

Kept for the README's command; ``bench/run.py`` is the whole harness (marts,
anonymisation, the nightly run, anonip and the PyArrow floor as well). Not a
test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, action="append", help="log size(s); default 2000000")
    parser.add_argument("--runs", type=int, default=3, help="runs per size; the median is reported")
    args = parser.parse_args()
    for lines in args.lines or [2_000_000]:
        run.main(["--only", "goaccess", "--lines", str(lines), "--runs", str(args.runs)])


if __name__ == "__main__":
    main()
