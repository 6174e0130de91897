"""Contact-form messages: the register, classification, holds and deletion (rules C1-C3).

The notice's second data store. Messages stay where the mail system keeps them
(a Maildir, an mbox file, a folder of ``.eml`` files, see
:mod:`accesslake.mailstore`); the lake keeps a register of them,
``<lake>/messages/register.parquet`` (folder 0700, file 0600, written
atomically), one row per message (:data:`REGISTER_COLUMNS`, documented in
``docs/messages.md``).

Workflow::

    ingest_messages  register every message once (Message-ID, else content hash);
                     the same identity in another place is a copy; re-ingest adds nothing
    classify         a person files the message as business-letter | receipt | books |
                     no-contract; until then it is pending (deleted as no-contract)
    hold / release   a tax or legal hold blocks the deletion (C3)
    due              what is (or will within N days be) due
    pending_report   unclassified messages older than [messages] pending_report_days
    delete_due       removes each due message from its store and every copy, keeps only
                     that it existed (Message-ID replaced by its SHA-256) and when it
                     was deleted; running it again changes nothing

Due dates are :func:`accesslake.messages.periods.due_date`, recomputed from
the policy whenever the register is read. Every change appends one line to the
audit log (``messages.ingest``, ``messages.classify``, ``messages.hold``,
``messages.release``, ``messages.delete``) with counts, the SHA-256 of the
message identity and of the written register; reasons, addresses and subjects
never go into the append-only audit log. The register has its own lock
(``<lake>/messages/.lock``), so these functions can run inside or outside the
lake's writer lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import polars as pl

from accesslake.config import Settings
from accesslake.errors import ConfigError, NotFoundError
from accesslake.messages import mailstore
from accesslake.messages.periods import LEGAL_TZ, check_kind, due_date, is_deletable
from accesslake.storage import LakePath, Layout, exclusive, make_private, read_parquet, write_parquet_atomic
from accesslake.storage.auditlog import append_event

__all__ = [
    "REGISTER_COLUMNS",
    "REGISTER_SCHEMA",
    "DeletionResult",
    "IngestMessagesResult",
    "Message",
    "classify",
    "delete_due",
    "due",
    "hold",
    "ingest_messages",
    "pending_report",
    "read_register",
    "register_path",
    "release",
]

UTC_US = pl.Datetime("us", "UTC")

# (name, type, meaning): one row per message; docs/messages.md is checked against it.
REGISTER_COLUMNS: list[tuple[str, pl.DataType, str]] = [
    ("message_id", pl.String(), "Message-ID, else content-sha256:<hex>; sha256:<hex> of it once deleted"),
    ("id_source", pl.String(), "message-id or content-hash"),
    ("received_at", UTC_US, "when the message was received, UTC"),
    ("received_at_source", pl.String(), "where received_at comes from: date, received, mtime (else registered)"),
    ("sender", pl.String(), "address in the From header; NULL once deleted"),
    ("subject", pl.String(), "decoded Subject; NULL once deleted"),
    ("stored_at", pl.String(), "where it was first found: eml:<path>, mbox:<path>, maildir:<path>#<key>"),
    ("copies", pl.List(pl.String()), "other places holding the same message"),
    ("classification", pl.String(), "business-letter, receipt, books, no-contract; NULL = pending"),
    ("classification_reason", pl.String(), "why, in the classifier's words; NULL once deleted"),
    ("classified_at", UTC_US, "when it was last classified"),
    ("concluded_year", pl.Int32(), "year the matter was concluded, when given"),
    ("is_held", pl.Boolean(), "a tax or legal hold blocks deletion (C3)"),
    ("hold_reason", pl.String(), "why it is held"),
    ("due_at", UTC_US, "when it must be deleted (00:00 Europe/Berlin on 1 January, in UTC)"),
    ("registered_at", UTC_US, "when ingest first registered it"),
    ("deleted_at", UTC_US, "when it was deleted from every known place; NULL while kept"),
    ("problem", pl.String(), "why the message could not be fully read; NULL when clean or deleted"),
]
REGISTER_SCHEMA = pl.Schema({name: dtype for name, dtype, _ in REGISTER_COLUMNS})


@dataclass(frozen=True)
class Message:
    """One register row."""

    message_id: str
    id_source: str
    received_at: datetime
    received_at_source: str
    sender: str | None
    subject: str | None
    stored_at: str | None
    copies: tuple[str, ...]
    classification: str | None
    classification_reason: str | None
    classified_at: datetime | None
    concluded_year: int | None
    is_held: bool
    hold_reason: str | None
    due_at: datetime
    registered_at: datetime
    deleted_at: datetime | None
    problem: str | None

    @property
    def locations(self) -> tuple[str, ...]:
        return ((self.stored_at,) if self.stored_at else ()) + self.copies

    def line(self) -> str:
        state = "deleted" if self.deleted_at else "held" if self.is_held else self.classification or "pending"
        subject = "" if self.subject is None else f"  {self.subject!r}"
        return (f"{self.message_id}  {state:15}  received {self.received_at:%Y-%m-%d}  "
                f"due {self.due_at.astimezone(LEGAL_TZ):%Y-%m-%d}{subject}")


@dataclass
class IngestMessagesResult:
    """Counts of one ingest: ``read == new + known + copies + lingering + len(unreadable)``."""

    source: str
    kind: str
    read: int = 0
    new: int = 0
    known: int = 0
    copies: int = 0
    lingering: int = 0
    with_problems: int = 0
    unreadable: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{self.source} ({self.kind}): {self.read} read, {self.new} new, {self.known} already known, "
               f"{self.copies} new copies, {self.lingering} copies of deleted messages (removed by the next "
               f"delete), {self.with_problems} new with problems, {len(self.unreadable)} unreadable"]
        return out + [f"unreadable: {u}" for u in self.unreadable]


@dataclass
class DeletionResult:
    """One deletion run; with ``dry_run`` it describes what would happen."""

    dry_run: bool = False
    deleted: list[str] = field(default_factory=list)  # identities (hashed after a real run)
    entries_removed: int = 0
    already_gone: int = 0
    held: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        verb = "would be" if self.dry_run else "were"
        out = [f"{len(self.deleted)} message(s) {verb} deleted ({self.entries_removed} stored entries removed, "
               f"{self.already_gone} places already empty); {len(self.held)} due but held"]
        out += [f"deleted: {i}" for i in self.deleted] + [f"held: {i}" for i in self.held]
        return out + [f"error: {e}" for e in self.errors]


# ---------------------------------------------------------------- the register


def register_path(lake: LakePath) -> LakePath:
    return Layout(lake).message_register


@contextmanager
def _locked(lake: LakePath) -> Iterator[None]:
    folder = register_path(lake).parent
    make_private(folder, folder)
    with exclusive(folder / ".lock", wait_seconds=120, what="message register lock"):
        yield


def _refresh(message: Message, settings: Settings) -> Message:
    if message.deleted_at is not None:
        return message
    due_at = due_date(message.classification, message.received_at,
                      concluded_year=message.concluded_year, policy=settings.policy)
    return message if due_at == message.due_at else replace(message, due_at=due_at)


def _load(settings: Settings) -> dict[str, Message]:
    path = register_path(settings.lake)
    if not path.exists():
        return {}
    rows = read_parquet(path).to_dicts()
    messages = [_refresh(Message(**{**row, "copies": tuple(row["copies"] or ())}), settings) for row in rows]
    return {m.message_id: m for m in messages}


def read_register(settings: Settings) -> list[Message]:
    """Every register row (due dates from the current policy), oldest first."""
    return sorted(_load(settings).values(), key=lambda m: (m.received_at, m.message_id))


def _save(settings: Settings, register: dict[str, Message]) -> str:
    """Write the register atomically (0600); returns the SHA-256 of the written file."""
    rows = [{**asdict(m), "copies": list(m.copies)} for m in sorted(
        register.values(), key=lambda m: (m.received_at, m.message_id))]
    frame = pl.DataFrame(rows, schema=REGISTER_SCHEMA) if rows else pl.DataFrame(schema=REGISTER_SCHEMA)
    path = write_parquet_atomic(frame, register_path(settings.lake), private=True)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _find(register: dict[str, Message], given: str, lake: LakePath) -> Message:
    text = given.strip()
    for candidate in (text, f"<{text.strip('<>')}>", mailstore.hash_id(text)):
        if candidate in register:
            return register[candidate]
    raise NotFoundError(f"message {given!r} is not in the register {register_path(lake)}; "
                      "ingest the mailbox first, or copy the id from `accesslake messages due`")


def _kept(register: dict[str, Message], given: str, lake: LakePath) -> Message:
    message = _find(register, given, lake)
    if message.deleted_at is not None:
        raise ConfigError(f"message {given!r} was deleted at {message.deleted_at:%Y-%m-%d %H:%M} UTC")
    return message


def _required(text: str | None, option: str) -> str:
    if not text or not text.strip():
        raise ConfigError(f"{option}: give a reason (it stays in the register, not in the audit log)")
    return text.strip()


# ---------------------------------------------------------------- ingest


def _new_message(entry: mailstore.Entry, info: mailstore.Headers, settings: Settings, now: datetime) -> Message:
    problems = list(info.problems)
    if info.date is not None:
        received_at, source = info.date, "date"
    elif info.received is not None:
        received_at, source = info.received, "received"
    elif (mtime := entry.mtime()) is not None:
        received_at, source = mtime, "mtime"
    else:  # the file vanished while being read: the ingest clock, the latest possible time
        received_at, source = now, "registered"
    return Message(
        message_id=info.message_id, id_source=info.id_source,
        received_at=received_at, received_at_source=source,
        sender=info.sender, subject=info.subject, stored_at=entry.location, copies=(),
        classification=None, classification_reason=None, classified_at=None, concluded_year=None,
        is_held=False, hold_reason=None,
        due_at=due_date(None, received_at, policy=settings.policy),
        registered_at=now, deleted_at=None, problem="; ".join(problems) or None,
    )


def ingest_messages(settings: Settings, path: LakePath, now: datetime) -> IngestMessagesResult:
    """Register every message of a Maildir, an mbox file or a folder of .eml files once.

    Nothing is skipped: a malformed message is registered with its ``problem``;
    one whose bytes cannot be read is listed in ``unreadable``. A message already
    registered elsewhere adds its place to ``copies``; a copy of a deleted
    message is recognised by the hash and removed by the next :func:`delete_due`.
    """
    kind, entries = mailstore.open_source(Path(path))
    result = IngestMessagesResult(source=str(Path(path).absolute()), kind=kind)
    register_sha = None
    with _locked(settings.lake):
        register = _load(settings)
        changed = False
        for entry in entries:
            result.read += 1
            if entry.raw is None:
                result.unreadable.append(f"{entry.location}: {entry.error}")
                continue
            info = mailstore.read_headers(entry.raw, site_tz=settings.site_tz, now=now)
            found = register.get(info.message_id) or register.get(mailstore.hash_id(info.message_id))
            if found is None:
                message = _new_message(entry, info, settings, now)
                register[message.message_id] = message
                result.new += 1
                result.with_problems += message.problem is not None
                changed = True
            elif entry.location in found.locations:
                result.known += 1
            else:
                register[found.message_id] = replace(found, copies=(*found.copies, entry.location))
                if found.deleted_at is None:
                    result.copies += 1
                else:
                    result.lingering += 1
                changed = True
        if changed:
            register_sha = _save(settings, register)
    append_event(settings.lake, "messages.ingest", now, source=result.source, kind=kind, read=result.read,
                 new=result.new, known=result.known, copies=result.copies, lingering=result.lingering,
                 with_problems=result.with_problems, unreadable=len(result.unreadable),
                 register_sha256=register_sha)
    return result


# ---------------------------------------------------------------- classification and holds


def _change(settings: Settings, message_id: str, now: datetime, event: str, update: dict[str, object],
            check: str | None = None) -> Message:
    with _locked(settings.lake):
        register = _load(settings)
        old = _kept(register, message_id, settings.lake)
        if check == "held" and not old.is_held:
            raise ConfigError(f"message {message_id!r} is not held; nothing to release")
        new = _refresh(replace(old, **cast(dict[str, Any], update)), settings)
        register[new.message_id] = new
        register_sha = _save(settings, register)
    details = {k: v for k, v in update.items() if k in ("classification", "concluded_year", "is_held")}
    append_event(settings.lake, event, now, message=mailstore.hash_id(new.message_id), **details,
                 due_at=new.due_at.isoformat(), register_sha256=register_sha)
    return new


def classify(settings: Settings, message_id: str, kind: str, reason: str, now: datetime,
             concluded_year: int | None = None) -> Message:
    """File a message as ``kind`` (business-letter | receipt | books | no-contract).

    ``concluded_year`` (the year the matter was concluded) counts when later
    than the year received; a future year is refused (classify again once the
    matter is concluded).
    """
    check_kind(kind)
    reason = _required(reason, "--reason")
    if concluded_year is not None and not 1990 <= concluded_year <= now.astimezone(LEGAL_TZ).year:
        raise ConfigError(f"--concluded: {concluded_year} is not a past or current year; give the year the "
                          "matter was concluded, or classify again once it is")
    return _change(settings, message_id, now, "messages.classify", {
        "classification": kind, "classification_reason": reason, "classified_at": now,
        "concluded_year": concluded_year,
    })


def hold(settings: Settings, message_id: str, reason: str, now: datetime) -> Message:
    """Put a tax or legal hold on a message: it is not deleted while held (C3)."""
    reason = _required(reason, "--reason")
    return _change(settings, message_id, now, "messages.hold", {"is_held": True, "hold_reason": reason})


def release(settings: Settings, message_id: str, now: datetime) -> Message:
    """Lift a hold; a message already due is deleted by the next :func:`delete_due`."""
    return _change(settings, message_id, now, "messages.release", {"is_held": False, "hold_reason": None},
                   check="held")


# ---------------------------------------------------------------- reports


def due(settings: Settings, now: datetime, within_days: int | None = None) -> list[Message]:
    """Messages due by ``now`` (+ ``within_days``), held ones included (marked), soonest first.

    Deleted messages with a lingering copy found by a later ingest are listed too.
    """
    if within_days is not None and within_days < 0:
        raise ConfigError(f"--within: {within_days} must be 0 or more days")
    limit = now + timedelta(days=within_days or 0)
    found = [m for m in _load(settings).values()
             if (m.deleted_at is None and m.due_at <= limit) or (m.deleted_at is not None and m.copies)]
    return sorted(found, key=lambda m: (m.due_at, m.message_id))


def pending_report(settings: Settings, now: datetime) -> list[Message]:
    """Unclassified messages received more than ``[messages] pending_report_days`` ago."""
    limit = now - timedelta(days=settings.policy.messages_pending_report_days)
    found = [m for m in _load(settings).values()
             if m.deleted_at is None and m.classification is None and m.received_at <= limit]
    return sorted(found, key=lambda m: (m.received_at, m.message_id))


# ---------------------------------------------------------------- deletion


def _tombstone(message: Message, now: datetime) -> Message:
    """What stays of a deleted message: that it existed, its dates and classification."""
    keep = {"id_source", "received_at", "received_at_source", "classification", "classified_at",
            "concluded_year", "due_at", "registered_at"}
    blank = {f.name: None for f in fields(Message) if f.name not in keep}
    message_id = message.message_id if message.deleted_at else mailstore.hash_id(message.message_id)
    changes: dict[str, Any] = {**blank, "message_id": message_id, "copies": (), "is_held": False, "deleted_at": now}
    return replace(message, **changes)


def delete_due(settings: Settings, now: datetime, dry_run: bool = False) -> DeletionResult:
    """Delete every due, unheld message from its store and every known copy (C1-C3).

    The store is changed first, the register after: a crash in between leaves
    the messages due, and the next run finds them already gone. A message whose
    store cannot be changed stays registered and is named in ``errors``.
    """
    result = DeletionResult(dry_run=dry_run)
    register_sha = None
    with _locked(settings.lake):
        register = _load(settings)
        targets = [m for m in register.values()
                   if is_deletable(m.due_at, now, is_held=m.is_held, deleted=m.deleted_at is not None)
                   or (m.deleted_at is not None and m.copies)]
        result.held = sorted(m.message_id for m in register.values()
                             if m.is_held and m.deleted_at is None and m.due_at <= now)
        if dry_run:
            result.deleted = sorted(m.message_id for m in targets)
            return result
        wanted: dict[str, set[str]] = {}
        for message in targets:
            for location in message.locations:
                wanted.setdefault(mailstore.container_of(location), set()).add(message.message_id)
        removed, errors = mailstore.remove_everywhere(wanted)
        result.errors = [errors[c] for c in sorted(errors)]
        for message in targets:
            containers = {mailstore.container_of(loc) for loc in message.locations}
            if containers & errors.keys():
                continue
            counts = [removed.get((c, message.message_id), 0) for c in sorted(containers)]
            result.entries_removed += sum(counts)
            result.already_gone += counts.count(0)
            tomb = _tombstone(message, now)
            del register[message.message_id]
            register[tomb.message_id] = tomb
            result.deleted.append(tomb.message_id)
        result.deleted.sort()
        if result.deleted:
            register_sha = _save(settings, register)
    append_event(settings.lake, "messages.delete", now, deleted=len(result.deleted),
                 entries_removed=result.entries_removed, already_gone=result.already_gone,
                 held=len(result.held), errors=len(result.errors), message_ids=result.deleted,
                 register_sha256=register_sha)
    return result
