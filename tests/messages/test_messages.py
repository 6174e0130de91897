"""Contact-form messages: register, classification, due dates, holds and deletion (rules C1-C3).

Mail stores are built per test with the standard library (``mailbox``), so each
test owns a fresh Maildir / mbox; the raw messages carry the real-world
oddities (no Message-ID, RFC 2047 headers, raw 8-bit bytes, garbage, bad or
missing dates).
"""

from __future__ import annotations

import dataclasses
import mailbox
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from accesslake import messages
from accesslake.config import Settings
from accesslake.errors import ConfigError, InputError, NotFoundError
from accesslake.messages import mailstore
from accesslake.messages.periods import KINDS, due_date, period_years
from accesslake.policy import Policy, load_policy
from accesslake.storage.auditlog import audit_log_path, read_events, verify_chain

BERLIN = ZoneInfo("Europe/Berlin")
INGEST_AT = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
RECENT = "Mon, 5 Jan 2026 10:00:00 +0100"  # pending, due 2030: never due in these tests


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


def raw_message(
    message_id: str | None = "<m1@example.org>",
    date: str | None = "Sat, 15 Mar 2025 10:00:00 +0100",
    subject: str | bytes = "Anfrage",
    sender: str = "Alice Example <alice@example.org>",
    received: str | None = None,
    body: bytes = b"Hello,\nplease call me.\n",
) -> bytes:
    head: list[bytes] = []
    if received:
        head.append(f"Received: from web.example.org by mx.example.net; {received}".encode())
    head.append(f"From: {sender}".encode())
    head.append(b"To: info@example.net")
    head.append(b"Subject: " + (subject if isinstance(subject, bytes) else subject.encode()))
    if date is not None:
        head.append(f"Date: {date}".encode())
    if message_id is not None:
        head.append(f"Message-ID: {message_id}".encode())
    return b"\n".join(head) + b"\n\n" + body


def make_maildir(path: Path, raws: list[bytes]) -> Path:
    box = mailbox.Maildir(path, factory=None, create=True)
    for raw in raws:
        box.add(raw)
    return path


def make_mbox(path: Path, raws: list[bytes]) -> Path:
    box = mailbox.mbox(path, create=True)
    for raw in raws:
        box.add(raw)
    box.flush()
    box.close()
    return path


def identities(store: Path) -> list[str]:
    """Identities of the messages still in a store (Maildir, mbox or .eml folder)."""
    _, entries = mailstore.open_source(store)
    return sorted(mailstore.identify(e.raw)[0] for e in entries if e.raw is not None)


def row(settings: Settings, message_id: str) -> messages.Message:
    return next(m for m in messages.read_register(settings) if m.message_id == message_id)


# ---------------------------------------------------------------- due dates (pure, table-driven)

DUE_CASES = [
    # kind, received (UTC), concluded year, due (Europe/Berlin midnight, 1 January of)
    ("business-letter", datetime(2025, 3, 15, 9, tzinfo=UTC), None, 2032),
    ("receipt", datetime(2025, 3, 15, 9, tzinfo=UTC), None, 2034),
    ("books", datetime(2025, 3, 15, 9, tzinfo=UTC), None, 2036),
    ("no-contract", datetime(2025, 3, 15, 9, tzinfo=UTC), None, 2029),  # the notice's example
    (None, datetime(2025, 3, 15, 9, tzinfo=UTC), None, 2029),  # pending = no-contract
    # 00:30 on 1 January in Berlin is still 31 December in UTC: counts for the new year
    ("no-contract", datetime(2024, 12, 31, 23, 30, tzinfo=UTC), None, 2029),
    ("receipt", datetime(2024, 12, 31, 23, 30, tzinfo=UTC), None, 2034),
    # 23:59 on 31 December in Berlin (22:59 UTC) is the old year
    ("no-contract", datetime(2024, 12, 31, 22, 59, tzinfo=UTC), None, 2028),
    ("books", datetime(2024, 12, 31, 22, 59, tzinfo=UTC), None, 2035),
    # in summer Berlin is UTC+2: 22:30 UTC on 31 July is 1 August, same year anyway
    (None, datetime(2025, 7, 31, 22, 30, tzinfo=UTC), None, 2029),
    # a matter concluded later counts from the concluded year; an earlier one does not move it
    ("business-letter", datetime(2025, 3, 15, 9, tzinfo=UTC), 2027, 2034),
    ("receipt", datetime(2025, 3, 15, 9, tzinfo=UTC), 2026, 2035),
    ("books", datetime(2025, 3, 15, 9, tzinfo=UTC), 2024, 2036),
    ("no-contract", datetime(2025, 3, 15, 9, tzinfo=UTC), 2026, 2030),
]


