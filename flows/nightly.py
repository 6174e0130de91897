"""Flow ``nightly``: the library's nightly run (``accesslake.pipeline``) with every step as task runs.

The steps, their order and what happens when one fails are defined once, in
:mod:`accesslake.pipeline`; this flow runs them with :class:`flows.runners.TaskRuns`,
so each library call is a task run and the per-item calls (one per landing
file, per site/day of marts, per due partition) go to the flow's task runner:
one at a time by default, or across a Dask cluster (:func:`nightly_on_dask`).
Then it publishes the counts as an artifact and ends **Failed** when the audit
found a violation or a step or input failed (after retention ran for
everything due), so the run is visible in the UI.

Nothing the flow logs, publishes or returns carries an IP: Prefect's database
is outside the lake, where retention cannot reach. Deployed by ``prefect.yaml``
(02:30 Europe/Berlin); see docs/prefect.md.

Run once, locally, from the project root::

    uv run python -m flows.nightly --lake data/lake [--now 2026-11-29T03:00Z]
    uv run python -m flows.nightly --lake data/lake --dask-workers 2             # a local Dask cluster
    uv run python -m flows.nightly --lake /srv/lake --dask-address tcp://scheduler:8786
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from accesslake.analytics import write_report
from accesslake.audit import AuditReport
from accesslake.config import Settings, load_settings, resolve_now
from accesslake.errors import AccesslakeError, AuditError
from accesslake.pipeline import NightlyOptions, NightlyResult, run_nightly
from flows.runners import TaskRuns, on_dask, one_at_a_time

__all__ = ["ARTIFACT_KEY", "LOCK_WAIT_SECONDS", "NightlyIncomplete", "audit_failure", "counts_markdown", "nightly",
           "nightly_on_dask", "publish_counts"]

ARTIFACT_KEY = "accesslake-nightly"  # one artifact per run, versioned under this key in the UI
LOCK_WAIT_SECONDS = 60.0  # as `accesslake nightly`: wait this long for another writer


class NightlyIncomplete(AccesslakeError):
    """Retention ran, but a step or an input failed (named); the flow run ends Failed."""


@task(name="publish-counts", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def publish_counts(result: NightlyResult) -> None:
    """The run's counts as a markdown artifact (an API call: retried)."""
    create_markdown_artifact(markdown=counts_markdown(result), key=ARTIFACT_KEY,
                             description=f"accesslake nightly run at {result.now}")


@task(name="report", cache_policy=NO_CACHE)
def write_html_report(settings: Settings, out: Path, now: Any) -> str:
    """The self-contained HTML report from the marts (reads only)."""
    return str(write_report(settings, out, now=now).path)


def counts_markdown(result: NightlyResult) -> str:
    """The counts of one nightly run as markdown: a row per ingested file, then anonymise, audit, failures."""
    out = [f"# accesslake nightly run at {result.now}", "", "## Ingest", ""]
    if result.ingested:
        out += ["| file | format | status | lines read | rows | held | rejects | anonymised on write |",
                "|---|---|---|---:|---:|---:|---:|---:|"]
        out += [f"| {_cell(Path(r.source_file).name)} | {_cell(r.format)} | {r.status} | {r.lines_read} | {r.rows} "
                f"| {r.held} | {r.rejects} | {r.anonymized_on_write} |" for r in result.ingested]
    else:
        out.append("landing folder empty")
    if result.detected:
        found = [f"- {line.strip()}" for line in result.detected.lines(with_ips=False)]
        out += ["", "## New abuse candidates", "", *found,
                "", "IPs: `accesslake detect --list`; hold: `accesslake incident open --from-candidate ID ...`"]
    if result.anonymized:
        out += ["", "## Anonymise", "", *[f"- {line}" for line in result.anonymized.lines()]]
    if result.audit:
        head, *violations = result.audit.lines()
        out += ["", "## Audit", "", f"**{head}**", "", *[f"- {v.strip().removeprefix('- ')}" for v in violations]]
    if result.failures:
        out += ["", "## Failures (retention ran for everything due)", "",
                *[f"- {_cell(f.line())}" for f in result.failures]]
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
    """One nightly run of the lake at ``now`` (default: $ACCESSLAKE_NOW, else the clock); fails on a violation
    or a failed step or input.

    As ``accesslake nightly``: ``fmt`` / ``cookie`` apply to every landing file (detected when None).
    ``report``: where to write the HTML report after a complete run (none when omitted).
    """
    settings = load_settings(lake, policy)
    moment = resolve_now(now)
    result = run_nightly(settings, moment, NightlyOptions(site, fmt, cookie), wait_seconds=LOCK_WAIT_SECONDS,
                         executor=TaskRuns())
    get_run_logger().info("\n".join(result.lines()))
    publish_counts(result)
    if result.audit is None or not result.audit.ok:
        raise audit_failure(result.audit or AuditReport(now=result.now, violations=["the audit did not run"]),
                            settings.lake)
    if result.failures:
        raise NightlyIncomplete(f"{len(result.failures)} failure(s), retention ran for everything due: "
                                + "; ".join(f.line() for f in result.failures[:5]))
    summary = asdict(result)
    if report:  # after a complete run, outside the lock (it only reads)
        summary["report"] = write_html_report(settings, Path(report), moment)
    if summary.get("detected"):  # the flow's return value may be stored by Prefect: no IPs in it
        summary["detected"]["candidates"] = [
            {k: v for k, v in c.items() if k != "client_ip"} for c in summary["detected"]["candidates"]
        ]
    return summary


def nightly_on_dask(lake: str, *, address: str | None = None, workers: int = 2, **parameters: Any) -> dict[str, Any]:
    """Run :func:`nightly` with its per-item tasks on Dask; ``parameters`` as :func:`nightly`'s.

    ``address``: an existing cluster's scheduler (``tcp://scheduler:8786``); its workers must see
    the lake at the same path. Without it, a temporary local cluster of ``workers`` processes.
    """
    return on_dask(nightly, address, workers)(lake=lake, **parameters)


if __name__ == "__main__":
    from flows.once import once_parser

    parser = once_parser("the nightly flow")
    parser.add_argument("--site", default="default")
    parser.add_argument("--format", dest="fmt", help="log format for every landing file (default: detected)")
    parser.add_argument("--cookie", help="session cookie name, when the format logs several")
    dask = parser.add_mutually_exclusive_group()
    dask.add_argument("--dask-workers", type=int, default=0, metavar="N",
                      help="run the per-item tasks on a temporary local Dask cluster of N processes")
    dask.add_argument("--dask-address", metavar="URL",
                      help="... or on an existing Dask cluster, e.g. tcp://scheduler:8786 (shared lake)")
    args = parser.parse_args()
    params = dict(lake=args.lake, now=args.now, site=args.site, policy=args.policy, fmt=args.fmt,
                  cookie=args.cookie)
    if args.dask_address or args.dask_workers:
        nightly_on_dask(address=args.dask_address, workers=args.dask_workers, **params)
    else:
        nightly(**params)
