"""Flow ``nightly``: the steps of ``accesslake.nightly.run_nightly`` as tasks.

Outline (docs/architecture.md)::

    recover -> ingest landing/ (one task run per file) -> marts (one task run per day) -> detect
            -> anonymise (one task run per due partition, then the rest) -> delete due messages -> audit -> publish counts -> fail on violations -> report (when asked)

Nothing the flow logs or publishes carries an IP: Prefect's database is
outside the lake, where retention cannot reach.
The writer lock is held from recover to audit, as in ``run_nightly``; the flow
run ends Failed (:class:`accesslake.errors.AuditError`) when the audit finds a
violation, after the counts are published so the violations can be read in
the UI. Deployed by ``prefect.yaml`` (02:30 Europe/Berlin); see docs/prefect.md.

The ingests (one per landing file), the marts (one per site/day) and the
anonymisation of each due partition of requests/ are submitted to the flow's task runner: one at a time by default, or across a
Dask cluster with :func:`nightly_on_dask` (flows/runners.py). Everything else
runs in the flow process, which holds the lock.

Run once, locally, from the project root::

    uv run python -m flows.nightly --lake data/lake [--now 2026-11-29T03:00Z]
    uv run python -m flows.nightly --lake data/lake --dask-workers 2             # a local Dask cluster
    uv run python -m flows.nightly --lake /srv/lake --dask-address tcp://scheduler:8786
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from accesslake import anonymize as anonymizer, detect, lake as lakefs, marts, messages
from accesslake.audit import AuditReport, run_audit
from accesslake.config import DEFAULT_LAKE, Settings, load_settings, resolve_now
from accesslake.errors import AuditError
from accesslake.nightly import NightlyResult
from accesslake.report import write_report
from flows.ingest import LOCK_WAIT_SECONDS, landing_keys, list_landing, submit_ingests
from flows.runners import on_dask, one_at_a_time, results_of

__all__ = ["ARTIFACT_KEY", "anonymize_lake", "anonymize_partition", "audit_failure", "audit_lake", "counts_markdown", "nightly",
           "nightly_on_dask", "partitions_due", "publish_counts", "recover_lake"]

ARTIFACT_KEY = "accesslake-nightly"  # one artifact per run, versioned under this key in the UI


@task(name="recover", cache_policy=NO_CACHE)
def recover_lake(lake: Path) -> int:
    """Roll back what a crashed run left half done (ingest intents, rewrite journals, staging)."""
    return anonymizer.recover(lake)


@task(name="stale-days", cache_policy=NO_CACHE)
def stale_days(lake: Path) -> list[tuple[str, date]]:
    """The site/days whose marts are missing or older than their input."""
    return marts.days_touched(lake)


@task(name="build-marts", cache_policy=NO_CACHE, task_run_name="marts {site} {day}")
def build_marts_for_day(settings: Settings, now: datetime, site: str, day: date) -> marts.MartsResult:
    """Every mart of one site and day, from its rows before anonymisation."""
    return marts.build_marts(settings, now, [(site, day)])


@task(name="detect", cache_policy=NO_CACHE)
def detect_abuse(settings: Settings, now: datetime) -> detect.DetectResult:
    """Abuse candidates of every day still holding IPs (before anonymisation)."""
    return detect.detect(settings, now)


@task(name="anonymize-due", cache_policy=NO_CACHE)
def partitions_due(settings: Settings, now: datetime) -> list[lakefs.Partition]:
    """The partitions of requests/ holding rows to anonymise or hold (from Parquet statistics)."""
    return anonymizer.partitions_due(settings, now)


@task(name="anonymize-partition", cache_policy=NO_CACHE, task_run_name="anonymize {part.site} {part.day}")
def anonymize_partition(settings: Settings, now: datetime, part: lakefs.Partition) -> anonymizer.AnonymizeResult:
    """Step 1 of the backlog rewrite for one partition (these run in parallel on Dask)."""
    return anonymizer.anonymize_partition(settings, now, part)


@task(name="anonymize", cache_policy=NO_CACHE)
def anonymize_lake(
    settings: Settings, now: datetime, main: list[anonymizer.AnonymizeResult] | None = None
) -> anonymizer.AnonymizeResult:
    """The backlog rewrite: anonymise past ``anonymize_after``, move held rows apart (``main``: the
    partitions already done), return released holds' rows, scrub rejects, expire candidates and landing."""
    return anonymizer.anonymize(settings, now, main=main)


@task(name="report", cache_policy=NO_CACHE)
def write_html_report(settings: Settings, out: Path, now: datetime) -> str:
    """The self-contained HTML report from the marts (reads only)."""
    return str(write_report(settings, out, now=now).path)


@task(name="delete-due-messages", cache_policy=NO_CACHE)
def delete_due_messages(settings: Settings, now: datetime) -> messages.DeletionResult:
    """Contact-form messages past their retention period, from every store and copy (rules C1-C3)."""
    return messages.delete_due(settings, now)


@task(name="audit", cache_policy=NO_CACHE)
def audit_lake(settings: Settings, now: datetime) -> AuditReport:
    """Check every store against the invariant (also appended to the audit log)."""
    return run_audit(settings, now)


