"""Where contact-form messages are stored: reading, identifying and removing them.

Three kinds of store, read with the standard library's :mod:`mailbox` and
:mod:`email` (``policy=email.policy.default``, falling back to ``compat32``
for headers the default policy cannot parse):

* a **Maildir** (a folder with ``cur/`` and ``new/``): location
  ``maildir:<abs path>#<key>`` (the key survives flag changes and moves from
  ``new/`` to ``cur/``);
* an **mbox** file (starts with ``From ``, or empty): location ``mbox:<abs path>``
  (mbox keys are positions and change when an earlier message is removed, so
  the location is the file; every entry with the message's identity in it is
  the message or a copy of it);
* a **folder of .eml files** (or one such file): location ``eml:<abs path>``.

A message's identity is its Message-ID header (whitespace removed, the first
``<...>`` in it); without one, ``content-sha256:<hex>`` of its bytes with line
endings normalised to LF. Removal finds messages by identity, never by
position, so it removes every entry of the message in a store and nothing else.
"""

from __future__ import annotations

import email.errors
import email.policy
import email.utils
import hashlib
import mailbox
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.message import Message as EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path
from zoneinfo import ZoneInfo

from accesslake.errors import InputError
from accesslake.storage import fsync_dir

__all__ = [
    "Entry",
    "Headers",
    "container_of",
    "hash_id",
    "identify",
    "open_source",
    "read_headers",
    "remove_everywhere",
    "remove_from",
]

# What the email package raises on headers it cannot parse (bugs included); caught
# only around single header reads, and always recorded as a problem of the message.
_PARSE_ERRORS = (ValueError, TypeError, IndexError, KeyError, AttributeError, LookupError, email.errors.MessageError)
_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)  # older Date/Received values are broken clocks
_ANGLE_ID = re.compile(r"<[^<>\s]+>")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MAILDIR, MBOX, EML = "maildir", "mbox", "eml"


class _RawHeaders(email.policy.Compat32):
    """compat32, but header values come back exactly as stored (raw 8-bit bytes as surrogates)."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


_RAW = _RawHeaders()


@dataclass(frozen=True)
class Entry:
    """One message as found in a store; ``error`` set when its bytes cannot be read."""

    location: str
    raw: bytes | None
    mtime: Callable[[], datetime | None]
    error: str | None = None


@dataclass
class Headers:
    """What the register keeps from a message's headers, and what was wrong with them."""

    message_id: str
    id_source: str  # "message-id" or "content-hash"
    sender: str | None = None
    subject: str | None = None
    date: datetime | None = None
    received: datetime | None = None
    problems: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- identity


def hash_id(message_id: str) -> str:
    """The SHA-256 of an identity: what the register keeps once a message is deleted."""
    return "sha256:" + hashlib.sha256(message_id.encode("utf-8")).hexdigest()


