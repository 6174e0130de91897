"""Contact-form messages: the register (rules C1-C3); its lifecycle is in :mod:`.lifecycle`.

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
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime

import polars as pl

from accesslake.config import Settings
from accesslake.errors import ConfigError, NotFoundError
from accesslake.messages import mailstore
from accesslake.messages.periods import LEGAL_TZ, due_date
from accesslake.storage import LakePath, Layout, exclusive, make_private, read_parquet, write_parquet_atomic

__all__ = [
    "REGISTER_COLUMNS",
    "REGISTER_SCHEMA",
    "DeletionResult",
    "IngestMessagesResult",
    "Message",
    "read_register",
    "register_path",
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
def locked(lake: LakePath) -> Iterator[None]:
    folder = register_path(lake).parent
    make_private(folder, folder)
    with exclusive(folder / ".lock", wait_seconds=120, what="message register lock"):
        yield


def refresh(message: Message, settings: Settings) -> Message:
    if message.deleted_at is not None:
        return message
    due_at = due_date(message.classification, message.received_at,
                      concluded_year=message.concluded_year, policy=settings.policy)
    return message if due_at == message.due_at else replace(message, due_at=due_at)


def load(settings: Settings) -> dict[str, Message]:
    path = register_path(settings.lake)
    if not path.exists():
        return {}
    rows = read_parquet(path).to_dicts()
    messages = [refresh(Message(**{**row, "copies": tuple(row["copies"] or ())}), settings) for row in rows]
    return {m.message_id: m for m in messages}


def read_register(settings: Settings) -> list[Message]:
    """Every register row (due dates from the current policy), oldest first."""
    return sorted(load(settings).values(), key=lambda m: (m.received_at, m.message_id))


def save(settings: Settings, register: dict[str, Message]) -> str:
    """Write the register atomically (0600); returns the SHA-256 of the written file."""
    rows = [{**asdict(m), "copies": list(m.copies)} for m in sorted(
        register.values(), key=lambda m: (m.received_at, m.message_id))]
    frame = pl.DataFrame(rows, schema=REGISTER_SCHEMA) if rows else pl.DataFrame(schema=REGISTER_SCHEMA)
    path = write_parquet_atomic(frame, register_path(settings.lake), private=True)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def find(register: dict[str, Message], given: str, lake: LakePath) -> Message:
    text = given.strip()
    for candidate in (text, f"<{text.strip('<>')}>", mailstore.hash_id(text)):
        if candidate in register:
            return register[candidate]
    raise NotFoundError(f"message {given!r} is not in the register {register_path(lake)}; "
                      "ingest the mailbox first, or copy the id from `accesslake messages due`")


def kept(register: dict[str, Message], given: str, lake: LakePath) -> Message:
    message = find(register, given, lake)
    if message.deleted_at is not None:
        raise ConfigError(f"message {given!r} was deleted at {message.deleted_at:%Y-%m-%d %H:%M} UTC")
    return message


def required(text: str | None, option: str) -> str:
    if not text or not text.strip():
        raise ConfigError(f"{option}: give a reason (it stays in the register, not in the audit log)")
    return text.strip()
