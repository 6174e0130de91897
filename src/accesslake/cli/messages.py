"""``accesslake messages``: the contact-form message register."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from accesslake import messages
from accesslake.cli.app import Context, bounded_int, register

__all__ = ["add_commands"]


def _messages(args: argparse.Namespace, ctx: Context) -> None:
    settings, now = ctx.settings, ctx.now
    if args.action == "ingest":
        result = messages.ingest_messages(settings, Path(args.path), now)
        ctx.out.emit(result, result.lines())
    elif args.action in ("classify", "hold", "release"):
        if args.action == "classify":
            message = messages.classify(settings, args.id, args.kind, args.reason, now, args.concluded)
        elif args.action == "hold":
            message = messages.hold(settings, args.id, args.reason, now)
        else:
            message = messages.release(settings, args.id, now)
        ctx.out.emit(message, message.line())
    elif args.action in ("due", "pending"):
        found = (messages.due(settings, now, args.within) if args.action == "due"
                 else messages.pending_report(settings, now))
        ctx.out.emit(found, [m.line() for m in found] or [f"no {args.action} messages"])
    else:
        deletion = messages.delete_due(settings, now, dry_run=args.dry_run)
        ctx.out.emit(deletion, deletion.lines())


def add_commands(sub: Any) -> None:
    p = register(sub, "messages", _messages, help="contact-form messages: register, classify, hold, due dates, "
                 "deletion")
    msub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    m = msub.add_parser("ingest", help="register every message of a Maildir, mbox or folder of .eml files")
    m.add_argument("path")
    m = msub.add_parser("classify", help="classify a message; sets its due date")
    m.add_argument("id")
    m.add_argument("--as", dest="kind", required=True, help="business-letter | receipt | books | no-contract")
    m.add_argument("--concluded", type=bounded_int(1900, 9000), help="year the matter was concluded (counts from "
                   "its end)")
    m.add_argument("--reason", required=True, help="why (kept in the register)")
    m = msub.add_parser("hold", help="a tax or legal hold: blocks deletion")
    m.add_argument("id")
    m.add_argument("--reason", required=True)
    m = msub.add_parser("release", help="lift a hold")
    m.add_argument("id")
    m = msub.add_parser("due", help="messages due for deletion")
    m.add_argument("--within", type=bounded_int(0, 36_500), help="also those due within DAYS")
    msub.add_parser("pending", help="unclassified messages older than the policy's pending_report_days")
    m = msub.add_parser("delete", help="delete due messages from every store and copy")
    m.add_argument("--dry-run", action="store_true", help="list, delete nothing")
