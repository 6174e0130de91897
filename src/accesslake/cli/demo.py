"""``accesslake demo``: generated traffic, run night by night."""

from __future__ import annotations

import argparse
from typing import Any

from accesslake.cli.app import Context, bounded_int, register
from accesslake.demo import run_demo

__all__ = ["add_commands"]


def _demo(args: argparse.Namespace, ctx: Context) -> None:
    summary = run_demo(ctx.settings, ctx.now, lines=args.lines, days=args.days, seed=args.seed)
    ctx.out.emit(summary, summary.lines())


def add_commands(sub: Any) -> None:
    p = register(sub, "demo", _demo, help="generate a realistic multi-day log for --now and run the pipeline on it")
    p.add_argument("--lines", type=bounded_int(1_000, 50_000_000), default=30_000,
                   help="lines to generate (default 30000)")
    p.add_argument("--days", type=bounded_int(1, 60), default=9, help="days of traffic ending at --now (default 9)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
