"""Argument parsing, dispatch, errors and exit codes of the ``accesslake`` command line.

Global options (before the command)::

    --lake DIR      the lake (default data/lake, env ACCESSLAKE_LAKE)
    --now TIME      the clock for every time rule (env ACCESSLAKE_NOW; rule T4)
    --policy FILE   the policy file (env ACCESSLAKE_POLICY; default <lake>/policy.toml)
    --json          machine-readable output
    --wait SECONDS  how long to wait for another run's writer lock

Exit status: 0 success; 1 the audit found violations; 2 a usage or input error
(one line on stderr names the option, file or line; nothing partial was
written); 3 the nightly run (or a multi-file ingest) finished retention but
some step or input failed (named in the output); 4 an internal error (a bug:
one line on stderr; ``ACCESSLAKE_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from accesslake import __version__
from accesslake.cli.output import Output
from accesslake.config import Settings, load_settings, resolve_now
from accesslake.errors import AccesslakeError, AuditError
from accesslake.storage.s3 import describe_error

__all__ = ["EXIT_AUDIT", "EXIT_INTERNAL", "EXIT_OK", "EXIT_PARTIAL", "EXIT_USAGE", "Context", "Parser",
           "PartialFailure", "UsageError", "build_parser", "example_epilog", "main", "register"]

EXIT_OK, EXIT_AUDIT, EXIT_USAGE, EXIT_PARTIAL, EXIT_INTERNAL = 0, 1, 2, 3, 4

#: One example per command, at the end of its ``--help`` (a test checks each against the parser).
EXAMPLES: dict[str, tuple[str, ...]] = {
    "ingest": ("accesslake ingest access.log old.log.gz --site www",
               "then `accesslake report --out report.html` (or `accesslake stats`) shows the figures"),
    "anonymize": ("accesslake anonymize --dry-run",),
    "audit": ("accesslake audit --anchor 42:<sha256>   # the log head an earlier audit printed",),
    "nightly": ("accesslake nightly --site www   # ingest landing/, statistics, anonymise, audit",),
    "marts": ("accesslake marts --day 2026-11-28 --site www",),
    "stats": ("accesslake stats --site www --from 2026-11-01 --to 2026-11-30",),
    "sql": ("accesslake sql \"select date, sum(count_requests) as requests from daily_traffic group by date\"",
            "accesslake sql --format csv \"select * from pages\" > pages.csv"),
    "report": ("accesslake report access.log --out report.html   # ingest first, then the report",
               "accesslake report --out report.html --site www --from 2026-11-01"),
    "detect": ("accesslake detect --list",),
    "incident": ("accesslake incident open --case CASE-17 --purpose \"credential stuffing\" --legal-basis 6-1-f "
                 "--authorized-by CISO --start 2026-11-20T00:00Z --end 2026-11-27T00:00Z --ip 203.0.113.9",),
    "export": ("accesslake export --incident INC-20261122-740a --out evidence/CASE-17 --recipient \"LKA Berlin\" "
               "--reference \"AZ 123/26\" --legal-basis \"§24 BDSG\" --operator \"J. Doe\"",),
    "messages": ("accesslake messages due --within 30",),
    "demo": ("accesslake demo --days 3 --lines 5000",),
    "subject": ("accesslake subject access --ip 203.0.113.9 --out answers/REQ-4711",),
}

FIRST_STEPS = """\
from a log to a report:
  accesslake report access.log --out report.html    # ingest, build statistics, write the report
or step by step:
  accesslake ingest access.log other.log.gz         # format detected (common, combined, nginx ...)
  accesslake stats                                  # headline figures (builds statistics first)
  accesslake report --out report.html               # one self-contained HTML file
  accesslake sql "select * from daily_traffic"      # ad-hoc queries over the analyst views
every night (cron or Prefect): accesslake nightly  # ingest landing/, anonymise after 120 h, audit
the lake is data/lake unless --lake DIR (or ACCESSLAKE_LAKE) says otherwise; `accesslake COMMAND --help`
shows each command's options and an example."""


class PartialFailure(AccesslakeError):
    """The command did what it could (retention ran), but some step or input failed (exit 3)."""


@dataclass
class Context:
    """What a command handler gets: its settings, the clock and where to print."""

    settings: Settings
    now: datetime
    out: Output
    wait: float


Handler = Callable[[argparse.Namespace, Context], None]


