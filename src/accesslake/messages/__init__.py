"""Contact-form messages (the privacy notice's second store): register, classification, due dates, deletion.

- :mod:`.periods`: how long each kind of message is kept (rules C1-C3);
- :mod:`.mailstore`: Maildir, mbox and .eml stores, read and pruned;
- :mod:`.register`: the register in ``<lake>/messages/``, its lifecycle and the deletion of due messages.
"""

from __future__ import annotations

from accesslake.messages.register import (
    DeletionResult,
    IngestMessagesResult,
    Message,
    classify,
    delete_due,
    due,
    hold,
    ingest_messages,
    pending_report,
    read_register,
    release,
)

__all__ = ["DeletionResult", "IngestMessagesResult", "Message", "classify", "delete_due", "due", "hold",
           "ingest_messages", "pending_report", "read_register", "release"]
