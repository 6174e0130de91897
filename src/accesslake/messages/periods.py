"""How long a contact-form message is kept (rules C1-C3): one table, pure functions.

=================  =========================  =======  ==========================================
kind               ``[messages]`` key          default  counted from the end of the year ...
=================  =========================  =======  ==========================================
business-letter    ``business_letter_years``   6        received, or concluded when later (C1)
receipt            ``receipt_years``           8        received, or concluded when later (C1)
books              ``books_years``             10       received, or concluded when later (C1)
no-contract        ``no_contract_years``       3        the claim arose (= received) (C2)
pending (none)     ``no_contract_years``       3        as no-contract (C2, "at the latest")
=================  =========================  =======  ==========================================

"The end of the year" is the end of a calendar year in Europe/Berlin, whatever
the site's log time zone: a message received at 00:30 on 1 January Berlin time
(still 31 December in UTC) counts for the new year. A message of year ``Y``
kept ``n`` years is due at 00:00 Europe/Berlin on 1 January of ``Y + n + 1``
(received 15.03.2025, no contract: deleted from 01.01.2029), returned in UTC.

A hold (C3) does not move the due date; it blocks the deletion
(:func:`is_deletable`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from accesslake.errors import ConfigError
from accesslake.policy import Policy

__all__ = ["KINDS", "LEGAL_TZ", "PERIOD_KEYS", "check_kind", "due_date", "is_deletable", "period_years"]

LEGAL_TZ = ZoneInfo("Europe/Berlin")

# kind -> Policy field holding its period in years; None is a pending (unclassified) message.
PERIOD_KEYS: dict[str | None, str] = {
    "business-letter": "messages_business_letter_years",
    "receipt": "messages_receipt_years",
    "books": "messages_books_years",
    "no-contract": "messages_no_contract_years",
    None: "messages_no_contract_years",
}
KINDS: tuple[str, ...] = tuple(k for k in PERIOD_KEYS if k is not None)

_DEFAULT = Policy()


def check_kind(kind: str, option: str = "--as") -> str:
    if kind not in KINDS:
        raise ConfigError(f"{option}: unknown classification {kind!r}; use one of {', '.join(KINDS)}")
    return kind


def period_years(kind: str | None, policy: Policy = _DEFAULT) -> int:
    """The retention period of ``kind`` (None = pending) in years, from the policy."""
    if kind is not None:
        check_kind(kind)
    return int(getattr(policy, PERIOD_KEYS[kind]))


def due_date(
    kind: str | None,
    received_at: datetime,
    *,
    concluded_year: int | None = None,
    policy: Policy = _DEFAULT,
) -> datetime:
    """When a message of ``kind`` (None = pending) may no longer be kept, in UTC.

    Counted from the end of the Europe/Berlin calendar year of ``received_at``,
    or of ``concluded_year`` when that is later.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware (UTC)")
    year = received_at.astimezone(LEGAL_TZ).year
    if concluded_year is not None:
        year = max(year, concluded_year)
    start_of_due_year = datetime(year + period_years(kind, policy) + 1, 1, 1, tzinfo=LEGAL_TZ)
    return start_of_due_year.astimezone(UTC)


def is_deletable(due_at: datetime, now: datetime, *, is_held: bool, deleted: bool) -> bool:
    """Due at ``now``, not under a hold (C3) and not deleted already."""
    return not is_held and not deleted and due_at <= now
