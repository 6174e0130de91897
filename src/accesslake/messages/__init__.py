"""Contact-form messages (the privacy notice's second store): register, classification, due dates, deletion.

- :mod:`.periods`: how long each kind of message is kept (rules C1-C3);
- :mod:`.mailstore`: Maildir, mbox and .eml stores, read and pruned;
- :mod:`.register`: the register in ``<lake>/messages/``;
- :mod:`.lifecycle`: ingest, classification, holds, due dates and the deletion of due messages.
"""

from __future__ import annotations

from accesslake.messages.lifecycle import classify, delete_due, due, hold, ingest_messages, pending_report, release
from accesslake.messages.register import (
    REGISTER_COLUMNS,
    REGISTER_SCHEMA,
    DeletionResult,
    IngestMessagesResult,
    Message,
    read_register,
    register_path,
)

__all__ = [
    "DeletionResult",
    "IngestMessagesResult",
    "Message",
    "REGISTER_COLUMNS",
    "REGISTER_SCHEMA",
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