@pytest.mark.parametrize(("kind", "received_at", "concluded", "due_year"), DUE_CASES)
def test_due_date_table(kind: str | None, received_at: datetime, concluded: int | None, due_year: int) -> None:
    due_at = due_date(kind, received_at, concluded_year=concluded)
    assert due_at == berlin(due_year, 1, 1)
    assert due_at.tzinfo is not None and due_at.utcoffset() == timedelta(0)
    assert due_at == datetime(due_year - 1, 12, 31, 23, 0, tzinfo=UTC)  # midnight Berlin in winter


def test_every_kind_is_in_the_table_and_the_periods_come_from_the_policy() -> None:
    assert {c[0] for c in DUE_CASES} == {*KINDS, None}
    policy = Policy(messages_receipt_years=10, messages_no_contract_years=2, messages_books_years=12,
                    messages_business_letter_years=7)
    received = datetime(2025, 3, 15, tzinfo=UTC)
    years = [due_date(k, received, policy=policy).astimezone(BERLIN).year for k in (*KINDS, None)]
    assert years == [2033, 2036, 2038, 2028, 2028]


def test_naive_received_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due_date("books", datetime(2025, 3, 15))
    with pytest.raises(ConfigError, match="--as: unknown classification 'invoice'"):
        due_date("invoice", datetime(2025, 3, 15, tzinfo=UTC))


# ---------------------------------------------------------------- the [messages] policy section


def test_messages_section_of_the_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[messages]\nreceipt_years = 10\nno_contract_years = 2\npending_report_days = 14\n")
    policy = load_policy(path)
    assert (policy.messages_receipt_years, policy.messages_no_contract_years) == (10, 2)
    assert policy.messages_pending_report_days == 14
    assert (Policy().messages_business_letter_years, Policy().messages_books_years) == (6, 10)


