"""``accesslake ingest``: log files into the lake."""

from __future__ import annotations

import argparse
from typing import Any

from accesslake import ingest, pipeline, storage
from accesslake.cli.app import Context, PartialFailure, register
from accesslake.errors import AccesslakeError

__all__ = ["add_commands", "add_site_from_vhost", "ingest_files"]


def ingest_files(ctx: Context, files: list[str], *, site: str, fmt: str | None, cookie: str | None,
                 complete: bool = False, site_from_vhost: bool = False) -> tuple[list[ingest.IngestResult], list[str]]:
    """Ingest ``files`` under the writer lock, recovering first (``accesslake ingest``, and the one-shot
    ``accesslake report FILE...``). With one file an error is raised; with several, a file that fails is
    named in the second list (nothing of it written) and the others go on.

    A file named here is complete (its last line is read even without newline), except a file of the
    lake's landing/ folder, which the nightly run reads while it may still grow: there a last line
    without newline waits as in the nightly run, unless ``complete``."""
    storage.check_site(site)
    results: list[ingest.IngestResult] = []
    failed: list[str] = []
    with storage.writer_lock(ctx.settings.lake, ctx.wait), ctx.out.progress() as progress:
        pipeline.recover(ctx.settings.lake)
        for number, name in enumerate(files):
            if progress is not None and len(files) > 1:
                progress(f"ingest {len(files)} files", number, len(files))
            try:
                path = storage.lake_root(name, option="FILE")
                live = not complete and ingest.in_landing(path, ctx.settings.lake)
                results.append(ingest.ingest_file(path, ctx.settings, ctx.now, site=site, fmt=fmt, cookie=cookie,
                                                  hold_partial_line=live, site_from_vhost=site_from_vhost,
                                                  progress=progress))
            except AccesslakeError as exc:
                if len(files) == 1:
                    raise
                failed.append(str(exc).splitlines()[0])
    return results, failed


def _ingest(args: argparse.Namespace, ctx: Context) -> None:
    results, failed = ingest_files(ctx, args.files, site=args.site, fmt=args.format, cookie=args.cookie,
                                   complete=args.complete, site_from_vhost=args.site_from_vhost)
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
    p.add_argument("--complete", action="store_true", help="the files are complete: read a last line without "
                   "newline now (files in the lake's landing/ otherwise wait until unchanged for 5 minutes)")
    add_site_from_vhost(p)


def add_site_from_vhost(parser: Any) -> None:
    """``--site-from-vhost`` (ingest and nightly)."""
    parser.add_argument("--site-from-vhost", action="store_true",
                        help="when the format logs the virtual host (%%v, vcombined, $host, $server_name), put each "
                        "row in site=<host>; rows whose host is missing or not a valid site name stay in --site. "
                        "A file keeps the sites it was first ingested under")
