"""``accesslake ingest``: log files into the lake."""

from __future__ import annotations

import argparse
from typing import Any

from accesslake import ingest, pipeline, storage
from accesslake.cli.app import Context, PartialFailure, register
from accesslake.errors import AccesslakeError

__all__ = ["add_commands"]


def _ingest(args: argparse.Namespace, ctx: Context) -> None:
    storage.check_site(args.site)
    results: list[ingest.IngestResult] = []
    failed: list[str] = []
    with storage.writer_lock(ctx.settings.lake, ctx.wait):
        pipeline.recover(ctx.settings.lake)
        for name in args.files:
            try:
                path = storage.lake_root(name, option="FILE")
                results.append(ingest.ingest_file(path, ctx.settings, ctx.now, site=args.site, fmt=args.format,
                                                  cookie=args.cookie))
            except AccesslakeError as exc:
                if len(args.files) == 1:
                    raise
                failed.append(str(exc).splitlines()[0])
    ctx.out.emit(results, [r.summary() for r in results] + [f"FAILED {line}" for line in failed])
    if failed:
        raise PartialFailure(f"{len(failed)} of {len(args.files)} files were not ingested (nothing written for them)")


def add_commands(sub: Any) -> None:
    p = register(sub, "ingest", _ingest, help="load log files into the lake")
    p.add_argument("files", nargs="+", metavar="FILE", help="plain or gzip access log files")
    p.add_argument("--format", help="preset (common, combined, vcombined, nginx), Apache LogFormat or nginx "
                   "log_format string; detected from the first lines when omitted")
    p.add_argument("--site", default="default", help="site name for the partition (default 'default')")
    p.add_argument("--cookie", help="name of the session cookie when the format logs several")
