"""``python -m accesslake.demo.loggen OUT [LINES]``: write a log ending now."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from accesslake.demo.loggen.generate import generate_log


def main(argv: Sequence[str] | None = None) -> None:  # pragma: no cover - manual use
    """Write ``OUT`` (default ``access.log``, gzip if it ends in ``.gz``) with ``LINES`` lines (default 20,000)."""
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0] if args else "access.log")
    n = int(args[1]) if len(args) > 1 else 20_000
    t = time.perf_counter()
    result = generate_log(out, now=datetime.now(UTC), lines=n, gzip=out.suffix == ".gz")
    print(f"{result.lines} lines -> {result.path} in {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":  # pragma: no cover
    main()
