"""The nightly run as plain library calls, in the order the Prefect flow runs them.

``accesslake nightly`` calls :func:`run_nightly` directly (no Prefect server);
``flows/nightly.py`` wraps each step as a task. Order: recover -> ingest the
landing folder -> marts for the touched days and abuse detection (both
before the rows are anonymised) -> anonymise (backlog, holds, rejects, landing) -> delete due
contact-form messages -> audit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from accesslake import anonymize as anonymizer, detect, ingest, lake as lakefs, marts, messages
from accesslake.audit import AuditReport, run_audit
from accesslake.config import Settings

__all__ = ["NightlyResult", "run_nightly"]


@dataclass
class NightlyResult:
    now: str
    ingested: list[ingest.IngestResult] = field(default_factory=list)
    marts: marts.MartsResult | None = None
    detected: detect.DetectResult | None = None
    anonymized: anonymizer.AnonymizeResult | None = None
    messages: messages.DeletionResult | None = None
    audit: AuditReport | None = None

    def lines(self) -> list[str]:
        out = [f"nightly run at {self.now}"]
        out += [f"ingest: {r.summary()}" for r in self.ingested] or ["ingest: landing folder empty"]
        if self.marts:
            out += self.marts.lines()
        if self.detected:
            # No IPs here: these lines end up in Prefect's logs and artifacts, outside the lake.
            out += [f"detect: {line}" for line in self.detected.lines(with_ips=False)]
            out.append("detect: see the IPs with `accesslake detect --list`; act with "
                       "`accesslake incident open --from-candidate ID ...`")
        if self.anonymized:
            out += [f"anonymize: {line}" for line in self.anonymized.lines()]
        if self.messages:
            out += [f"messages: {line}" for line in self.messages.lines()]
        if self.audit:
            out += self.audit.lines()
        return out


def run_nightly(
    settings: Settings,
    now: datetime,
    *,
    site: str = "default",
    fmt: str | None = None,
    cookie: str | None = None,
    wait_seconds: float = 60,
) -> NightlyResult:
    """One nightly run at ``now``; the audit's verdict is in ``result.audit``.

    ``fmt`` / ``cookie`` apply to every file in landing/ (detected when None).
    """
    result = NightlyResult(now=now.isoformat())
    with lakefs.writer_lock(settings.lake, wait_seconds):
        anonymizer.recover(settings.lake)
        for path in ingest.landing_files(settings.lake / lakefs.LANDING):
            result.ingested.append(ingest.ingest_file(
                path, settings, now, site=site, fmt=fmt, cookie=cookie, hold_partial_line=True
            ))
        result.marts = marts.build_marts(settings, now)
        result.detected = detect.detect(settings, now)
        result.anonymized = anonymizer.anonymize(settings, now)
        result.messages = messages.delete_due(settings, now)
        result.audit = run_audit(settings, now)
    return result
