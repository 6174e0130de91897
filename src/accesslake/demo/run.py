"""``accesslake demo``: a week of realistic traffic, run night by night.

The demo generates one log file per day (daily rhythm, sessions with a cookie,
bots, a scanner, a brute-forcer, a flood, 404s, IPv6, a few malformed lines),
drops each into ``landing/`` and runs the nightly job at 02:30 Europe/Berlin
after that day, exactly as the scheduled deployment would (``prefect.yaml``):
the last night is the latest 02:30 Europe/Berlin at or before ``now``, and each
log covers the 24 hours before its night. On the
day after the planted scanner appears, an analyst opens an incident hold on
it, so the demo shows all three outcomes: anonymised rows, held rows, and the
audit passing over every store. It ends by writing the HTML report into the
demo lake and printing its path.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from accesslake import holds, storage
from accesslake.analytics.report import write_report
from accesslake.config import Progress, Settings, report_progress
from accesslake.demo.loggen import DEMO_COOKIE, DEMO_FORMAT, generate_log
from accesslake.errors import ConfigError
from accesslake.pipeline import NightlyOptions, NightlyResult, run_nightly
from accesslake.storage import Layout

__all__ = ["NIGHTLY_AT", "NIGHTLY_TZ", "DemoSummary", "night_times", "run_demo"]

MARKER = ".accesslake-demo"

#: When the scheduled nightly run starts (prefect.yaml: cron "30 2 * * *", Europe/Berlin).
NIGHTLY_AT = time(2, 30)
NIGHTLY_TZ = "Europe/Berlin"


@dataclass
class DemoSummary:
    lake: str
    now: str
    nights: list[NightlyResult] = field(default_factory=list)
    hold_id: str | None = None
    report: str | None = None

    def lines(self) -> list[str]:
        out = [f"demo lake: {self.lake} (clock {self.now})"]
        for night in self.nights:
            ingested = sum(r.rows + r.held for r in night.ingested)
            rejected = sum(r.rejects for r in night.ingested)
            anon = night.anonymized
            local = datetime.fromisoformat(night.now).astimezone(ZoneInfo(NIGHTLY_TZ))
            out.append(
                f"night {local:%Y-%m-%d %H:%M} {NIGHTLY_TZ}: ingested {ingested} rows + {rejected} rejects; "
                f"anonymised {anon.rows_anonymized if anon else 0}, held {anon.rows_held if anon else 0}; "
                f"audit {'passed' if night.audit and night.audit.ok else 'FAILED'}"
            )
        if self.hold_id:
            out.append(f"incident hold {self.hold_id} keeps the planted scanner's requests in held/")
        if self.report:
            out.append(f"report: {self.report}")
        return out


def _prepare(settings: Settings) -> None:
    lake = storage.local_path(settings.lake)
    if lake is None:
        raise ConfigError(f"--lake: {settings.lake}: the demo builds a local folder; pass a folder such as data/demo")
    if lake.exists() and any(lake.iterdir()):
        if not (lake / MARKER).exists():
            raise ConfigError(f"--lake: {lake} is not empty and not a demo lake; the demo needs its own folder")
        shutil.rmtree(lake)
    lake.mkdir(parents=True)
    (lake / MARKER).write_text("created by accesslake demo; safe to delete\n", encoding="utf-8")


def night_times(now: datetime, days: int) -> list[datetime]:
    """The ``days`` nightly runs (UTC) ending with the latest 02:30 Europe/Berlin at or before ``now``."""
    zone = ZoneInfo(NIGHTLY_TZ)
    local_day = now.astimezone(zone).date()
    last = datetime.combine(local_day, NIGHTLY_AT, tzinfo=zone)
    if last.astimezone(UTC) > now:
        local_day -= timedelta(days=1)
    return [datetime.combine(local_day - timedelta(days=back), NIGHTLY_AT, tzinfo=zone).astimezone(UTC)
            for back in range(days - 1, -1, -1)]


def run_demo(settings: Settings, now: datetime, *, lines: int = 30_000, days: int = 9, seed: int = 7,
             progress: Progress | None = None) -> DemoSummary:
    """Generate ``days`` daily logs and run the nightly job at 02:30 Europe/Berlin after each.

    ``progress`` is told of each night (:data:`accesslake.config.Progress`).
    """
    if days < 1:
        raise ConfigError(f"--days: the demo needs at least one day, got {days}")
    _prepare(settings)
    summary = DemoSummary(lake=str(settings.lake), now=now.isoformat())
    landing = Layout(settings.lake).landing
    landing.mkdir(parents=True, exist_ok=True)
    per_day = max(lines // days, 200)
    nights = night_times(now, days)
    for index, night in enumerate(nights):
        report_progress(progress, "demo nights", index, days)
        log = generate_log(
            landing / f"access-{night:%Y%m%d}.log", now=night, days=1, lines=per_day, seed=seed + index
        )
        if index == 1:
            scanner = log.planted.scanner_ip
            scope = holds.Scope(start=night - timedelta(days=2), end=night, ips=(scanner,))
            hold = holds.open_hold(
                settings.lake, case_reference=f"DEMO-{night:%Y%m%d}", scope=scope,
                purpose="investigate the vulnerability scan seen in the logs", legal_basis=("6-1-f",),
                authorized_by="demo security officer", now=night, max_review_days=settings.policy.max_review_days,
            )
            summary.hold_id = hold.id
        summary.nights.append(run_nightly(settings, night, NightlyOptions(fmt=DEMO_FORMAT, cookie=DEMO_COOKIE)))
    report_progress(progress, "demo nights", days, days)
    report = write_report(settings, settings.lake / "report.html", now=now)
    summary.report = str(report.path)
    return summary
