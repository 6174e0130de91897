"""Flow ``audit-full``: the weekly full audit, every file of the lake read (``accesslake audit --full``).

The nightly audit (``flows/nightly.py``) skips the dataset files an earlier audit verified
and that have not changed since (size, modification time, ETag: the manifest of verified
files); this flow runs the library's audit with ``full=True`` on its own schedule
(``prefect.yaml``: ``accesslake-audit-full``, Sundays 04:00 Europe/Berlin), so a file
changed without its size, time or ETag changing is found within a week, and the manifest
is written anew from what every file holds. It publishes the verdict as an artifact and
ends **Failed** on a violation. Nothing it logs or publishes carries an IP.

Run once, locally, from the project root::

    uv run python -m flows.audit --lake data/lake [--now 2026-11-29T03:00Z]
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from accesslake.audit import AuditReport, run_audit
from accesslake.config import Settings, load_settings, resolve_now
from accesslake.storage import writer_lock
from flows.nightly import LOCK_WAIT_SECONDS, audit_failure

__all__ = ["ARTIFACT_KEY", "audit_full", "full_audit", "report_markdown"]

ARTIFACT_KEY = "accesslake-audit-full"


def full_audit(settings: Settings, now: Any) -> AuditReport:
    """The library's audit with every file read, under the lake's writer lock (it writes the audit log
    and the manifest of verified files)."""
    with writer_lock(settings.lake, LOCK_WAIT_SECONDS):
        return run_audit(settings, now, full=True)


def report_markdown(report: AuditReport) -> str:
    """The verdict of one full audit as markdown: the head line, then each violation."""
    head, *rest = report.lines()
    return "\n".join([f"# accesslake full audit at {report.now}", "", f"**{head}**", "",
                      *[f"- {line.strip().removeprefix('- ')}" for line in rest]]).rstrip() + "\n"


@task(name="publish-audit", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def publish_report(report: AuditReport) -> None:
    """The verdict as a markdown artifact (an API call: retried)."""
    create_markdown_artifact(markdown=report_markdown(report), key=ARTIFACT_KEY,
                             description=f"accesslake full audit at {report.now}")


@flow(name="audit-full")
def audit_full(lake: str, now: str | None = None, policy: str | None = None) -> dict[str, Any]:
    """Audit every file of ``lake`` at ``now`` (default: $ACCESSLAKE_NOW, else the clock); fails on a violation."""
    settings = load_settings(lake, policy)
    report = task(full_audit, name="audit-full", cache_policy=NO_CACHE)(settings, resolve_now(now))
    get_run_logger().info("\n".join(report.lines()))
    publish_report(report)
    if not report.ok:
        raise audit_failure(report, settings.lake)
    return asdict(report)


if __name__ == "__main__":
    from flows.once import once_parser

    args = once_parser("the full audit flow").parse_args()
    audit_full(lake=args.lake, now=args.now, policy=args.policy)
