"""Reading every Parquet file of the lake for the audit without ever stopping at a bad one.

- :class:`Scan`: the checks of ``sql/checks/`` over many files at once; a file that makes one
  fail (0 bytes, truncated, not Parquet, a broken page) is found by halving the list, named once,
  and the checks run over the others.
- :func:`check_columns`: from the footers only, each file readable, with the columns of its
  dataset, and no personal column under any name (:data:`PERSONAL_WORDS`).
- :func:`check_ip_like`: IP-like tokens in every text column of the rows that must hold none.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from accesslake.policy import IP_LIKE_PATTERN
from accesslake.schema import REJECT_SCHEMA, REQUEST_SCHEMA
from accesslake.sqlfiles import query
from accesslake.storage import LakePath, Layout
from accesslake.storage.duck import with_more_memory

__all__ = ["PERSONAL_NAMES", "PERSONAL_WORDS", "SCAN_EXEMPT", "Scan", "check_columns", "check_ip_like",
           "personal_columns"]

QUERY_ERRORS = (duckdb.Error, OSError, ValueError)
#: ... but running out of memory says nothing about a file: it stops the check (named by the audit).
NOT_A_FILE = (duckdb.OutOfMemoryException,)

#: A column is personal when its name, split into lower-case words (``remoteAddr``, ``x-forwarded-for``,
#: ``client_ip``), holds one of these words, or is one of :data:`PERSONAL_NAMES`.
PERSONAL_WORDS = frozenset({
    "ip", "ips", "ipv4", "ipv6", "ipaddr", "ipaddress", "addr", "address", "remote", "client", "clientip", "sid",
    "session", "sessionid", "cookie", "cookies", "user", "username", "userid", "login", "email", "mail",
    "forwarded", "xff", "realip", "useragent", "ua", "query", "querystring",
})
#: Whole names that are personal too: the full referrer (its host and path are kept by design).
PERSONAL_NAMES = frozenset({"referrer", "referer"})

#: Text columns the IP scan skips: identifiers of the pipeline and the operator (``row_id``,
#: ``source_file``, ``site``), what describes the site and the referring site and is kept by design
#: (``path``, ``referrer``, ``referrer_host``, ``referrer_path``), and the personal columns of the
#: requests, which rules P1 and A1-A3 check on their own.
SCAN_EXEMPT = frozenset({
    "row_id", "source_file", "site", "path", "referrer", "referrer_host", "referrer_path",
    "client_ip", "session_id", "remote_user", "forwarded_for", "query", "user_agent",
})

#: What each dataset's checks read: a file without these is not a file of the dataset.
REQUIRED = {
    "requests": ("row_id", "ts", "received_at", "anonymized_at", "client_ip", "session_id", "remote_user",
                 "forwarded_for", "query", "user_agent", "referrer"),
    "rejects": ("row_id", "line", "received_at", "scrubbed_at"),
}
REQUIRED["held"] = REQUIRED["requests"]
#: The columns a dataset keeps by design (personal ones included, checked by their own rules).
SCHEMAS = {"requests": set(REQUEST_SCHEMA.names()), "held": set(REQUEST_SCHEMA.names()),
           "rejects": set(REJECT_SCHEMA.names())}

_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


class Scan:
    """Checks of ``sql/checks/`` over many files at once on one connection. A file that makes a check fail
    (0 bytes, truncated, not Parquet, a broken page) is found by halving the list, remembered, named once
    (:meth:`unreadable`) and left out of this and every later check, which run over the others.

    ``local``: copies of (some of) the files on this machine, by the file's path (an S3 lake's files,
    downloaded once instead of read by every check through Python callbacks); the checks read the
    copies and name the files of the lake."""

    def __init__(self, con: duckdb.DuckDBPyConnection, lake: LakePath, local: dict[str, str] | None = None) -> None:
        self.con = con
        self.root = str(lake).rstrip("/") + "/"
        self.bad: dict[str, str] = {}
        self.local = {k: v for k, v in (local or {}).items() if k != v}
        self.lake_of = {v: k for k, v in self.local.items()}

    def run(self, name: str, params: dict[str, Any], files: list[str]) -> pl.DataFrame | None:
        """The check ``name`` over the readable ones of ``files`` (bound as ``$files``); None when none is."""
        files = [f for f in files if f not in self.bad]
        if not files:
            return None
        try:
            return self._query(name, params, files)
        except NOT_A_FILE:
            raise
        except QUERY_ERRORS:
            self._find_bad(name, params, files)
        good = [f for f in files if f not in self.bad]
        return self._query(name, params, good) if good else None

    def _query(self, name: str, params: dict[str, Any], files: list[str]) -> pl.DataFrame:
        # out of memory is no fault of a file: the check again with more (storage.duck), then the error
        bound = {**params, "files": [self.local.get(f, f) for f in files]}
        found = with_more_memory(self.con, lambda: query(name, bound, self.con))
        if not self.local:
            return found
        named = {str(k): str(v) for k, v in self.lake_of.items()}
        fixes = [pl.col("filename").replace(named)] if "filename" in found.columns else []
        if "files" in found.columns:
            fixes.append(pl.col("files").list.eval(pl.element().replace(named)))
        return found.with_columns(fixes) if fixes else found

    def _find_bad(self, name: str, params: dict[str, Any], files: list[str]) -> None:
        try:
            self._query(name, params, files)
        except NOT_A_FILE:
            raise
        except QUERY_ERRORS as exc:
            if len(files) == 1:
                why = (str(exc) or type(exc).__name__).splitlines()[0]
                self.bad[files[0]] = why.replace(self.local.get(files[0], files[0]), files[0])
                return
            half = len(files) // 2
            self._find_bad(name, params, files[:half])
            self._find_bad(name, params, files[half:])

    def unreadable(self) -> list[str]:
        return [f"P1 unreadable: {f}: not a readable Parquet file ({why}); {self._todo(f)}"
                for f, why in sorted(self.bad.items())]

    def _todo(self, path: str) -> str:
        if Layout.kind_of(path.removeprefix(self.root)) == "marts":
            return "delete it: the next nightly run builds that day's marts again"
        return "the next retention run moves it to quarantine/"


def personal_columns(names: set[str]) -> list[str]:
    """The names among ``names`` that say personal data (:data:`PERSONAL_WORDS`, :data:`PERSONAL_NAMES`)."""
    return sorted(n for n in names if n.lower() in PERSONAL_NAMES
                  or {w.lower() for w in _WORD.findall(n)} & PERSONAL_WORDS)


def check_columns(scan: Scan, files: dict[str, list[LakePath]],
                  failed: set[str] | None = None) -> tuple[dict[str, list[str]], list[str]]:
    """From the footers of ``files`` (by dataset kind): the files fit for the checks, by kind, and the
    violations: a file without its dataset's columns, personal columns beyond a dataset's own (each such
    file is added to ``failed``)."""
    failed = set() if failed is None else failed
    found = scan.run("checks/file_columns", {}, [str(p) for paths in files.values() for p in paths])
    columns: dict[str, set[str]] = defaultdict(set)
    for row in found.iter_rows(named=True) if found is not None else ():
        columns[row["filename"]].add(row["column_name"])
    problems: list[str] = []
    fit: dict[str, list[str]] = {}
    for kind, paths in files.items():
        fit[kind] = []
        for path in (str(p) for p in paths if str(p) not in scan.bad):
            missing = [c for c in REQUIRED.get(kind, ()) if c not in columns[path]]
            personal = personal_columns(columns[path] - SCHEMAS.get(kind, set()))
            if missing:
                problems.append(f"P1 {kind}: {path}: not a {kind} file (no column {', '.join(missing)}); "
                                "the next retention run moves it to quarantine/")
                failed.add(path)
                continue
            if personal:
                problems.append(f"P1 {kind}: {path} has personal columns {', '.join(personal)}")
                failed.add(path)
            fit[kind].append(path)
    return fit, problems


def check_ip_like(scan: Scan, kind: str, files: list[str], now: datetime, max_age_us: int,
                  failed: set[str] | None = None) -> list[str]:
    """Rules P1 and A4: no IP-like token in any text column (but :data:`SCAN_EXEMPT`) of a row that must
    hold none: anonymised or scrubbed, or (a mart) past the end of its day + the limit. The rows of a
    dataset past the deadline and not anonymised or scrubbed are the P1 checks' to report. Each file
    with such a token is added to ``failed``."""
    shape = scan.run("checks/union_columns", {}, files)
    if shape is None:
        return []
    texty = [name for name, dtype in shape.schema.items()
             if name not in SCAN_EXEMPT and ("String" in str(dtype) or "Binary" in str(dtype))]
    if not texty:
        return []
    params = {"columns": texty, "pattern": IP_LIKE_PATTERN, "marked_only": kind in REQUIRED, "now": now,
              "max_age_us": max_age_us}
    found = scan.run("checks/ip_like_values", params, files)
    problems = []
    for row in found.iter_rows(named=True) if found is not None else ():
        hits = [f"{name} ({row[name]})" for name in texty if row.get(name)]
        if hits:
            problems.append(f"P1 {kind}: {row['filename']}: IP-like values past the limit or after anonymisation "
                            f"in {', '.join(hits)}")
            if failed is not None:
                failed.add(row["filename"])
    return problems
