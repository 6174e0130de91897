"""The lifecycle of a contact-form message: ingest, classify, hold, release, due dates, deletion (C1-C3).

See :mod:`accesslake.messages.register` for the register itself and the workflow.
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from accesslake.config import Settings
from accesslake.errors import ConfigError
from accesslake.messages import mailstore
from accesslake.messages.periods import LEGAL_TZ, check_kind, due_date, is_deletable
from accesslake.messages.register import (
    DeletionResult,
    IngestMessagesResult,
    Message,
    kept,
    load,
    locked,
    refresh,
    required,
    save,
)
from accesslake.storage import LakePath
from accesslake.storage.auditlog import append_event

__all__ = ["classify", "delete_due", "due", "hold", "ingest_messages", "pending_report", "release"]


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
    with locked(settings.lake):
        register = load(settings)
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
            register_sha = save(settings, register)
    append_event(settings.lake, "messages.ingest", now, source=result.source, kind=kind, read=result.read,
                 new=result.new, known=result.known, copies=result.copies, lingering=result.lingering,
                 with_problems=result.with_problems, unreadable=len(result.unreadable),
                 register_sha256=register_sha)
    return result


# ---------------------------------------------------------------- classification and holds


def _change(settings: Settings, message_id: str, now: datetime, event: str, update: dict[str, object],
            check: str | None = None) -> Message:
    with locked(settings.lake):
        register = load(settings)
        old = kept(register, message_id, settings.lake)
        if check == "held" and not old.is_held:
            raise ConfigError(f"message {message_id!r} is not held; nothing to release")
        new = refresh(replace(old, **cast(dict[str, Any], update)), settings)
        register[new.message_id] = new
        register_sha = save(settings, register)
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
    reason = required(reason, "--reason")
    if concluded_year is not None and not 1990 <= concluded_year <= now.astimezone(LEGAL_TZ).year:
        raise ConfigError(f"--concluded: {concluded_year} is not a past or current year; give the year the "
                          "matter was concluded, or classify again once it is")
    return _change(settings, message_id, now, "messages.classify", {
        "classification": kind, "classification_reason": reason, "classified_at": now,
        "concluded_year": concluded_year,
    })


def hold(settings: Settings, message_id: str, reason: str, now: datetime) -> Message:
    """Put a tax or legal hold on a message: it is not deleted while held (C3)."""
    reason = required(reason, "--reason")
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
    found = [m for m in load(settings).values()
             if (m.deleted_at is None and m.due_at <= limit) or (m.deleted_at is not None and m.copies)]
    return sorted(found, key=lambda m: (m.due_at, m.message_id))


def pending_report(settings: Settings, now: datetime) -> list[Message]:
    """Unclassified messages received more than ``[messages] pending_report_days`` ago."""
    limit = now - timedelta(days=settings.policy.messages_pending_report_days)
    found = [m for m in load(settings).values()
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
    with locked(settings.lake):
        register = load(settings)
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
            register_sha = save(settings, register)
    append_event(settings.lake, "messages.delete", now, deleted=len(result.deleted),
                 entries_removed=result.entries_removed, already_gone=result.already_gone,
                 held=len(result.held), errors=len(result.errors), message_ids=result.deleted,
                 register_sha256=register_sha)
    return result
