"""The ``accesslake`` command line: argument parsing and output only.

Every command calls a library function that the Prefect flows and the
notebooks call too. Global options (before the command)::

    --lake DIR      the lake (default data/lake, env ACCESSLAKE_LAKE)
    --now TIME      the clock for every time rule (env ACCESSLAKE_NOW; rule T4)
    --policy FILE   the policy file (env ACCESSLAKE_POLICY; default <lake>/policy.toml)
    --json          machine-readable output
    --wait SECONDS  how long to wait for another run's writer lock

Exit status: 0 success, 1 the audit found violations, 2 a usage or input error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from accesslake import __version__
from accesslake.config import Settings, load_settings, resolve_now
from accesslake.errors import AccesslakeError, AuditError

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace, Settings, datetime], Any]
_HANDLERS: dict[str, Handler] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        _HANDLERS[name] = func
        return func

    return register


def _emit(args: argparse.Namespace, payload: Any, text: str | Sequence[str]) -> None:
    if args.json:
        print(json.dumps(_plain(payload), indent=2, default=str))
    else:
        print(text if isinstance(text, str) else "\n".join(text))


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return value


# ---------------------------------------------------------------- commands


@command("ingest")
def _ingest(args: argparse.Namespace, settings: Settings, now: datetime) -> Any:
    from accesslake.ingest import ingest_file
    from accesslake.ingest import recover
    from accesslake.lake import lake_root, writer_lock

    results = []
    with writer_lock(settings.lake, args.wait):
        recover(settings.lake)
        for path in args.files:
            results.append(
                ingest_file(lake_root(path, option="FILE"), settings, now, site=args.site, fmt=args.format,
                            cookie=args.cookie)
            )
    _emit(args, results, [r.summary() for r in results])


@command("demo")
def _demo(args: argparse.Namespace, settings: Settings, now: datetime) -> Any:
    from accesslake.demo import run_demo

    summary = run_demo(settings, now, lines=args.lines, days=args.days, seed=args.seed)
    _emit(args, summary, summary.lines())


@command("anonymize")
def _anonymize(args: argparse.Namespace, settings: Settings, now: datetime) -> Any:
    from accesslake.anonymize import anonymize
    from accesslake.lake import writer_lock

    with writer_lock(settings.lake, args.wait):
        result = anonymize(settings, now, dry_run=args.dry_run)
    _emit(args, result, result.lines())


@command("audit")
def _audit(args: argparse.Namespace, settings: Settings, now: datetime) -> Any:
    from accesslake.audit import run_audit
    from accesslake.lake import writer_lock

    with writer_lock(settings.lake, args.wait):
        report = run_audit(settings, now, anchor=args.anchor)
    _emit(args, report, report.lines())
    if not report.ok:
        raise AuditError(f"{len(report.violations)} violation(s) in {settings.lake}", [])


@command("nightly")
def _nightly(args: argparse.Namespace, settings: Settings, now: datetime) -> Any:
    from accesslake.nightly import run_nightly

    result = run_nightly(settings, now, site=args.site, fmt=args.format, cookie=args.cookie, wait_seconds=args.wait)
    _emit(args, result, result.lines())
    if result.audit and not result.audit.ok:
        raise AuditError(f"{len(result.audit.violations)} violation(s) in {settings.lake}", [])


@command("marts")
def _marts(args: argparse.Namespace, settings: Settings, now: datetime) -> Any:
    from accesslake.lake import writer_lock
    from accesslake.marts import build_marts

    days = [(args.site, _day(d, "--day")) for d in args.day] if args.day else None
    with writer_lock(settings.lake, args.wait):
        result = build_marts(settings, now, days)
    _emit(args, result, result.lines())


@command("stats")
def _stats(args: argparse.Namespace, settings: Settings, now: datetime) -> Any:
    from accesslake.views import headline_stats

    stats = headline_stats(settings.lake, args.site, _day(args.start, "--from"), _day(args.end, "--to"))
    rows = [f"{key:>18}: {value}" for key, value in stats.items() if key != "per_day"]
    rows += ["", "per day:"] + [
        f"  {d['date']} {d['site']}: {d['requests']} requests, {d['page_views']} page views, "
        f"{d['visits']} visits, {d['unique_visitors']} visitors, {d['bytes']} bytes" for d in stats["per_day"]
    ]
    _emit(args, stats, rows)


@command("sql")
def _sql(args: argparse.Namespace, settings: Settings, now: datetime) -> Any:
    if args.forensic:
        from accesslake.forensics import run_sql as run_forensic

        frame = run_forensic(settings.lake, args.query, now, max_age_hours=settings.policy.max_age_hours)
    else:
        from accesslake.views import run_sql

        frame = run_sql(settings.lake, args.query)
    if args.json:
        print(json.dumps(frame.to_dicts(), indent=2, default=str))
    else:
        import polars as pl

        with pl.Config(tbl_rows=args.limit, tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=200):
            print(frame)


def _day(value: str | None, option: str) -> Any:
    from datetime import date

    from accesslake.errors import ConfigError

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{option}: {value!r} is not a date; write YYYY-MM-DD") from exc


@command("report")
def _report(args: argparse.Namespace, settings: Settings, now: datetime) -> Any:
    from accesslake.report import write_report

    result = write_report(settings, Path(args.out), now=now, site=args.site,
                          start=_day(args.start, "--from"), end=_day(args.end, "--to"))
    _emit(args, result, result.lines())


@command("detect")
def _detect(args: argparse.Namespace, settings: Settings, now: datetime) -> Any:
    from accesslake.detect import detect, read_candidates
    from accesslake.lake import writer_lock

    if args.list:
        found = read_candidates(settings.lake, site=args.site, day=_day(args.day, "--day"))
        rows = [f"{r['candidate_id']}  {r['day']}  {r['client_ip']:<39} score {r['score']:>6.1f}  "
                f"{','.join(r['kinds'])}  {r['count_requests']} requests" for r in found.iter_rows(named=True)]
        _emit(args, found.to_dicts(), rows or ["no abuse candidates"])
        return
    with writer_lock(settings.lake, args.wait):
        result = detect(settings, now, _day(args.day, "--day"), args.site)
    _emit(args, result, result.lines())


@command("export")
def _export(args: argparse.Namespace, settings: Settings, now: datetime) -> Any:
    from accesslake.errors import ConfigError
    from accesslake.export import export_incident, verify_export
    from accesslake.lake import writer_lock

    if args.verify:
        if not args.dir:
            raise ConfigError("export verify: give the export folder, e.g. `accesslake export verify evidence/CASE-17`")
        verified = verify_export(Path(args.dir))
        _emit(args, verified, verified.lines())
        return
    missing = [flag for flag, value in (("--incident", args.incident), ("--out", args.out),
               ("--recipient", args.recipient), ("--reference", args.reference),
               ("--legal-basis", args.legal_basis), ("--operator", args.operator)) if not value]
    if missing:
        raise ConfigError(f"export: {', '.join(missing)} required (or `accesslake export verify DIR`)")
    with writer_lock(settings.lake, args.wait):
        result = export_incident(
            settings, args.incident, Path(args.out), recipient=args.recipient, reference=args.reference,
            legal_basis=args.legal_basis, operator=args.operator, approver=args.approver, now=now,
        )
    _emit(args, result, result.lines())


@command("messages")
def _messages(args: argparse.Namespace, settings: Settings, now: datetime) -> Any:
    from accesslake import messages

    if args.action == "ingest":
        result = messages.ingest_messages(settings, Path(args.path), now)
        _emit(args, result, result.lines())
    elif args.action in ("classify", "hold", "release"):
        if args.action == "classify":
            message = messages.classify(settings, args.id, args.kind, args.reason, now, args.concluded)
        elif args.action == "hold":
            message = messages.hold(settings, args.id, args.reason, now)
        else:
            message = messages.release(settings, args.id, now)
        _emit(args, message, message.line())
    elif args.action in ("due", "pending"):
        found = (messages.due(settings, now, args.within) if args.action == "due"
                 else messages.pending_report(settings, now))
        _emit(args, found, [m.line() for m in found] or [f"no {args.action} messages"])
    else:
        deletion = messages.delete_due(settings, now, dry_run=args.dry_run)
        _emit(args, deletion, deletion.lines())


@command("incident")
def _incident(args: argparse.Namespace, settings: Settings, now: datetime) -> Any:
    from accesslake import holds

    lake = settings.lake
    max_days = settings.policy.max_review_days
    if args.action == "list":
        found = holds.list_holds(lake)
        rows = [f"{h.id}  {'active' if h.is_active(now) else h.status:8}  review {h.review_at:%Y-%m-%d}  "
                f"{h.case_reference}  {h.purpose}" for h in found]
        _emit(args, [h.to_dict() for h in found], rows or ["no incident holds"])
        return
    if args.action == "open" and args.from_candidate:
        from accesslake.detect import hold_from_candidate
        from accesslake.lake import writer_lock

        with writer_lock(lake, args.wait):
            hold = hold_from_candidate(
                settings, args.from_candidate, case_reference=args.case, purpose=args.purpose,
                legal_basis=tuple(args.legal_basis), authorized_by=args.authorized_by, now=now,
                review_days=args.review_days,
            )
    elif args.action == "open":
        from accesslake.config import parse_now
        from accesslake.errors import ConfigError

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
        )
    elif args.action == "show":
        hold = holds.get_hold(lake, args.id)
    elif args.action == "renew":
        hold = holds.renew_hold(lake, args.id, by=args.by, now=now, days=args.days, max_review_days=max_days)
    else:
        hold = holds.release_hold(lake, args.id, by=args.by, now=now)
    _emit(args, hold.to_dict(), hold.to_json())


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="accesslake",
        description="Access logs to a privacy-preserving Parquet lake: statistics, "
        "seven-day IP anonymisation, incident holds and forensic export.",
    )
    parser.add_argument("--version", action="version", version=f"accesslake {__version__}")
    parser.add_argument("--lake", help="lake folder (default data/lake; env ACCESSLAKE_LAKE)")
    parser.add_argument("--now", help="the clock, ISO-8601 (default: real clock; env ACCESSLAKE_NOW)")
    parser.add_argument("--policy", help="policy TOML file (env ACCESSLAKE_POLICY; default <lake>/policy.toml)")
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the writer lock (default 60)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="load log files into the lake")
    p.add_argument("files", nargs="+", metavar="FILE", help="plain or gzip access log files")
    p.add_argument("--format", help="preset (common, combined, vcombined, nginx), Apache LogFormat or nginx "
                   "log_format string; detected from the first lines when omitted")
    p.add_argument("--site", default="default", help="site name for the partition (default 'default')")
    p.add_argument("--cookie", help="name of the session cookie when the format logs several")

    p = sub.add_parser("anonymize", help="anonymise everything past anonymize_after; apply holds and releases")
    p.add_argument("--dry-run", action="store_true", help="count what would change; write nothing")

    p = sub.add_parser("audit", help="check every store against the retention invariant (exit 1 on a violation)")
    p.add_argument("--anchor", metavar="SEQ:HASH", help="an earlier 'audit log head' the log must still hold "
                   "(proves no lines were cut from its end)")

    p = sub.add_parser("nightly", help="run the nightly job once, locally: ingest landing/, anonymise, audit")
    p.add_argument("--site", default="default", help="site name for files in landing/ (default 'default')")
    p.add_argument("--format", help="log format of the files in landing/ (detected when omitted)")
    p.add_argument("--cookie", help="name of the session cookie when the format logs several")

    p = sub.add_parser("marts", help="build the statistics marts of stale days (or of --day)")
    p.add_argument("--site", default="default", help="site of the --day options (default 'default')")
    p.add_argument("--day", action="append", help="UTC day YYYY-MM-DD to (re)build; repeatable")

    p = sub.add_parser("stats", help="headline figures from the marts")
    p.add_argument("--site", help="one site (default: all)")
    p.add_argument("--from", dest="start", help="first day YYYY-MM-DD")
    p.add_argument("--to", dest="end", help="last day YYYY-MM-DD")

    p = sub.add_parser("sql", help="run a query against the analyst views (or --forensic views)")
    p.add_argument("query", help="SQL text, e.g. \"select * from daily_traffic\"")
    p.add_argument("--forensic", action="store_true", help="the forensic views (IPs, held data); audit-logged")
    p.add_argument("--limit", type=int, default=50, help="rows to print (default 50)")

    p = sub.add_parser("report", help="write the self-contained HTML report (no network requests)")
    p.add_argument("--out", required=True, help="the HTML file to write")
    p.add_argument("--site", help="one site (default: all)")
    p.add_argument("--from", dest="start", help="first UTC day YYYY-MM-DD")
    p.add_argument("--to", dest="end", help="last UTC day YYYY-MM-DD")

    p = sub.add_parser("detect", help="find abuse candidates (scanners, brute force, floods, payloads)")
    p.add_argument("--day", help="UTC day YYYY-MM-DD (default: every day still holding IPs)")
    p.add_argument("--site", help="one site (default: all)")
    p.add_argument("--list", action="store_true", help="list stored candidates instead of detecting")

    p = sub.add_parser("export", help="evidence export of an active hold (or: export verify DIR)")
    p.add_argument("verify", nargs="?", choices=["verify"], help="verify an export folder instead")
    p.add_argument("dir", nargs="?", help="the export folder to verify")
    p.add_argument("--incident", help="hold id")
    p.add_argument("--out", help="new folder to write")
    p.add_argument("--recipient", help="authority or forensic firm receiving the data")
    p.add_argument("--reference", help="their request reference")
    p.add_argument("--legal-basis", help="legal basis of the disclosure")
    p.add_argument("--operator", help="who runs the export")
    p.add_argument("--approver", help="who approved the disclosure")

    p = sub.add_parser("messages", help="contact-form messages: register, classify, hold, due dates, deletion")
    msub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    m = msub.add_parser("ingest", help="register every message of a Maildir, mbox or folder of .eml files")
    m.add_argument("path")
    m = msub.add_parser("classify", help="classify a message; sets its due date")
    m.add_argument("id")
    m.add_argument("--as", dest="kind", required=True, help="business-letter | receipt | books | no-contract")
    m.add_argument("--concluded", type=int, help="year the matter was concluded (counts from its end)")
    m.add_argument("--reason", required=True, help="why (kept in the register)")
    m = msub.add_parser("hold", help="a tax or legal hold: blocks deletion")
    m.add_argument("id")
    m.add_argument("--reason", required=True)
    m = msub.add_parser("release", help="lift a hold")
    m.add_argument("id")
    m = msub.add_parser("due", help="messages due for deletion")
    m.add_argument("--within", type=int, help="also those due within DAYS")
    msub.add_parser("pending", help="unclassified messages older than the policy's pending_report_days")
    m = msub.add_parser("delete", help="delete due messages from every store and copy")
    m.add_argument("--dry-run", action="store_true", help="list, delete nothing")

    p = sub.add_parser("incident", help="incident holds: open, list, show, renew, release")
    isub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    o = isub.add_parser("open", help="open a hold: rows in its scope are kept intact in held/")
    o.add_argument("--case", required=True, help="case reference")
    o.add_argument("--purpose", required=True, help="why the data is kept")
    o.add_argument("--legal-basis", action="append", required=True,
                   help="Art. 6(1)(c) GDPR | Art. 6(1)(f) GDPR | §24 BDSG (short: 6-1-c, 6-1-f, bdsg-24); repeatable")
    o.add_argument("--authorized-by", required=True, help="who authorised the hold")
    o.add_argument("--from-candidate", metavar="ID", help="pre-fill the scope from an abuse candidate "
                   "(its IP over its UTC day); see `accesslake detect`")
    o.add_argument("--start", help="scope window start (ISO-8601)")
    o.add_argument("--end", help="scope window end (ISO-8601)")
    for flag, dest, text in (("--ip", "ip", "client IP"), ("--cidr", "cidr", "network, v4 or v6"),
                             ("--session", "session", "session id"), ("--path", "path", "path glob"),
                             ("--user-agent", "user_agent", "user-agent substring")):
        o.add_argument(flag, dest=dest, action="append", default=[], help=f"{text}; repeatable")
    o.add_argument("--review-days", type=int, help="days until review (default and maximum: policy, 30)")
    s_ = isub.add_parser("show", help="show one hold")
    s_.add_argument("id")
    isub.add_parser("list", help="list holds")
    r = isub.add_parser("renew", help="extend an active hold's review date")
    r.add_argument("id")
    r.add_argument("--by", required=True, help="who renews it")
    r.add_argument("--days", type=int, help="days from now (at most the policy maximum)")
    r = isub.add_parser("release", help="release a hold: its rows return anonymised in the next run")
    r.add_argument("id")
    r.add_argument("--by", required=True, help="who releases it")

    p = sub.add_parser("demo", help="generate a realistic multi-day log for --now and run the pipeline on it")
    p.add_argument("--lines", type=int, default=30_000, help="lines to generate (default 30000)")
    p.add_argument("--days", type=int, default=9, help="days of traffic ending at --now (default 9)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        lake = args.lake
        if args.command == "demo" and lake is None:
            lake = "data/demo"
        settings = load_settings(lake, args.policy)
        now = resolve_now(args.now)
        _HANDLERS[args.command](args, settings, now)
    except AuditError as exc:
        print(f"accesslake: {exc}", file=sys.stderr)
        for violation in exc.violations:
            print(f"  - {violation}", file=sys.stderr)
        return 1
    except AccesslakeError as exc:
        print(f"accesslake: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
