"""``accesslake demo``: generated traffic, run night by night."""

from __future__ import annotations

import argparse
from typing import Any

from accesslake.cli.app import Context, bounded_int, register
from accesslake.demo import run_demo

__all__ = ["add_commands"]


def _demo(args: argparse.Namespace, ctx: Context) -> None:
    with ctx.out.progress() as progress:
        summary = run_demo(ctx.settings, ctx.now, lines=args.lines, days=args.days, seed=args.seed,
                           progress=progress)
    ctx.out.emit(summary, summary.lines())


def add_commands(sub: Any) -> None:
    p = register(sub, "demo", _demo, help="generate a realistic multi-day log for --now and run the pipeline on it")
    p.add_argument("--lines", type=bounded_int(1_000, 50_000_000), default=30_000,
                   help="lines to generate (default 30000)")
    p.add_argument("--days", type=bounded_int(1, 60), default=9,
                   help="days of traffic, each followed by its nightly run at 02:30 Europe/Berlin; the last "
                   "night is the latest one at or before --now (default 9)")
    p.add_argument("--seed", type=bounded_int(0, 2**32 - 1), default=7, help="random seed (default 7)")
