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
from typing import Any

from accesslake import __version__
from accesslake.cli.output import Output
from accesslake.config import Settings, load_settings, resolve_now
from accesslake.errors import AccesslakeError, AuditError

__all__ = ["EXIT_AUDIT", "EXIT_INTERNAL", "EXIT_OK", "EXIT_PARTIAL", "EXIT_USAGE", "Context", "PartialFailure",
           "build_parser", "main"]

EXIT_OK, EXIT_AUDIT, EXIT_USAGE, EXIT_PARTIAL, EXIT_INTERNAL = 0, 1, 2, 3, 4


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


def build_parser() -> argparse.ArgumentParser:
    from accesslake.cli import analytics, demo, forensics, ingest, lake, messages

    parser = argparse.ArgumentParser(
        prog="accesslake",
        description="Access logs to a privacy-preserving Parquet lake: statistics, "
        "seven-day IP anonymisation, incident holds and forensic export.",
    )
    parser.add_argument("--version", action="version", version=f"accesslake {__version__}")
    parser.add_argument("--lake", help="lake folder or s3://bucket/prefix (default data/lake; env ACCESSLAKE_LAKE)")
    parser.add_argument("--now", help="the clock, ISO-8601 (default: real clock; env ACCESSLAKE_NOW)")
    parser.add_argument("--policy", help="policy TOML file (env ACCESSLAKE_POLICY; default <lake>/policy.toml)")
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")
    parser.add_argument("--wait", type=seconds, default=60.0,
                        help="seconds to wait for the writer lock (default 60)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (ingest, lake, analytics, forensics, messages, demo):
        group.add_commands(sub)
    return parser


def _fail(message: str, code: int) -> int:
    print(f"accesslake: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
    """Add the command ``name`` with its handler; ``kwargs`` go to ``add_parser``."""
    parser: argparse.ArgumentParser = sub.add_parser(name, **kwargs)
    parser.set_defaults(handler=handler)
    return parser
