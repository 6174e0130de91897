"""The append-only, hash-chained audit log (rule D2).

One JSON object per line in ``<lake>/audit/audit.jsonl``. Each line carries
``seq``, ``at`` (UTC, from the explicit clock), ``event``, the event's counts
and hashes, ``prev`` (the previous line's hash) and ``hash`` (SHA-256 of the
line without ``hash``). Editing or deleting any line breaks the chain, which
:func:`verify_chain` (and so the audit) reports.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from accesslake.errors import ConfigError
from accesslake.storage.backend import LakePath
from accesslake.storage.files import append_bytes
from accesslake.storage.layout import Layout

__all__ = ["append_event", "audit_log_path", "read_events", "verify_chain"]

GENESIS = "0" * 64


def audit_log_path(lake: LakePath) -> LakePath:
    return Layout(lake).audit_log


def _digest(record: dict[str, Any]) -> str:
    body = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _record(prev: dict[str, Any] | None, event: str, at: datetime, details: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "seq": (prev["seq"] + 1) if prev else 1,
        "at": at.isoformat(),
        "event": event,
        **details,
        "prev": prev["hash"] if prev else GENESIS,
    }
    record["hash"] = _digest(record)
    return record


def append_event(lake: LakePath, event: str, at: datetime, **details: Any) -> dict[str, Any]:
    """Append one event and return the written record (the next link is made under the append's lock)."""
    written: dict[str, Any] = {}

    def next_link(last: bytes) -> bytes:
        record = _record(json.loads(last) if last.strip() else None, event, at, details)
        written.update(record)
        return (json.dumps(record, sort_keys=True, default=str) + "\n").encode("utf-8")

    append_bytes(audit_log_path(lake), next_link)
    return written


def read_events(lake: LakePath, event: str | None = None) -> list[dict[str, Any]]:
    path = audit_log_path(lake)
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [r for r in records if event is None or r["event"] == event]


def verify_chain(lake: LakePath) -> list[str]:
    """Problems with the chain: a list of messages naming the line; empty if intact."""
    path = audit_log_path(lake)
    if not path.exists():
        return []
    problems: list[str] = []
    prev = GENESIS
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            problems.append(f"{path}:{number}: not a JSON record")
            continue
        claimed = record.pop("hash", None)
        if record.get("prev") != prev:
            problems.append(f"{path}:{number}: chain broken (prev does not match line {number - 1})")
        if claimed != _digest(record):
            problems.append(f"{path}:{number}: hash mismatch (line was edited)")
        prev = claimed or ""
    return problems


def head(lake: LakePath) -> str | None:
    """The log's last record as ``SEQ:HASH``: keep it outside the lake (the nightly artifact
    does) to prove later that the log was not cut back (:func:`verify_anchor`)."""
    records = read_events(lake)
    return f"{records[-1]['seq']}:{records[-1]['hash']}" if records else None


def parse_anchor(text: str, *, option: str = "--anchor") -> tuple[int, str]:
    seq, _, digest = text.strip().partition(":")
    if not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ConfigError(f"{option}: {text!r} is not SEQ:HASH (as the audit prints it: 'audit log head: 42:<sha256>')")
    return int(seq), digest


def verify_anchor(lake: LakePath, anchor: str) -> list[str]:
    """Problems if the log no longer holds the record ``anchor`` (``SEQ:HASH``) names.

    The chain proves no line was edited or removed in the middle; only a head
    kept elsewhere proves that no line was removed from the end.
    """
    seq, digest = parse_anchor(anchor)
    path = audit_log_path(lake)
    for record in read_events(lake):
        if record.get("seq") == seq:
            if record.get("hash") == digest:
                return []
            return [f"D2 audit log: {path}: record {seq} has hash {record.get('hash')}, the anchor says {digest}; "
                    "the log was rewritten"]
    return [f"D2 audit log: {path}: no record {seq} (the anchor {anchor}); the log was cut back"]
