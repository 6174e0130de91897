"""``accesslake detect``, ``incident`` and ``export``: incident response."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from accesslake import holds, storage
from accesslake.cli.analytics import day
from accesslake.cli.app import Context, bounded_int, register
from accesslake.config import parse_now
from accesslake.errors import ConfigError
from accesslake.forensics import detect, export_incident, hold_from_candidate, read_candidates, verify_export

__all__ = ["add_commands"]


def _detect(args: argparse.Namespace, ctx: Context) -> None:
    if args.site is not None:
        storage.check_site(args.site)
    if args.list:
        found = read_candidates(ctx.settings.lake, site=args.site, day=day(args.day, "--day"))
        rows = [f"{r['candidate_id']}  {r['day']}  {r['client_ip']:<39} score {r['score']:>6.1f}  "
                f"{','.join(r['kinds'])}  {r['count_requests']} requests" for r in found.iter_rows(named=True)]
        ctx.out.emit(found.to_dicts(), rows or ["no abuse candidates"])
        return
    with storage.writer_lock(ctx.settings.lake, ctx.wait):
        result = detect(ctx.settings, ctx.now, day(args.day, "--day"), args.site)
    ctx.out.emit(result, result.lines())


def _export_verify(args: argparse.Namespace, ctx: Context) -> None:
    verified = verify_export(Path(args.dir), lake=ctx.settings.lake, manifest_sha256=args.manifest_sha256)
    ctx.out.emit(verified, verified.lines())


def _export(args: argparse.Namespace, ctx: Context) -> None:
    missing = [flag for flag, value in (("--incident", args.incident), ("--out", args.out),
               ("--recipient", args.recipient), ("--reference", args.reference),
               ("--legal-basis", args.legal_basis), ("--operator", args.operator)) if not value]
    if missing:
        raise ConfigError(f"export: {', '.join(missing)} required (or `accesslake export verify DIR`)")
    with storage.writer_lock(ctx.settings.lake, ctx.wait):
        result = export_incident(
            ctx.settings, args.incident, Path(args.out), recipient=args.recipient, reference=args.reference,
            legal_basis=args.legal_basis, operator=args.operator, approver=args.approver, now=ctx.now,
        )
    ctx.out.emit(result, result.lines())


def _incident(args: argparse.Namespace, ctx: Context) -> None:
    lake, now = ctx.settings.lake, ctx.now
    max_days = ctx.settings.policy.max_review_days
    if args.action == "list":
        found = holds.list_holds(lake)
        rows = [f"{h.id}  {'active' if h.is_active(now) else h.status:8}  review {h.review_at:%Y-%m-%d}  "
                f"{h.case_reference}  {h.purpose}" for h in found]
        ctx.out.emit([h.to_dict() for h in found], rows or ["no incident holds"])
        return
    if args.action == "open" and args.from_candidate:
        with storage.writer_lock(lake, ctx.wait):
            hold = hold_from_candidate(
                ctx.settings, args.from_candidate, case_reference=args.case, purpose=args.purpose,
                legal_basis=tuple(args.legal_basis), authorized_by=args.authorized_by, now=now,
                review_days=args.review_days, confirm_broad=args.confirm_broad,
            )
    elif args.action == "open":
        if not (args.start and args.end):
            raise ConfigError("incident open: --start and --end are required unless --from-candidate is given")
        scope = holds.Scope(
            start=parse_now(args.start, option="--start"), end=parse_now(args.end, option="--end"),
            ips=tuple(args.ip), cidrs=tuple(args.cidr), session_ids=tuple(args.session),
            paths=tuple(args.path), user_agents=tuple(args.user_agent),
        )
        hold = holds.open_hold(
            lake, case_reference=args.case, scope=scope, purpose=args.purpose, legal_basis=tuple(args.legal_basis),
            authorized_by=args.authorized_by, now=now, review_days=args.review_days, max_review_days=max_days,
            confirm_broad=args.confirm_broad,
        )
    elif args.action == "show":
        hold = holds.get_hold(lake, args.id)
    elif args.action == "renew":
        hold = holds.renew_hold(lake, args.id, by=args.by, now=now, days=args.days, max_review_days=max_days)
    else:
        hold = holds.release_hold(lake, args.id, by=args.by, now=now)
    done = {"open": "opened", "renew": "renewed", "release": "released"}.get(args.action)
    ctx.out.emit(hold.to_dict(), ([f"{done} hold {hold.id}"] if done else []) + hold.lines(now))


def _incident_timeline(args: argparse.Namespace, ctx: Context) -> None:
    """``incident timeline ID``: per client of the hold, its requests in time order with gaps."""
    from accesslake.forensics.timeline import incident_timeline

    story = incident_timeline(ctx.settings.lake, args.id, ctx.now, max_age_hours=ctx.settings.policy.max_age_hours)
    ctx.out.emit(story.to_dict(), story.lines())


def add_commands(sub: Any) -> None:
    p = register(sub, "detect", _detect, help="find abuse candidates (scanners, brute force, floods, payloads)")
    p.add_argument("--day", help="UTC day YYYY-MM-DD (default: every day still holding IPs)")
    p.add_argument("--site", help="one site (default: all)")
    p.add_argument("--list", action="store_true", help="list stored candidates instead of detecting")

    p = register(sub, "export", _export, help="evidence export of an active hold (or: export verify DIR)",
                 description="Write an active hold's rows to a new folder with a manifest, record the disclosure "
                 "and print the manifest hash for the cover letter; `accesslake export verify DIR` checks a folder.",
                 epilog="example: accesslake export --incident INC-20261129-1a2b --out evidence/CASE-17 "
                 "--recipient 'LKA Berlin' --reference 'AZ 123/26' --legal-basis '§24 BDSG' --operator 'J. Doe'")
    p.add_argument("--incident", help="hold id")
    p.add_argument("--out", help="new folder to write")
    p.add_argument("--recipient", help="authority or forensic firm receiving the data")
    p.add_argument("--reference", help="their request reference")
    p.add_argument("--legal-basis", help="legal basis of the disclosure")
    p.add_argument("--operator", help="who runs the export")
    p.add_argument("--approver", help="who approved the disclosure")
    esub = p.add_subparsers(dest="export_action", metavar="[verify DIR]", required=False)
    v = esub.add_parser(
        "verify", help="check an export folder: files, hashes, row counts, and the manifest against its anchor",
        description="Check an export folder against its manifest, and the manifest against the hash kept outside "
        "the folder: the lake's disclosure record (when the lake exists) and/or --manifest-sha256 from the cover "
        "letter. Exit 0 when everything matches, 2 naming every problem.",
        epilog="example: accesslake export verify evidence/CASE-17 --manifest-sha256 <hash from the cover letter>")
    v.add_argument("dir", metavar="DIR", help="the export folder")
    v.add_argument("--manifest-sha256", metavar="HASH",
                   help="the manifest's SHA-256 as given with the data (no lake needed)")
    v.set_defaults(handler=_export_verify)

    p = register(sub, "incident", _incident, help="incident holds: open, list, show, renew, release")
    isub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    o = isub.add_parser("open", help="open a hold: rows in its scope are kept intact in held/")
    o.add_argument("--case", required=True, help="case reference")
    o.add_argument("--purpose", required=True, help="why the data is kept")
    o.add_argument("--legal-basis", action="append", required=True,
                   help="Art. 6(1)(c) GDPR | Art. 6(1)(f) GDPR | §24 BDSG (short: 6-1-c, 6-1-f, bdsg-24); repeatable")
    o.add_argument("--authorized-by", required=True, help="who authorised the hold")
    o.add_argument("--from-candidate", metavar="ID", help="pre-fill the scope from an abuse candidate "
                   "(its IP over its UTC day); see `accesslake detect --list`")
    o.add_argument("--start", help="scope window start (ISO-8601)")
    o.add_argument("--end", help="scope window end (ISO-8601)")
    for flag, dest, text in (("--ip", "ip", "client IP"), ("--cidr", "cidr", "network, v4 or v6"),
                             ("--session", "session", "session id"), ("--path", "path", "path glob"),
                             ("--user-agent", "user_agent", "user-agent substring")):
        o.add_argument(flag, dest=dest, action="append", default=[], help=f"{text}; repeatable")
    o.add_argument("--review-days", type=bounded_int(1, 30), help="days until review (default and maximum: "
                   "policy, 30)")
    o.add_argument("--confirm-broad", metavar="REASON",
                   help="written reason to keep a scope that matches much of its window (more than 20%% of its "
                   "clients or 50%% of its rows, beyond 10 clients); kept in the record and the audit log")
    s_ = isub.add_parser("show", help="show one hold (text; --json for the record)")
    s_.add_argument("id")
    isub.add_parser("list", help="list holds")
    r = isub.add_parser("renew", help="extend an active hold's review date")
    r.add_argument("id")
    r.add_argument("--by", required=True, help="who renews it")
    r.add_argument("--days", type=bounded_int(1, 30), help="days from now (at most the policy maximum)")
    r = isub.add_parser("release", help="release a hold: its rows return anonymised in the next run")
    r.add_argument("id")
    r.add_argument("--by", required=True, help="who releases it")
    t = isub.add_parser("timeline", help="an active hold's requests per client in time order, with gaps, "
                        "status and bytes (audit-logged)")
    t.add_argument("id")
    t.set_defaults(handler=_incident_timeline)