def seconds(text: str) -> float:
    """``--wait``: a finite, non-negative number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0 or value > 86_400:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 86400 seconds")
    return value


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    return parse


class UsageError(Exception):
    """A command line argparse refused (exit 2, one line naming the option)."""


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("argument "):
            message = message.removeprefix("argument ")
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    from accesslake.cli import analytics, demo, forensics, ingest, lake, messages, subjects

    parser = Parser(
        prog="accesslake",
        description="Access logs to a privacy-preserving Parquet lake: statistics, "
        "seven-day IP anonymisation, incident holds and forensic export.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=FIRST_STEPS,
    )
    parser.add_argument("--version", action="version", version=f"accesslake {__version__}")
    parser.add_argument("--lake", help="lake folder or s3://bucket/prefix (default data/lake; env ACCESSLAKE_LAKE)")
    parser.add_argument("--now", help="the clock, ISO-8601 (default: real clock; env ACCESSLAKE_NOW)")
    parser.add_argument("--policy", help="policy TOML file (env ACCESSLAKE_POLICY; default <lake>/policy.toml)")
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")
    parser.add_argument("--wait", type=seconds, default=60.0,
                        help="seconds to wait for the writer lock (default 60)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (ingest, lake, analytics, forensics, messages, demo, subjects):
        group.add_commands(sub)
    _global_options_anywhere(parser)
    return parser


def _global_options_anywhere(parser: argparse.ArgumentParser) -> None:
    """Accept the global options after the command too (``accesslake sql "..." --json``): each command's
    parser gets them with a default that leaves the value given before the command in place."""
    shared = [a for a in parser._actions if a.option_strings and a.dest in ("lake", "now", "policy", "json", "wait")]
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for child in dict.fromkeys(action.choices.values()):
            group = child.add_argument_group("global options (also accepted before the command)")
            for option in shared:
                kwargs: dict[str, Any] = {"dest": option.dest, "default": argparse.SUPPRESS, "help": option.help}
                if isinstance(option, argparse._StoreTrueAction):
                    kwargs["action"] = "store_true"
                else:
                    kwargs["type"] = option.type
                    kwargs["metavar"] = option.metavar or option.dest.upper()
                group.add_argument(*option.option_strings, **kwargs)
            _global_options_anywhere(child)


def _fail(message: str, code: int) -> int:
    print(f"accesslake: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        return _fail(f"error: {exc}", EXIT_USAGE)
    except SystemExit as exc:  # --help and --version print, then exit 0
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except BrokenPipeError:  # --help | head
        _quiet_stdout()
        return EXIT_OK
    try:
        lake = args.lake
        if args.command == "demo" and lake is None:
            lake = "data/demo"
        settings = load_settings(lake, args.policy)
        now = resolve_now(args.now)
        handler: Handler = args.handler
        handler(args, Context(settings=settings, now=now, out=Output(args.json), wait=args.wait))
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_OK
    except AuditError as exc:
        print(f"accesslake: {exc}", file=sys.stderr)
        for violation in exc.violations:
            print(f"  - {violation}", file=sys.stderr)
        return EXIT_AUDIT
    except PartialFailure as exc:
        return _fail(f"incomplete: {exc}", EXIT_PARTIAL)
    except AccesslakeError as exc:
        return _fail(f"error: {_one_line(exc)}", EXIT_USAGE)
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            _quiet_stdout()
            return EXIT_OK
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"error: {where}{exc.strerror or exc}", EXIT_USAGE)
    except KeyboardInterrupt:
        return _fail("interrupted; a re-run recovers whatever was half done", 130)
    except Exception as exc:  # noqa: BLE001 - the user sees one line, never a traceback
        remote = describe_error(exc)
        if remote is not None:  # an object-store lake that cannot be reached or read
            return _fail(f"error: --lake {args.lake or os.environ.get('ACCESSLAKE_LAKE', '')}: {remote}", EXIT_USAGE)
        if os.environ.get("ACCESSLAKE_DEBUG"):
            traceback.print_exc()
        return _fail(f"internal error: {type(exc).__name__}: {_one_line(exc)} (a bug; please report it; "
                     "ACCESSLAKE_DEBUG=1 shows the traceback)", EXIT_INTERNAL)
    return EXIT_OK


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if "\n" not in text or isinstance(exc, AccesslakeError) else text.splitlines()[0]


def _quiet_stdout() -> None:
    """After a broken pipe: send what is left of stdout to /dev/null, so exit does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def register(sub: Any, name: str, handler: Handler, **kwargs: Any) -> argparse.ArgumentParser:
    """Add the command ``name`` with its handler and its example (:data:`EXAMPLES`, shown at the end of
    its ``--help``); ``kwargs`` go to ``add_parser``."""
    if name in EXAMPLES:
        kwargs.setdefault("epilog", example_epilog(*EXAMPLES[name]))
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
    text = kwargs.get("help") or ""
    kwargs.setdefault("description", text[:1].upper() + text[1:])
    parser: argparse.ArgumentParser = sub.add_parser(name, **kwargs)
    parser.set_defaults(handler=handler)
    return parser


def example_epilog(*lines: str) -> str:
    """The ``--help`` epilog that shows an example (first line) and what may follow it."""
    return "example:\n" + "\n".join(f"  {line}" for line in lines)
