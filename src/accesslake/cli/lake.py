"""``accesslake anonymize``, ``audit`` and ``nightly``: keeping the promise."""

from __future__ import annotations

import argparse
from typing import Any

from accesslake import pipeline, retention, storage
from accesslake.audit import run_audit
from accesslake.cli import ingest as cli_ingest
from accesslake.cli.app import Context, PartialFailure, register
from accesslake.errors import AuditError

__all__ = ["add_commands"]


def _anonymize(args: argparse.Namespace, ctx: Context) -> None:
    with storage.writer_lock(ctx.settings.lake, ctx.wait):
        if not args.dry_run:
            pipeline.recover(ctx.settings.lake)
        with ctx.out.progress() as progress:
            result = retention.run_retention(ctx.settings, ctx.now, dry_run=args.dry_run, progress=progress)
    ctx.out.emit(result, result.lines())
    if result.problems:
        raise PartialFailure("; ".join(result.problems))


def _audit(args: argparse.Namespace, ctx: Context) -> None:
    with storage.writer_lock(ctx.settings.lake, ctx.wait):
        report = run_audit(ctx.settings, ctx.now, anchor=args.anchor, full=args.full)
    ctx.out.emit(report, report.lines())
    if not report.ok:
        raise AuditError(f"{len(report.violations)} violation(s) in {ctx.settings.lake}", [])


def _nightly(args: argparse.Namespace, ctx: Context) -> None:
    storage.check_site(args.site)
    options = pipeline.NightlyOptions(site=args.site, fmt=args.format, cookie=args.cookie,
                                      site_from_vhost=args.site_from_vhost)
    result = pipeline.run_nightly(ctx.settings, ctx.now, options, wait_seconds=ctx.wait)
    ctx.out.emit(result, result.lines())
    if result.audit and not result.audit.ok:
        raise AuditError(f"{len(result.audit.violations)} violation(s) in {ctx.settings.lake}", [])
    if result.failures:
        raise PartialFailure(f"{len(result.failures)} step(s) or input(s) failed: "
                             + "; ".join(f.line() for f in result.failures[:3])
                             + ("; ..." if len(result.failures) > 3 else ""))


def add_commands(sub: Any) -> None:
    p = register(sub, "anonymize", _anonymize,
                 help="anonymise everything past anonymize_after; apply holds and releases")
    p.add_argument("--dry-run", action="store_true", help="count what would change; write nothing")

    p = register(sub, "audit", _audit, help="check every store against the retention invariant (exit 1 on a violation)")
    p.add_argument("--anchor", metavar="SEQ:HASH", help="an earlier 'audit log head' the log must still hold "
                   "(proves no lines were cut from its end)")
    p.add_argument("--full", action="store_true", help="read every file, also those an earlier audit verified "
                   "and that have not changed since (the nightly skips them; run this weekly)")

    p = register(sub, "nightly", _nightly, help="run the nightly job once, locally: ingest landing/, anonymise, audit")
    p.add_argument("--site", default="default", help="site name for files in landing/ (default 'default')")
    p.add_argument("--format", help="log format of the files in landing/ (detected when omitted)")
    p.add_argument("--cookie", help="name of the session cookie when the format logs several")
    cli_ingest.add_site_from_vhost(p)
