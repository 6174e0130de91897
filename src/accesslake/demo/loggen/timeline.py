"""Time: the covered window, its daily rhythm, and conversions between datetimes and microseconds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np

from accesslake.demo.loggen.arrays import F64, I64
from accesslake.errors import ConfigError

US: Final = 1_000_000  # microseconds per second: every timestamp is an int64 count of microseconds
CELL_US: Final = 60 * US  # the window is cut into one-minute cells of known traffic density

# Diurnal rhythm: relative traffic at each local hour (centre of the hour).
HOURLY = np.array(
    [0.35, 0.22, 0.15, 0.11, 0.10, 0.12, 0.22, 0.42, 0.65, 0.80, 0.88, 0.92,
     0.95, 0.92, 0.90, 0.90, 0.92, 0.95, 1.00, 1.00, 0.98, 0.88, 0.70, 0.50]
)  # fmt: skip

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def parse_offset(utc_offset: str) -> int:
    """Seconds east of UTC of an offset written like ``+0100`` or ``-0530``."""
    m = re.fullmatch(r"([+-])(\d{2})(\d{2})", utc_offset)
    if not m or int(m.group(2)) > 23 or int(m.group(3)) > 59:
        raise ConfigError(f"utc_offset {utc_offset!r} is not like '+0100' or '-0530'")
    seconds = int(m.group(2)) * 3600 + int(m.group(3)) * 60
    return seconds if m.group(1) == "+" else -seconds


def epoch_us(dt: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime (exact integer arithmetic)."""
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def from_us(us: int) -> datetime:
    """The UTC datetime of a count of microseconds since the Unix epoch."""
    return _EPOCH + timedelta(microseconds=us)


@dataclass
class Timeline:
    """The window and its one-minute cells, each with the traffic it should receive."""

    first_us: int  # first allowed timestamp (us, whole second)
    last_us: int  # last allowed timestamp (us, whole second)
    cell_start: I64
    cell_width: I64
    cell_mass: F64  # relative number of requests: density x width


def build_timeline(rng: np.random.Generator, first_us: int, last_us: int, offset_s: int) -> Timeline:
    """Cut ``[first_us, last_us]`` into cells weighted by the local hour, the weekday and hourly noise."""
    span = last_us - first_us
    n_cells = max(1, -(-span // CELL_US))
    start = first_us + np.arange(n_cells, dtype=np.int64) * CELL_US
    width = np.minimum(start + CELL_US, last_us) - start
    width = np.maximum(width, 1)
    local_s = (start + width // 2) // US + offset_s
    hour = (local_s % 86_400) / 3600.0
    density = np.interp(hour, np.arange(24) + 0.5, HOURLY, period=24)
    weekday = (local_s // 86_400 + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    density = density * np.where(weekday >= 5, 0.85, 1.0)
    hours = (start - first_us) // (3600 * US)
    noise = rng.lognormal(0.0, 0.12, int(hours.max()) + 1)
    density = density * noise[hours]
    return Timeline(first_us=first_us, last_us=last_us, cell_start=start, cell_width=width, cell_mass=density * width)
