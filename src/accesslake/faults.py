"""Named failure points, for the crash tests (rule P4).

``ACCESSLAKE_FAULT=<point>`` makes :func:`fault` raise :class:`InjectedFault`
at that point; ``<point>:kill`` kills the process there (SIGKILL), as a power
cut would. Unset, a failure point costs one environment lookup.
"""

from __future__ import annotations

import os
import signal

__all__ = ["InjectedFault", "fault"]


class InjectedFault(RuntimeError):
    """Raised at a named failure point (tests only)."""


def fault(point: str) -> None:
    wanted = os.environ.get("ACCESSLAKE_FAULT", "")
    name, _, how = wanted.partition(":")
    if name == point:
        if how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise InjectedFault(point)
