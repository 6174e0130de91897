"""``accesslake subject``: data-subject requests (access, Art. 15 GDPR; erasure, Art. 17 GDPR)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from accesslake import storage
from accesslake.cli.app import Context, register
from accesslake.errors import ConfigError
from accesslake.subjects import parse_subject, subject_access, subject_erase

__all__ = ["add_commands"]


def _subject(args: argparse.Namespace, ctx: Context) -> None:
    subject = parse_subject(args.ip, args.session, confirm=args.confirm)
    if args.action == "access":
        with storage.writer_lock(ctx.settings.lake, ctx.wait):
            answer = subject_access(ctx.settings, subject, Path(args.out), ctx.now)
        ctx.out.emit(answer, answer.lines())
        return
    if not args.reason or not args.reason.strip():
        raise ConfigError('subject erase: --reason is required (e.g. --reason "Art. 17 request of 2026-11-28")')
    with storage.writer_lock(ctx.settings.lake, ctx.wait):
        result = subject_erase(ctx.settings, subject, ctx.now, reason=args.reason)
    ctx.out.emit(result, result.lines())


def add_commands(sub: Any) -> None:
    p = register(sub, "subject", _subject, help="data-subject requests: access (Art. 15) and erasure (Art. 17)")
    ssub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    access = ssub.add_parser("access", help="write every stored row about an address or session to a new folder")
    access.add_argument("--out", required=True, help="new or empty folder for the answer (with a manifest)")
    erase = ssub.add_parser("erase", help="anonymise the subject's rows in every store now (not those under an "
                            "active hold); scrub raw files")
    erase.add_argument("--reason", help="why (the request and its reference); audit-logged without the address")
    for parser in (access, erase):
        parser.add_argument("--ip", help="the subject's address (IPv4, IPv6, or a host name as logged); a network "
                            "or wildcard (203.0.113.0/24, 203.0.113.*) needs --confirm")
        parser.add_argument("--session", help="the subject's session id")
        parser.add_argument("--confirm", metavar="REASON", help="why a range wider than one address is right")