def _has_raw_bytes(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _clean(value: object) -> str:
    """Header text as valid UTF-8: raw 8-bit bytes decoded (UTF-8, else cp1252), controls replaced."""
    text = str(value)
    if _has_raw_bytes(text):
        data = text.encode("utf-8", "surrogateescape")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            plain = all(ord(ch) < 128 or "\udc80" <= ch <= "\udcff" for ch in text)
            text = data.decode("cp1252" if plain else "utf-8", errors="replace")
    return _CONTROL.sub("\ufffd", text)


def _raw_values(headers: EmailMessage, name: str) -> list[str]:
    return [_clean(v) for v in headers.get_all(name) or []]


def identify(raw: bytes) -> tuple[str, str]:
    """(identity, source) of a message: its Message-ID, else the hash of its content."""
    headers = BytesHeaderParser(policy=_RAW).parsebytes(raw)
    for value in _raw_values(headers, "Message-ID"):
        text = re.sub(r"\s+", "", value)
        found = _ANGLE_ID.search(text)
        if found:
            return found.group(0), "message-id"
        if text and text != "<>":
            return f"<{text.strip('<>')}>", "message-id"
    digest = hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()
    return f"content-sha256:{digest}", "content-hash"


# ---------------------------------------------------------------- headers


def _parse_date(text: str, what: str, site_tz: str, now: datetime, problems: list[str]) -> datetime | None:
    shown = text if len(text) <= 60 else text[:57] + "..."
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        problems.append(f"{what} unparseable: {shown!r}")
        return None
    if parsed.tzinfo is None:
        if "-0000" in text:  # RFC 5322: UTC, local zone unknown
            parsed = parsed.replace(tzinfo=UTC)
        else:  # rule T1: no offset -> the site's zone, earlier instant when ambiguous (fold=0)
            parsed = parsed.replace(tzinfo=ZoneInfo(site_tz))
            problems.append(f"{what} has no time zone; taken as {site_tz}")
    moment = parsed.astimezone(UTC)
    if not _EARLIEST <= moment <= now + timedelta(days=1):
        problems.append(f"{what} implausible ({moment:%Y-%m-%d}): ignored")
        return None
    return moment


def _default_header(headers: EmailMessage, name: str, problems: list[str]) -> object | None:
    try:
        value = headers[name]
    except _PARSE_ERRORS as exc:
        problems.append(f"{name} header unreadable ({type(exc).__name__}); read raw")
        return None
    for defect in getattr(value, "defects", ()):
        problems.append(f"{name}: {type(defect).__name__}")
    return value


def read_headers(raw: bytes, *, site_tz: str, now: datetime) -> Headers:
    """The register's fields of one message; every irregularity is listed in ``problems``."""
    message_id, id_source = identify(raw)
    info = Headers(message_id=message_id, id_source=id_source)
    problems = info.problems
    if not raw.strip():
        problems.append("empty message")
    compat = BytesHeaderParser(policy=_RAW).parsebytes(raw)
    modern = BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
    if raw.strip() and not compat.keys():
        problems.append("no headers")
    problems.extend(sorted({f"message: {type(d).__name__}" for d in compat.defects}))

    sender = _default_header(modern, "From", problems)
    addresses = getattr(sender, "addresses", ())
    address = addresses[0].addr_spec if addresses else None
    if not address and compat.get_all("From"):
        address = email.utils.parseaddr(_raw_values(compat, "From")[0])[1] or None
        if not address:
            problems.append("From header has no address")
    elif not compat.get_all("From"):
        problems.append("no From header")
    info.sender = _clean(address) if address else None

    raw_subjects = compat.get_all("Subject") or []
    subject = _default_header(modern, "Subject", problems)
    if raw_subjects and _has_raw_bytes(raw_subjects[0]):  # undeclared 8-bit: UTF-8, else cp1252
        problems.append("Subject: raw 8-bit bytes")
        info.subject = _clean(raw_subjects[0]).strip()
    elif subject is not None:
        info.subject = _clean(subject).strip()
    elif raw_subjects:
        raw_subject = _clean(raw_subjects[0])
        try:
            info.subject = _clean(make_header(decode_header(raw_subject))).strip()
        except _PARSE_ERRORS:
            info.subject = raw_subject.strip()

    dates = _raw_values(compat, "Date")
    if dates:
        info.date = _parse_date(dates[0], "Date header", site_tz, now, problems)
    else:
        problems.append("no Date header")
    for value in _raw_values(compat, "Received")[:1]:  # the topmost: our own server's
        stamp = value.rpartition(";")[2].strip()
        if stamp:
            info.received = _parse_date(stamp, "Received header", site_tz, now, problems)
    return info


# ---------------------------------------------------------------- reading a store


def _mtime_of(path: Path) -> Callable[[], datetime | None]:
    def read() -> datetime | None:
        try:
            return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        except OSError:
            return None

    return read


def _maildir_entries(path: Path) -> Iterator[Entry]:
    box = mailbox.Maildir(path, factory=None, create=False)
    for key in sorted(box.keys()):
        location = f"{MAILDIR}:{path}#{key}"
        try:
            raw = box.get_bytes(key)
        except (OSError, KeyError) as exc:
            yield Entry(location, None, lambda: None, f"cannot read ({exc})")
            continue

        def mtime(key: str = key) -> datetime | None:
            try:
                return datetime.fromtimestamp(box.get_message(key).get_date(), tz=UTC)
            except (OSError, KeyError):
                return None

        yield Entry(location, raw, mtime)


def _mbox_entries(path: Path) -> Iterator[Entry]:
    box = mailbox.mbox(path, create=False)
    try:
        for key in box.keys():  # noqa: SIM118 - a mailbox is not a dict: keys() lists its messages
            try:
                raw = box.get_bytes(key)
            except (OSError, KeyError) as exc:
                yield Entry(f"{MBOX}:{path}", None, lambda: None, f"entry {key}: cannot read ({exc})")
                continue
            yield Entry(f"{MBOX}:{path}", raw, _mtime_of(path))
    finally:
        box.close()


def _eml_entries(files: list[Path]) -> Iterator[Entry]:
    for file in files:
        try:
            raw = file.read_bytes()
        except OSError as exc:
            yield Entry(f"{EML}:{file}", None, lambda: None, f"cannot read ({exc.strerror})")
            continue
        yield Entry(f"{EML}:{file}", raw, _mtime_of(file))


def open_source(path: Path) -> tuple[str, Iterator[Entry]]:
    """(kind, entries) of a Maildir, an mbox file, a folder of .eml files or one .eml file."""
    path = Path(path).absolute()
    if not path.exists():
        raise InputError(f"{path}: no such file or folder; give a Maildir, an mbox file or a folder of .eml files")
    if path.is_dir():
        if (path / "cur").is_dir() and (path / "new").is_dir():
            return MAILDIR, _maildir_entries(path)
        return EML, _eml_entries(sorted(p for p in path.glob("*.eml") if p.is_file()))
    try:
        with path.open("rb") as fh:
            head = fh.read(5)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc
    if head == b"From " or (not head and path.suffix.lower() != ".eml"):  # an emptied mbox is still one
        return MBOX, _mbox_entries(path)
    return EML, _eml_entries([path])


# ---------------------------------------------------------------- removing


def container_of(location: str) -> str:
    """The store holding ``location``: a Maildir key's Maildir, else the location itself."""
    return location.rpartition("#")[0] if location.startswith(f"{MAILDIR}:") else location


def _matches(raw: bytes, wanted: set[str]) -> str | None:
    identity, _ = identify(raw)
    if identity in wanted:
        return identity
    hashed = hash_id(identity)
    return hashed if hashed in wanted else None


def remove_from(container: str, wanted: set[str]) -> dict[str, int]:
    """Remove every message of ``container`` whose identity (or its hash) is in ``wanted``.

    Returns how many entries were removed per wanted identity (absent: none
    found, e.g. deleted by hand). Raises :class:`InputError` naming the store
    when it cannot be read or changed.
    """
    kind, _, rest = container.partition(":")
    path = Path(rest)
    removed: dict[str, int] = {}
    try:
        if kind == EML:
            if path.is_file():
                hit = _matches(path.read_bytes(), wanted)
                if hit:
                    path.unlink()
                    fsync_dir(path.parent)
                    removed[hit] = 1
        elif kind == MAILDIR:
            if path.is_dir():
                maildir = mailbox.Maildir(path, factory=None, create=False)
                for key in list(maildir.keys()):
                    hit = _matches(maildir.get_bytes(key), wanted)
                    if hit:
                        maildir.remove(key)
                        removed[hit] = removed.get(hit, 0) + 1
        elif kind == MBOX:
            if path.is_file():
                box = mailbox.mbox(path, create=False)
                box.lock()
                try:
                    for key in list(box.keys()):
                        hit = _matches(box.get_bytes(key), wanted)
                        if hit:
                            box.remove(key)
                            removed[hit] = removed.get(hit, 0) + 1
                    if removed:
                        box.flush()
                finally:
                    box.unlock()
                    box.close()
        else:
            raise InputError(f"{container}: unknown kind of store {kind!r} in the register")
    except (OSError, KeyError, mailbox.Error) as exc:
        raise InputError(f"{container}: cannot remove messages ({exc}); fix the store and run again") from exc
    return removed


def remove_everywhere(locations: dict[str, set[str]]) -> tuple[dict[tuple[str, str], int], dict[str, str]]:
    """Remove the wanted identities from each container.

    Returns (entries removed per (container, identity), error per container that failed).
    """
    removed: dict[tuple[str, str], int] = {}
    errors: dict[str, str] = {}
    for container, wanted in sorted(locations.items()):
        try:
            for identity, count in remove_from(container, wanted).items():
                removed[(container, identity)] = count
        except InputError as exc:
            errors[container] = str(exc)
    return removed, errors