@task(name="publish-counts", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def publish_counts(result: NightlyResult) -> None:
    """The run's counts as a markdown artifact (an API call: retried)."""
    create_markdown_artifact(markdown=counts_markdown(result), key=ARTIFACT_KEY,
                             description=f"accesslake nightly run at {result.now}")


def counts_markdown(result: NightlyResult) -> str:
    """The counts of one nightly run as markdown: a row per ingested file, then anonymise and audit."""
    out = [f"# accesslake nightly run at {result.now}", "", "## Ingest", ""]
    if result.ingested:
        out += ["| file | format | status | lines read | rows | held | rejects | anonymised on write |",
                "|---|---|---|---:|---:|---:|---:|---:|"]
        out += [f"| {_cell(Path(r.source_file).name)} | {_cell(r.format)} | {r.status} | {r.lines_read} | {r.rows} "
                f"| {r.held} | {r.rejects} | {r.anonymized_on_write} |" for r in result.ingested]
    else:
        out.append("landing folder empty")
    if result.detected:
        out += ["", "## New abuse candidates", "", *[f"- {line.strip()}" for line in result.detected.lines(with_ips=False)],
                "", "IPs: `accesslake detect --list`; hold: `accesslake incident open --from-candidate ID ...`"]
    if result.anonymized:
        out += ["", "## Anonymise", "", *[f"- {line}" for line in result.anonymized.lines()]]
    if result.audit:
        head, *violations = result.audit.lines()
        out += ["", "## Audit", "", f"**{head}**", "", *[f"- {v.strip().removeprefix('- ')}" for v in violations]]
    return "\n".join(out).rstrip() + "\n"


def audit_failure(report: AuditReport, lake: Path) -> AuditError:
    """The error that fails the flow run: how many violations, the first few, where to read them all."""
    shown = "; ".join(report.violations[:5]) + ("; ..." if len(report.violations) > 5 else "")
    return AuditError(f"audit found {len(report.violations)} violation(s) in {lake} (all in the "
                      f"'{ARTIFACT_KEY}' artifact and the audit log): {shown}", report.violations)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


@flow(name="nightly", task_runner=one_at_a_time())
def nightly(
    lake: str,
    now: str | None = None,
    site: str = "default",
    policy: str | None = None,
    fmt: str | None = None,
    cookie: str | None = None,
    report: str | None = None,
) -> dict[str, Any]:
    """One nightly run of the lake at ``now`` (default: $ACCESSLAKE_NOW, else the clock); fails on a violation.

    As ``accesslake nightly``: ``fmt`` / ``cookie`` apply to every landing file (detected when None).
    ``report``: where to write the HTML report after a passing audit (none when omitted).
    """
    settings = load_settings(lake, policy)
    moment = resolve_now(now)
    result = NightlyResult(now=moment.isoformat())
    with lakefs.writer_lock(settings.lake, LOCK_WAIT_SECONDS):
        recover_lake(settings.lake)
        landing = list_landing(settings.lake)
        keys = landing_keys(landing)
        result.ingested = results_of(submit_ingests(landing, keys, settings, moment, site, fmt, cookie))
        days = stale_days(settings.lake)
        built = [build_marts_for_day.submit(settings, moment, site_, day) for site_, day in days]
        result.marts = marts.MartsResult.merge(moment, results_of(built))
        result.detected = detect_abuse(settings, moment)
        rewrites = [anonymize_partition.submit(settings, moment, part) for part in partitions_due(settings, moment)]
        result.anonymized = anonymize_lake(settings, moment, results_of(rewrites))
        result.messages = delete_due_messages(settings, moment)
        result.audit = verdict = audit_lake(settings, moment)
    get_run_logger().info("\n".join(result.lines()))
    publish_counts(result)
    if not verdict.ok:
        raise audit_failure(verdict, settings.lake)
    summary = asdict(result)
    if report:  # after a passing audit, outside the lock (it only reads)
        summary["report"] = write_html_report(settings, Path(report), moment)
    if summary.get("detected"):  # the flow's return value may be stored by Prefect: no IPs in it
        summary["detected"]["candidates"] = [
            {k: v for k, v in c.items() if k != "client_ip"} for c in summary["detected"]["candidates"]
        ]
    return summary


def nightly_on_dask(lake: str, *, address: str | None = None, workers: int = 2, **parameters: Any) -> dict[str, Any]:
    """Run :func:`nightly` with its ingests and marts on Dask; ``parameters`` as :func:`nightly`'s.

    ``address``: an existing cluster's scheduler (``tcp://scheduler:8786``); its workers must see
    the lake at the same path. Without it, a temporary local cluster of ``workers`` processes.
    """
    return on_dask(nightly, address, workers)(lake=lake, **parameters)


if __name__ == "__main__":
    import argparse
    import os

    parser = argparse.ArgumentParser(description="Run the nightly flow once (a temporary Prefect server "
                                                 "unless PREFECT_API_URL is set).")
    parser.add_argument("--lake", default=os.environ.get("ACCESSLAKE_LAKE", str(DEFAULT_LAKE)))
    parser.add_argument("--now", help="ISO-8601 clock (default $ACCESSLAKE_NOW, else now)")
    parser.add_argument("--site", default="default")
    parser.add_argument("--policy", help="policy file (default <lake>/policy.toml)")
    parser.add_argument("--format", dest="fmt", help="log format for every landing file (default: detected)")
    parser.add_argument("--cookie", help="session cookie name, when the format logs several")
    dask = parser.add_mutually_exclusive_group()
    dask.add_argument("--dask-workers", type=int, default=0, metavar="N",
                      help="ingest and build marts on a temporary local Dask cluster of N processes")
    dask.add_argument("--dask-address", metavar="URL",
                      help="... or on an existing Dask cluster, e.g. tcp://scheduler:8786 (shared lake)")
    args = parser.parse_args()
    params = dict(lake=args.lake, now=args.now, site=args.site, policy=args.policy, fmt=args.fmt,
                  cookie=args.cookie)
    if args.dask_address or args.dask_workers:
        nightly_on_dask(address=args.dask_address, workers=args.dask_workers, **params)
    else:
        nightly(**params)
