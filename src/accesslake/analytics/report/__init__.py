"""The HTML report: one self-contained file with GoAccess's panels and more.

:func:`write_report` reads the marts through the analyst views
(:func:`accesslake.analytics.views.connect`, the definitions the notebooks and
``accesslake sql`` use) with the queries of ``sql/report/`` and writes ONE HTML
file: inline CSS (``assets/report.css``), charts as inline SVG
(:mod:`.charts`), no script, no font, no image, no link to anything.

Every string from the lake is escaped (:func:`html.escape`). Every number sits
in an element with a ``data-value`` attribute holding the raw value (tiles also
carry ``data-key``), so tests and scripts can read the figures back without
parsing formatted text.

- :mod:`.context`: the queries and what panels read;
- :mod:`.traffic`, :mod:`.content`: the panels;
- :mod:`.page`: the document; :mod:`.html`, :mod:`.charts`: building blocks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from accesslake.analytics.report.context import Context, gather
from accesslake.analytics.report.page import CSP, PANELS, render
from accesslake.config import Settings
from accesslake.errors import AccesslakeError, ConfigError

__all__ = ["CSP", "PANELS", "ReportResult", "write_report"]


@dataclass
class ReportResult:
    """What :func:`write_report` wrote."""

    path: str
    site: str | None
    start: str | None
    end: str | None
    days: int
    requests: int
    is_empty: bool
    size_bytes: int
    panels: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        period = f"{self.start} to {self.end}" if self.days else "no data"
        return [
            f"report: {self.path} ({self.size_bytes / 1024:.0f} KiB, {len(self.panels)} panels)",
            f"site {self.site or 'all sites'}, {period}, {self.days} day(s), {self.requests} requests",
        ]


def write_report(
    settings: Settings,
    out: Path,
    *,
    now: datetime,
    site: str | None = None,
    start: date | None = None,
    end: date | None = None,
    top: int = 20,
) -> ReportResult:
    """Write the HTML report of ``site`` (all when None), days ``start``..``end`` inclusive (each site's local
    dates, as the marts), to ``out``."""
    if start is not None and end is not None and start > end:
        raise ConfigError(f"--from {start} is after --to {end}; give a start day on or before the end day")
    if top < 1:
        raise ConfigError(f"top: {top} rows per table; give 1 or more")
    data = gather(settings.lake, site, start, end, top)
    context = Context(settings=settings, now=now, site=site, start=start, end=end, data=data)
    text = render(context)
    out = Path(out)
    if out.is_symlink() or (out.exists() and not out.is_file()):
        # Replacing it would replace the link, the device or the folder itself, not write into it.
        raise ConfigError(f"--out: {out} exists and is not a regular file; name a new or existing .html file")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AccesslakeError(f"{out}: cannot write the report: {exc.strerror or exc}") from exc
    daily = data["daily"]
    return ReportResult(
        path=str(out), site=site,
        start=str(daily[0]["date"]) if daily else (start.isoformat() if start else None),
        end=str(daily[-1]["date"]) if daily else (end.isoformat() if end else None),
        days=len(daily), requests=context.total("requests"), is_empty=not daily,
        size_bytes=len(text.encode("utf-8")), panels=list(PANELS),
    )

