"""Journals of the two-file moves (main -> held, held -> main) and their crash recovery.

An operation that touches two files first writes a journal naming its outputs
(``<lake>/ledger/journal/``); :func:`recover` rolls a half-done operation back,
so a crash at any point followed by a re-run ends in the state of a clean run
(rule P4). Named failure points (``ACCESSLAKE_FAULT=<point>`` or
``<point>:kill``) let tests crash the rewrite at each step.
"""

from __future__ import annotations

import json

from accesslake import storage
from accesslake.storage import LakePath, Layout

__all__ = ["FAULT_POINTS", "free_target", "recover", "write_journal"]

FAULT_POINTS = (
    "after-held-write",  # held copy written, main file not yet rewritten
    "after-main-write",  # main file rewritten, journal not yet removed
    "after-return-write",  # released rows written back to main, held file not yet removed
    "after-held-delete",  # held file removed, journal not yet removed
    "after-reject-write",
)


def write_journal(lake: LakePath, name: str, body: dict[str, object]) -> LakePath:
    return storage.write_text_atomic(Layout(lake).journal / f"{name}.json", json.dumps(body))


def recover(lake: LakePath) -> int:
    """Roll back half-done moves of a crashed run; returns how many."""
    count = 0
    folder = Layout(lake).journal
    for journal in storage.list_files(folder, ".json"):
        body = json.loads(storage.read_bytes_or_empty(journal))
        if body["op"] == "hold":
            source = lake / body["source"]
            moved = set(body["row_ids"])
            still_there = source.exists() and bool(
                storage.read_parquet(source, columns=["row_id"])["row_id"].is_in(list(moved)).any()
            )
            if still_there:  # main not rewritten yet: undo the held copies
                for target in body["outputs"]:
                    storage.remove_file(lake / target)
                count += 1
        elif body["op"] == "return" and (lake / body["source"]).exists():
            storage.remove_file(lake / body["output"])  # held file not removed yet: undo the copy
            count += 1
        storage.remove_file(journal)
    for stray in storage.list_files(folder, ".tmp"):
        storage.remove_file(stray)
    return count


def free_target(target: LakePath) -> LakePath:
    """``target``, or ``<stem>-<n>.parquet`` beside it when that name is taken."""
    n = 1
    free = target
    while free.exists():
        n += 1
        free = target.with_name(f"{target.stem}-{n}{target.suffix}")
    return free
