"""Erasure on a data subject's request (Art. 17 GDPR), now, in every store, except under an active hold.

:func:`subject_erase`, store by store (the caller holds the writer lock):

- ``requests/``: the subject's personal rows are anonymised in place (rules A1-A3, as the nightly
  run would at their deadline); rows in the scope of an **active** hold move intact to
  ``held/incident=<id>/`` instead (journaled like the nightly move, rule H2): they are kept for
  the investigation (Art. 17(3)(e) GDPR) and reported with the hold's case reference. Rows are
  never deleted, so traffic counts and the ledger's accounting stay exact;
- ``held/``: rows of active holds are kept and reported; rows of ended holds (released or past
  review, waiting for the next run to return them) are anonymised where they are, unless an
  active hold's scope covers them;
- hold records: an ended hold whose scope names the subject is redacted now (networks, no
  session ids), as the nightly run does once its rows are back; an active hold's record keeps
  its scope (it is part of the hold);
- ``rejects/``: lines naming the subject are scrubbed (the subject's tokens and every IP-like
  token replaced, rule A4; ``scrubbed_at`` set);
- ``forensics/abuse_candidates/``: the subject's candidates are deleted;
- ``landing/`` and ``quarantine/``: every token naming the subject is overwritten with as many
  ``x`` (:mod:`.rawfiles`: line numbers and byte offsets unchanged; a landing file whose first
  line changed keeps its ledger state under its new identity). A quarantined file that cannot
  be searched is reported as *may contain*, with the time retention deletes it.

One ``subject.erase`` line goes to the audit log: the keyed hash of the subject, the reason
(with the subject and any IP-like token scrubbed), the counts per store and the holds that keep
rows (id and case reference). The subject's address is never written there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from accesslake import holds, ingest, retention, storage
from accesslake.config import Settings
from accesslake.errors import ConfigError
from accesslake.policy import anonymize_exprs, scrub_reject_exprs
from accesslake.retention.requests import rewrite_main
from accesslake.schema import REJECT_SCHEMA, REQUEST_SCHEMA
from accesslake.storage import LakePath, Layout, auditlog
from accesslake.subjects.access import scrubbed_reason
from accesslake.subjects.rawfiles import carry_over, write_raw
from accesslake.subjects.stores import HoldBook, raw_files
from accesslake.subjects.target import Subject, subject_hash

__all__ = ["EraseResult", "subject_erase"]


@dataclass
class EraseResult:
    """What :func:`subject_erase` changed, store by store, and what it kept under holds."""

    rows_anonymized: int = 0
    rows_moved_to_hold: int = 0
    rejects_scrubbed: int = 0
    candidates_deleted: int = 0
    raw_files_scrubbed: list[str] = field(default_factory=list)
    raw_lines_scrubbed: int = 0
    ledger_records_carried: int = 0
    holds_redacted: list[str] = field(default_factory=list)
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)  # hold id -> case reference, rows
    may_contain: list[dict[str, Any]] = field(default_factory=list)

    def keep(self, hold: holds.Hold | None, hold_id: str, rows: int) -> None:
        entry = self.kept.setdefault(hold_id, {"hold_id": hold_id, "case_reference": hold.case_reference
                                               if hold else None, "rows": 0})
        entry["rows"] += rows

    def lines(self) -> list[str]:
        out = [f"{self.rows_anonymized} rows anonymised, {self.rejects_scrubbed} rejected lines scrubbed, "
               f"{self.candidates_deleted} abuse candidates deleted, {self.raw_lines_scrubbed} raw lines scrubbed in "
               f"{len(self.raw_files_scrubbed)} files"]
        out += [f"  kept under active hold {k['hold_id']} ({k['case_reference']}): {k['rows']} rows "
                "(Art. 17(3)(e) GDPR)" for k in self.kept.values()]
        if self.rows_moved_to_hold:
            out.append(f"  of them {self.rows_moved_to_hold} moved from requests/ to held/ now")
        out += [f"  ended hold {h} redacted (its scope named the subject)" for h in self.holds_redacted]
        out += [f"  may contain the subject, cannot be searched: {m['file']} ({m['problem']}); retention deletes it "
                f"from {m['deleted_from']}" for m in self.may_contain]
        return out


def _erase_requests(settings: Settings, subject: Subject, now: datetime, book: HoldBook, result: EraseResult) -> None:
    lake, policy = settings.lake, settings.policy
    mine = subject.rows_expr()
    for path in storage.list_files(Layout(lake).requests):
        frame = storage.read_parquet(path)
        marked = frame.with_columns(pl.when(mine).then(holds.matching_hold_id_expr(book.active)).alias("_hold"),
                                    mine.alias("_mine"))
        if not marked["_mine"].any():
            continue
        to_hold = marked.filter(pl.col("_hold").is_not_null()).drop("_mine")
        keep = marked.filter(pl.col("_hold").is_null()).drop("_hold")
        result.rows_anonymized += int(keep["_mine"].sum())
        keep = keep.with_columns(anonymize_exprs(policy, now, pl.col("_mine"))).drop("_mine")
        for (hold_id,), rows in to_hold.partition_by("_hold", as_dict=True).items() if to_hold.height else []:
            result.keep(book.by_id.get(str(hold_id)), str(hold_id), rows.height)
        result.rows_moved_to_hold += to_hold.height
        rewrite_main(lake, path, keep.select(list(REQUEST_SCHEMA.names())), to_hold)


def _erase_held(settings: Settings, subject: Subject, now: datetime, book: HoldBook, result: EraseResult) -> None:
    lake, policy = settings.lake, settings.policy
    active = {h.id for h in book.active}
    mine = subject.rows_expr()
    for part in storage.list_partitions(Layout(lake).held):
        for path in part.files():
            frame = storage.read_parquet(path)
            if part.incident in active:
                count = int(frame.select(mine.sum()).item())
                if count:
                    result.keep(book.by_id[str(part.incident)], str(part.incident), count)
                continue
            marked = frame.with_columns(holds.matching_hold_id_expr(book.active).alias("_hold"))
            for (hold_id,), rows in marked.filter(mine & pl.col("_hold").is_not_null()).partition_by(
                    "_hold", as_dict=True).items():
                result.keep(book.by_id.get(str(hold_id)), str(hold_id), rows.height)  # re-held by the next run
            erase = mine & pl.col("_hold").is_null()
            count = int(marked.select(erase.sum()).item())
            if count:
                result.rows_anonymized += count
                erased = marked.with_columns(anonymize_exprs(policy, now, erase)).drop("_hold")
                storage.write_parquet_atomic(erased, path, private=True)


def _redact_ended_holds(settings: Settings, subject: Subject, now: datetime, book: HoldBook,
                        result: EraseResult) -> None:
    policy = settings.policy
    for hold in book.by_id.values():
        ended = hold.status == "released" or now >= hold.review_at
        named = any(subject.matches_client(ip) for ip in hold.scope.ips) or (
            subject.session is not None and subject.session in hold.scope.session_ids)
        if ended and named and hold.redacted_at is None:
            holds.redact_hold(settings.lake, hold.id, now=now, ipv4_prefix=policy.ipv4_prefix,
                              ipv6_prefix=policy.ipv6_prefix)
            result.holds_redacted.append(hold.id)


def _erase_rejects(lake: LakePath, subject: Subject, now: datetime, result: EraseResult) -> None:
    mine = subject.lines_expr()
    for path in storage.list_files(Layout(lake).rejects):
        frame = storage.read_parquet(path)
        count = int(frame.select(mine.sum()).item())
        if not count:
            continue
        result.rejects_scrubbed += count
        masked = frame.with_columns(
            pl.when(mine).then(pl.col("line").map_elements(lambda line: subject.masked(line, lambda _: "[erased]"),
                                                           return_dtype=pl.String))
            .otherwise(pl.col("line")).alias("line"), mine.alias("_mine"))
        scrubbed = masked.with_columns(scrub_reject_exprs(pl.col("_mine"), now)).select(list(REJECT_SCHEMA.names()))
        storage.write_parquet_atomic(scrubbed, path)


def _erase_candidates(lake: LakePath, subject: Subject, result: EraseResult) -> None:
    for path in storage.list_files(Layout(lake).candidates):
        frame = storage.read_parquet(path)
        keep = frame.filter(~subject.client_expr())
        if keep.height == frame.height:
            continue
        result.candidates_deleted += frame.height - keep.height
        if keep.height:
            storage.write_parquet_atomic(keep, path, private=True)
        else:
            storage.remove_file(path)


def _erase_raw(settings: Settings, subject: Subject, now: datetime, result: EraseResult) -> None:
    lake = settings.lake
    for raw in raw_files(settings):
        name = storage.relative(raw.path, lake)
        if raw.raw.problem:
            result.may_contain.append({"store": raw.store, "file": name, "problem": raw.raw.problem,
                                       "deleted_from": raw.deleted_from})
            continue
        text = raw.raw.text or ""
        spans = subject.spans(text)
        if not spans:
            continue
        masked = subject.masked(text)
        write_raw(raw.raw, masked, private=raw.store == "quarantine")
        result.raw_files_scrubbed.append(name)
        result.raw_lines_scrubbed += len({text.count("\n", 0, start) for start, _ in spans})
        if raw.store == "landing":
            result.ledger_records_carried += carry_over(lake, raw.path, text.encode("latin-1"),
                                                        masked.encode("latin-1"), now.isoformat())


def subject_erase(settings: Settings, subject: Subject, now: datetime, *, reason: str) -> EraseResult:
    """Anonymise, scrub or delete what every store holds about ``subject``, except rows under an active hold."""
    if not reason or not reason.strip():
        raise ConfigError('--reason: say why the rows are erased (e.g. "Art. 17 request of 2026-11-28, ticket 42")')
    lake = settings.lake
    ingest.recover(lake)
    retention.recover(lake)
    book = HoldBook.at(lake, now)
    result = EraseResult()
    _erase_requests(settings, subject, now, book, result)
    _erase_held(settings, subject, now, book, result)
    _redact_ended_holds(settings, subject, now, book, result)
    _erase_rejects(lake, subject, now, result)
    _erase_candidates(lake, subject, result)
    _erase_raw(settings, subject, now, result)
    auditlog.append_event(
        lake, "subject.erase", now, subject=subject_hash(lake, subject), reason=scrubbed_reason(reason, subject),
        is_range=subject.is_range, confirm=scrubbed_reason(subject.confirm, subject),
        rows_anonymized=result.rows_anonymized, rows_moved_to_hold=result.rows_moved_to_hold,
        rejects_scrubbed=result.rejects_scrubbed, candidates_deleted=result.candidates_deleted,
        raw_files_scrubbed=len(result.raw_files_scrubbed), raw_lines_scrubbed=result.raw_lines_scrubbed,
        ledger_records_carried=result.ledger_records_carried, holds_redacted=result.holds_redacted,
        kept=list(result.kept.values()), may_contain=len(result.may_contain),
    )
    return result