@pytest.mark.parametrize(("text", "message"), [
    ("receipt_years = 6", r"\[messages\] receipt_years must be between 8 \(the statutory minimum\) and 30"),
    ("books_years = 9", r"\[messages\] books_years must be between 10"),
    ("business_letter_years = 5", r"\[messages\] business_letter_years must be between 6"),
    ("no_contract_years = 4", r"\[messages\] no_contract_years must be between 1 and 3"),
    ("pending_report_days = 0", r"\[messages\] pending_report_days must be between 1 and 365"),
    ("receipt_years = 8.5", r"\[messages\] receipt_years must be of type int"),
    ("keep_forever = true", r"unknown key 'keep_forever' in \[messages\]"),
])
def test_messages_section_is_validated(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(f"[messages]\n{text}\n")
    with pytest.raises(ConfigError, match=message):
        load_policy(path)


# ---------------------------------------------------------------- ingest with real-world oddities

ODDITIES = {
    "plain": raw_message("<plain@example.org>"),
    "no-message-id": raw_message(None, subject="Kein Message-ID"),
    "rfc2047": raw_message("<enc@example.org>", subject="=?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=",
                           sender="=?iso-8859-1?q?J=FCrgen_M=FCller?= <juergen@example.de>"),
    "raw-8bit": raw_message("<raw8@example.org>", subject="Bestellbest\xe4tigung".encode("latin-1")),
    "bad-date": raw_message("<bad-date@example.org>", date="yesterday, around noon",
                            received="Tue, 31 Dec 2024 23:30:00 +0000"),
    "no-zone": raw_message("<no-zone@example.org>", date="Sat, 15 Mar 2025 10:00:00"),
    "future-date": raw_message("<future@example.org>", date="Fri, 1 Jan 2100 00:00:00 +0000"),
    "garbage": b"\x00\xff\xfe garbage from a broken form mailer \x81\x82\n\xde\xad\xbe\xef\n",
    "empty": b"",
    "folded-id": raw_message("\n <folded@alice-laptop>"),
}


def _check_oddities(settings: Settings, kind: str) -> None:
    rows = {m.message_id: m for m in messages.read_register(settings)}
    assert len(rows) == len(ODDITIES)  # nothing skipped
    plain = rows["<plain@example.org>"]
    assert (plain.sender, plain.subject, plain.problem) == ("alice@example.org", "Anfrage", None)
    assert plain.received_at == datetime(2025, 3, 15, 9, tzinfo=UTC)
    assert plain.received_at_source == "date" and plain.classification is None
    assert plain.due_at == berlin(2029, 1, 1) and plain.stored_at.startswith(f"{kind}:")

    by_hash = [m for m in rows.values() if m.id_source == "content-hash"]
    assert len(by_hash) == 3 and all(m.message_id.startswith("content-sha256:") for m in by_hash)
    assert any(m.subject == "Kein Message-ID" and m.problem is None for m in by_hash)

    enc = rows["<enc@example.org>"]
    assert enc.subject == "Grüße aus Köln" and enc.sender == "juergen@example.de"
    assert rows["<raw8@example.org>"].subject == "Bestellbestätigung"
    assert rows["<raw8@example.org>"].problem == "Subject: raw 8-bit bytes"

    bad = rows["<bad-date@example.org>"]
    assert bad.received_at_source == "received" and "Date header unparseable" in bad.problem
    assert bad.received_at == datetime(2024, 12, 31, 23, 30, tzinfo=UTC)
    assert bad.due_at == berlin(2029, 1, 1)  # 00:30 Berlin on New Year's Day counts for 2025

    no_zone = rows["<no-zone@example.org>"]
    assert no_zone.received_at == datetime(2025, 3, 15, 9, tzinfo=UTC) and "no time zone" in no_zone.problem
    future = rows["<future@example.org>"]
    assert future.received_at_source == "mtime" and "implausible" in future.problem
    assert rows["<folded@alice-laptop>"].problem is None

    garbage = next(m for m in by_hash if m.problem and "no Date header" in m.problem and m.subject is None
                   and "empty message" not in m.problem)
    assert garbage.received_at_source == "mtime" and "no From header" in garbage.problem
    assert garbage.sender is None
    empty = next(m for m in by_hash if m.problem and "empty message" in m.problem)
    assert empty.received_at_source == "mtime"


def test_maildir_with_oddities_is_registered_completely_and_once(settings: Settings, tmp_path: Path) -> None:
    store = make_maildir(tmp_path / "Maildir", list(ODDITIES.values()))
    result = messages.ingest_messages(settings, store, INGEST_AT)
    assert (result.kind, result.read, result.new, result.unreadable) == ("maildir", 10, 10, [])
    assert result.with_problems == 6
    _check_oddities(settings, "maildir")

    register = messages.register_path(settings.lake)
    before = register.read_bytes()
    again = messages.ingest_messages(settings, store, INGEST_AT + timedelta(days=1))
    assert (again.read, again.new, again.known, again.copies) == (10, 0, 10, 0)
    assert register.read_bytes() == before  # re-ingest adds nothing

    assert stat.S_IMODE(register.stat().st_mode) == 0o600
    assert stat.S_IMODE(register.parent.stat().st_mode) == 0o700
    assert pl.read_parquet(register).schema == messages.REGISTER_SCHEMA


def test_mbox_with_oddities_is_registered_completely_and_once(settings: Settings, tmp_path: Path) -> None:
    body_with_from = raw_message("<plain@example.org>", body=b"Hi\nFrom here on, see below.\n")
    raws = [body_with_from if k == "plain" else v for k, v in ODDITIES.items()]
    store = make_mbox(tmp_path / "inbox.mbox", [*raws, raws[0]])  # the same message twice in one mbox
    result = messages.ingest_messages(settings, store, INGEST_AT)
    assert (result.kind, result.read, result.new, result.known) == ("mbox", 11, 10, 1)
    _check_oddities(settings, "mbox")
    again = messages.ingest_messages(settings, store, INGEST_AT)
    assert (again.read, again.new, again.known) == (11, 0, 11)


def test_eml_folder_and_single_file(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "eml"
    folder.mkdir()
    (folder / "a.eml").write_bytes(raw_message("<a@example.org>").replace(b"\n", b"\r\n"))
    (folder / "b.eml").write_bytes(ODDITIES["garbage"])
    (folder / "notes.txt").write_text("not a message")
    result = messages.ingest_messages(settings, folder, INGEST_AT)
    assert (result.kind, result.read, result.new) == ("eml", 2, 2)
    assert row(settings, "<a@example.org>").stored_at == f"eml:{folder / 'a.eml'}"
    single = messages.ingest_messages(settings, folder / "a.eml", INGEST_AT)
    assert (single.kind, single.read, single.known) == ("eml", 1, 1)


def test_missing_source_names_the_path(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nowhere: no such file or folder; give a Maildir"):
        messages.ingest_messages(settings, tmp_path / "nowhere", INGEST_AT)


def test_the_same_message_elsewhere_is_a_copy(settings: Settings, tmp_path: Path) -> None:
    raw = raw_message("<copy@example.org>")
    maildir = make_maildir(tmp_path / "Maildir", [raw])
    archive = make_mbox(tmp_path / "archive.mbox", [raw])
    messages.ingest_messages(settings, maildir, INGEST_AT)
    result = messages.ingest_messages(settings, archive, INGEST_AT)
    assert (result.new, result.copies) == (0, 1)
    message = row(settings, "<copy@example.org>")
    assert message.stored_at.startswith("maildir:") and message.copies == (f"mbox:{archive}",)
    assert messages.ingest_messages(settings, archive, INGEST_AT).known == 1


# ---------------------------------------------------------------- classification, holds, reports


@pytest.fixture
def one_message(settings: Settings, tmp_path: Path) -> Path:
    store = make_maildir(tmp_path / "Maildir", [raw_message("<one@example.org>")])
    messages.ingest_messages(settings, store, INGEST_AT)
    return store


def test_classify_sets_the_due_date(settings: Settings, one_message: Path) -> None:
    message = messages.classify(settings, "one@example.org", "receipt", "invoice no. 17", INGEST_AT,
                                concluded_year=2026)
    assert message.message_id == "<one@example.org>"  # angle brackets optional on input
    assert (message.classification, message.concluded_year) == ("receipt", 2026)
    assert message.due_at == berlin(2035, 1, 1) == row(settings, "<one@example.org>").due_at
    again = messages.classify(settings, "<one@example.org>", "no-contract", "no order came", INGEST_AT)
    assert again.due_at == berlin(2029, 1, 1) and again.concluded_year is None


@pytest.mark.parametrize(("call", "message"), [
    (lambda s: messages.classify(s, "<one@example.org>", "invoice", "x", INGEST_AT),
     "--as: unknown classification 'invoice'; use one of business-letter, receipt, books, no-contract"),
    (lambda s: messages.classify(s, "<one@example.org>", "receipt", "  ", INGEST_AT), "--reason: give a reason"),
    (lambda s: messages.classify(s, "<one@example.org>", "receipt", "x", INGEST_AT, concluded_year=2031),
     "--concluded: 2031 is not a past or current year"),
    (lambda s: messages.classify(s, "<other@example.org>", "receipt", "x", INGEST_AT),
     "message '<other@example.org>' is not in the register"),
    (lambda s: messages.hold(s, "<one@example.org>", "", INGEST_AT), "--reason: give a reason"),
    (lambda s: messages.release(s, "<one@example.org>", INGEST_AT),
     "message '<one@example.org>' is not held; nothing to release"),
    (lambda s: messages.due(s, INGEST_AT, within_days=-1), "--within: -1 must be 0 or more days"),
])
def test_wrong_requests_are_refused_by_name(settings: Settings, one_message: Path, call, message: str) -> None:
    with pytest.raises((ConfigError, NotFoundError), match=message.replace("(", r"\(").replace(")", r"\)")):
        call(settings)


def test_pending_report_lists_old_unclassified_messages(settings: Settings, tmp_path: Path) -> None:
    store = make_maildir(tmp_path / "Maildir", [
        raw_message("<old@example.org>", date="Sat, 20 Dec 2025 10:00:00 +0100"),
        raw_message("<recent@example.org>", date="Fri, 30 Jan 2026 10:00:00 +0100"),
        raw_message("<filed@example.org>", date="Sat, 20 Dec 2025 10:00:00 +0100"),
    ])
    messages.ingest_messages(settings, store, INGEST_AT)
    messages.classify(settings, "<filed@example.org>", "business-letter", "offer", INGEST_AT)
    assert [m.message_id for m in messages.pending_report(settings, INGEST_AT)] == ["<old@example.org>"]
    strict = Settings(lake=settings.lake, policy=Policy(messages_pending_report_days=1))
    assert len(messages.pending_report(strict, INGEST_AT)) == 2


def test_due_lists_what_is_due_within_days(settings: Settings, one_message: Path) -> None:
    almost = berlin(2029, 1, 1) - timedelta(days=10)
    assert messages.due(settings, almost) == []
    assert [m.message_id for m in messages.due(settings, almost, within_days=10)] == ["<one@example.org>"]
    messages.hold(settings, "<one@example.org>", "tax audit 2028", INGEST_AT)
    listed = messages.due(settings, almost, within_days=30)
    assert listed[0].is_held and "held" in listed[0].line()


# ---------------------------------------------------------------- deletion, end to end (table-driven)

# name, kind, Date header, concluded year, held, due (1 January of, Berlin midnight)
LIFECYCLE = [
    ("pending", None, "Sat, 15 Mar 2025 10:00:00 +0100", None, False, 2029),
    ("no-contract", "no-contract", "Sat, 15 Mar 2025 10:00:00 +0100", None, False, 2029),
    ("new-year-berlin", "no-contract", "Wed, 01 Jan 2025 00:30:00 +0100", None, False, 2029),
    ("new-year-utc", "no-contract", "Tue, 31 Dec 2024 23:30:00 +0000", None, False, 2029),
    ("old-year", "no-contract", "Tue, 31 Dec 2024 23:59:00 +0100", None, False, 2028),
    ("held", "no-contract", "Sat, 15 Mar 2025 10:00:00 +0100", None, True, 2029),
    ("concluded-later", "no-contract", "Sat, 15 Mar 2024 10:00:00 +0100", 2025, False, 2029),
    ("concluded-later-kept", "no-contract", "Sat, 15 Mar 2025 10:00:00 +0100", 2026, False, 2030),
    ("letter", "business-letter", "Sat, 15 Mar 2025 10:00:00 +0100", None, False, 2032),
    ("letter-2022", "business-letter", "Tue, 15 Mar 2022 10:00:00 +0100", None, False, 2029),
    ("receipt", "receipt", "Sat, 15 Mar 2025 10:00:00 +0100", None, False, 2034),
    ("receipt-2020", "receipt", "Sun, 15 Mar 2020 10:00:00 +0100", None, False, 2029),
    ("books", "books", "Sat, 15 Mar 2025 10:00:00 +0100", None, False, 2036),
    ("books-2018", "books", "Thu, 15 Mar 2018 10:00:00 +0100", None, False, 2029),
]
DELETE_AT = berlin(2029, 1, 1)  # 2028-12-31T23:00Z: the first instant of 2029 in Berlin


def _lifecycle_store(settings: Settings, tmp_path: Path) -> tuple[Path, Path, Path]:
    raws = [raw_message(f"<{name}@example.org>", date=date, subject=f"about {name}",
                        sender=f"{name} <{name}@customer.example>")
            for name, _, date, *_ in LIFECYCLE]
    maildir = make_maildir(tmp_path / "Maildir", raws)
    archive = make_mbox(tmp_path / "archive.mbox", raws)  # every message has a copy here ...
    folder = tmp_path / "exported"
    folder.mkdir()
    (folder / "new-year-utc.eml").write_bytes(raws[3])  # ... and one a third copy
    (folder / "unrelated.eml").write_bytes(raw_message("<unrelated@example.org>", date=RECENT))
    for store in (maildir, archive, folder):
        messages.ingest_messages(settings, store, INGEST_AT)
    for name, kind, _, concluded, held, _ in LIFECYCLE:
        if kind:
            messages.classify(settings, f"<{name}@example.org>", kind, f"filed as {kind}", INGEST_AT,
                              concluded_year=concluded)
        if held:
            messages.hold(settings, f"<{name}@example.org>", "tax audit", INGEST_AT)
    return maildir, archive, folder


def _snapshot(settings: Settings, *stores: Path) -> tuple[bytes, list[list[str]]]:
    return messages.register_path(settings.lake).read_bytes(), [identities(s) for s in stores]


def test_deletion_at_an_explicit_clock(settings: Settings, tmp_path: Path) -> None:
    maildir, archive, folder = _lifecycle_store(settings, tmp_path)
    expected_due = {f"<{name}@example.org>": berlin(year, 1, 1) for name, *_, year in LIFECYCLE}
    assert {m.message_id: m.due_at for m in messages.read_register(settings)
            if m.message_id in expected_due} == expected_due

    # one second before midnight Berlin only the 2028 message is due
    early = messages.delete_due(settings, DELETE_AT - timedelta(seconds=1))
    assert early.deleted == [mailstore.hash_id("<old-year@example.org>")]
    assert early.entries_removed == 2 and early.already_gone == 0

    result = messages.delete_due(settings, DELETE_AT)
    gone = {f"<{name}@example.org>" for name, *_, held, year in LIFECYCLE if year == 2029 and not held}
    kept = set(expected_due) - gone - {"<old-year@example.org>"}
    assert sorted(result.deleted) == sorted(mailstore.hash_id(i) for i in gone)
    assert result.held == ["<held@example.org>"]
    assert result.entries_removed == 2 * len(gone) + 1 and result.errors == []

    for store in (maildir, archive):  # gone from the store and from every copy, others untouched
        assert identities(store) == sorted(kept)
    assert identities(folder) == ["<unrelated@example.org>"]

    tomb = row(settings, mailstore.hash_id("<new-year-utc@example.org>"))
    assert tomb.deleted_at == DELETE_AT and tomb.due_at == DELETE_AT
    assert (tomb.sender, tomb.subject, tomb.stored_at, tomb.copies, tomb.classification_reason) == (
        None, None, None, (), None)
    assert tomb.classification == "no-contract" and tomb.received_at == datetime(2024, 12, 31, 23, 30, tzinfo=UTC)
    assert row(settings, "<letter@example.org>").subject == "about letter"

    # running it again changes nothing
    before = _snapshot(settings, maildir, archive, folder)
    again = messages.delete_due(settings, DELETE_AT + timedelta(hours=1))
    assert again.deleted == [] and again.entries_removed == 0
    assert _snapshot(settings, maildir, archive, folder) == before

    # releasing the hold lets the next run delete it
    messages.release(settings, "<held@example.org>", DELETE_AT)
    assert messages.delete_due(settings, DELETE_AT).deleted == [mailstore.hash_id("<held@example.org>")]
    assert "<held@example.org>" not in identities(maildir) + identities(archive)


def test_nothing_personal_stays_after_deletion(settings: Settings, tmp_path: Path) -> None:
    _lifecycle_store(settings, tmp_path)
    messages.delete_due(settings, DELETE_AT)
    register = messages.register_path(settings.lake).read_bytes()
    frame = pl.read_parquet(messages.register_path(settings.lake))
    text = frame.write_ndjson()
    for name in ("new-year-berlin", "pending", "books-2018"):
        assert name not in text  # neither the Message-ID, the address nor the subject
    assert b"customer.example" in register  # kept messages are still there
    audit = audit_log_path(settings.lake).read_text()
    assert "customer.example" not in audit and "@example.org" not in audit and "filed as" not in audit
    assert verify_chain(settings.lake) == []
    events = [e["event"] for e in read_events(settings.lake)]
    assert events.count("messages.ingest") == 3 and events.count("messages.delete") == 1
    assert events.count("messages.classify") == 13 and events.count("messages.hold") == 1


def test_dry_run_changes_nothing(settings: Settings, tmp_path: Path) -> None:
    stores = _lifecycle_store(settings, tmp_path)
    before = _snapshot(settings, *stores)
    events = len(read_events(settings.lake))
    result = messages.delete_due(settings, DELETE_AT, dry_run=True)
    assert "<pending@example.org>" in result.deleted and result.held == ["<held@example.org>"]
    assert "would be deleted" in result.lines()[0]
    assert _snapshot(settings, *stores) == before and len(read_events(settings.lake)) == events


def test_a_lingering_copy_is_recognised_by_its_hash_and_deleted(settings: Settings, tmp_path: Path) -> None:
    raw = raw_message("<x@alice-laptop>", date="Sat, 15 Mar 2025 10:00:00 +0100")
    maildir = make_maildir(tmp_path / "Maildir", [raw])
    messages.ingest_messages(settings, maildir, INGEST_AT)
    messages.delete_due(settings, DELETE_AT)
    assert identities(maildir) == []

    backup = make_mbox(tmp_path / "restored-backup.mbox", [raw, raw_message("<keep@example.org>", date=RECENT)])
    result = messages.ingest_messages(settings, backup, DELETE_AT + timedelta(days=2))
    assert (result.new, result.lingering) == (1, 1)  # not registered afresh with a new period
    hashed = mailstore.hash_id("<x@alice-laptop>")
    assert [m.message_id for m in messages.due(settings, DELETE_AT + timedelta(days=2))] == [hashed]
    second = messages.delete_due(settings, DELETE_AT + timedelta(days=2))
    assert second.deleted == [hashed] and second.entries_removed == 1
    assert identities(backup) == ["<keep@example.org>"]
    assert row(settings, hashed).deleted_at == DELETE_AT + timedelta(days=2)
    assert "alice-laptop" not in pl.read_parquet(messages.register_path(settings.lake)).write_ndjson()
    with pytest.raises(ConfigError, match="was deleted at"):
        messages.hold(settings, "<x@alice-laptop>", "too late", DELETE_AT)


def test_messages_without_message_id_are_deleted_by_content(settings: Settings, tmp_path: Path) -> None:
    raw = raw_message(None, date="Sat, 15 Mar 2025 10:00:00 +0100", subject="no id")
    maildir = make_maildir(tmp_path / "Maildir", [raw, raw_message("<keep@example.org>", date=None)])
    for file in (maildir / "new").iterdir():  # the one without a Date is dated by its file: 2026
        os.utime(file, (INGEST_AT.timestamp(),) * 2)
    messages.ingest_messages(settings, maildir, INGEST_AT)
    result = messages.delete_due(settings, DELETE_AT)
    assert len(result.deleted) == 1 and identities(maildir) == ["<keep@example.org>"]


def test_a_message_removed_by_hand_counts_as_already_gone(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "eml"
    folder.mkdir()
    (folder / "m.eml").write_bytes(raw_message("<by-hand@example.org>"))
    messages.ingest_messages(settings, folder, INGEST_AT)
    (folder / "m.eml").unlink()
    result = messages.delete_due(settings, DELETE_AT)
    assert (len(result.deleted), result.entries_removed, result.already_gone) == (1, 0, 1)


# ---------------------------------------------------------------- properties and docs


@settings_(max_examples=200, deadline=None)
@given(
    received=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    kind=st.sampled_from([*KINDS, None]),
    concluded=st.one_of(st.none(), st.integers(1990, 2100)),
)
def test_due_date_is_new_year_in_berlin_after_the_whole_period(received: datetime, kind: str | None,
                                                              concluded: int | None) -> None:
    due_at = due_date(kind, received, concluded_year=concluded)
    local = due_at.astimezone(BERLIN)
    years = period_years(kind)
    assert (local.month, local.day, local.hour, local.minute) == (1, 1, 0, 0)
    start = max(received.astimezone(BERLIN).year, concluded or 0)
    assert local.year == start + years + 1
    assert due_at > received + timedelta(days=365 * years)


DOC = (Path(__file__).resolve().parents[2] / "docs" / "messages.md").read_text(encoding="utf-8")


def test_register_columns_match_the_message_row_and_the_docs() -> None:
    names = [name for name, _, _ in messages.REGISTER_COLUMNS]
    assert names == [f.name for f in dataclasses.fields(messages.Message)]
    assert [n for n in names if f"| `{n}` |" not in DOC] == []


@pytest.mark.parametrize("name", ["ingest_messages", "classify", "hold", "release", "due", "pending_report",
                                  "delete_due"])
def test_every_public_function_is_documented(name: str) -> None:
    assert name in messages.__all__ and f"`{name}(" in DOC


def test_a_store_that_cannot_be_changed_keeps_its_messages_due(settings: Settings, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    raws = [raw_message("<a@example.org>"), raw_message("<b@example.org>")]
    maildir = make_maildir(tmp_path / "Maildir", raws[:1])
    archive = make_mbox(tmp_path / "archive.mbox", raws[1:])
    for store in (maildir, archive):
        messages.ingest_messages(settings, store, INGEST_AT)
    real = mailstore.remove_from

    def broken(container: str, wanted: set[str]) -> dict[str, int]:
        if container.startswith("mbox:"):
            raise InputError(f"{container}: cannot remove messages (locked); fix the store and run again")
        return real(container, wanted)

    monkeypatch.setattr(mailstore, "remove_from", broken)
    result = messages.delete_due(settings, DELETE_AT)
    assert result.deleted == [mailstore.hash_id("<a@example.org>")]
    assert result.errors == [f"mbox:{archive}: cannot remove messages (locked); fix the store and run again"]
    assert row(settings, "<b@example.org>").deleted_at is None
    assert read_events(settings.lake, "messages.delete")[-1]["errors"] == 1

    monkeypatch.setattr(mailstore, "remove_from", real)
    assert messages.delete_due(settings, DELETE_AT).deleted == [mailstore.hash_id("<b@example.org>")]
    assert identities(archive) == []
