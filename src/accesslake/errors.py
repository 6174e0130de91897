"""The exception tree of accesslake.

Every error a user can see derives from one root, and every message names the
file, line or option at fault and what to do about it::

    AccesslakeError
    ├── ConfigError        a setting, option or the policy file is wrong
    ├── FormatError        a log format string cannot be compiled
    ├── InputError         an input file cannot be read or barely parses
    ├── QueryError         a SQL query failed (the user's, or a model of sql/)
    ├── NotFoundError      an id or name names nothing (a hold, candidate, message, mart)
    ├── LockError          another writer holds the lake
    ├── HoldError          an incident hold is malformed or in the wrong state
    ├── ExportError        an evidence export cannot be written or verified
    └── AuditError         the audit found violations (carries them)

Third-party exceptions are translated at the boundary with ``raise ... from``.
"""

from __future__ import annotations

__all__ = [
    "AccesslakeError",
    "AuditError",
    "ConfigError",
    "ExportError",
    "FormatError",
    "HoldError",
    "InputError",
    "LockError",
    "NotFoundError",
    "QueryError",
]


class AccesslakeError(Exception):
    """Root of every error accesslake raises on purpose."""


class ConfigError(AccesslakeError):
    """A setting, command-line option or the policy file is invalid."""


class FormatError(AccesslakeError):
    """A log format (preset name, Apache LogFormat, nginx log_format) is invalid."""


class InputError(AccesslakeError):
    """An input file cannot be read, or too little of it parses."""


class QueryError(AccesslakeError):
    """A SQL query failed: one the user typed, or a model of ``sql/`` over the lake's data."""


class NotFoundError(AccesslakeError):
    """An id or name given by the user names nothing: a hold, a candidate, a message, a mart."""


class LockError(AccesslakeError):
    """Another process holds the lake's writer lock."""


class HoldError(AccesslakeError):
    """An incident hold is malformed, unknown, or in the wrong state."""


class ExportError(AccesslakeError):
    """An evidence export cannot be written, or fails verification."""


class AuditError(AccesslakeError):
    """The audit found violations; ``violations`` lists them."""

    def __init__(self, message: str, violations: list[str] | None = None) -> None:
        super().__init__(message)
        self.violations = list(violations or [])
