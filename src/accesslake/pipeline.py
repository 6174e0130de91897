"""The nightly run, defined once: its steps, their order, and what happens when one fails.

``accesslake nightly`` runs :func:`run_nightly` in this process; the Prefect
flow (``flows/nightly.py``) runs the same steps with an :class:`Executor` that
turns every library call into a task run (and the per-item calls into task
runs a Dask cluster may spread). Order::

    recover -> ingest landing/ -> marts -> detect -> anonymise -> delete due messages -> audit

Marts and detection read the rows before they are anonymised, so they come
first. **Fail-safe**: the steps that keep the legal promise (recover,
anonymise, delete due messages, audit: ``essential``) never depend on the
others. A step that fails is recorded in :attr:`NightlyResult.failures` and
the run goes on; an item that fails (a landing file, a day of marts, a
partition) is recorded and the other items go on. A landing file that cannot
be read or parsed is moved to ``quarantine/`` by the ingest step, named, and
deleted there by retention once past the limit; so is a Parquet file of the
datasets that cannot be read, or a file there the pipeline did not write
(moved by the anonymise step: marts of its day fail before that, named). The
run then ends non-zero (exit 3) and says what failed.

The writer lock is held for the whole run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from accesslake import ingest, retention, storage
from accesslake.analytics import marts
from accesslake.audit import AuditReport, run_audit
from accesslake.config import Settings
from accesslake.faults import InjectedFault
from accesslake.forensics import candidates as detection
from accesslake.messages import DeletionResult, delete_due

__all__ = ["STEPS", "Executor", "Failure", "InProcess", "NightlyOptions", "NightlyResult", "Run", "Step", "recover",
           "run_nightly"]

R = TypeVar("R")


@dataclass(frozen=True)
class NightlyOptions:
    """How landing files are read: their site, log format and cookie (format detected when None)."""

    site: str = "default"
    fmt: str | None = None
    cookie: str | None = None
    site_from_vhost: bool = False  # each row in site=<its virtual host> (issue 14)


@dataclass
class Failure:
    """A step, or one item of a step (a file, a day, a partition), that failed; the run went on."""

    step: str
    item: str | None
    error: str

    def line(self) -> str:
        where = f"{self.step} {self.item}" if self.item else self.step
        return f"FAILED {where}: {self.error}"


@dataclass
class NightlyResult:
    now: str
    ingested: list[ingest.IngestResult] = field(default_factory=list)
    marts: marts.MartsResult | None = None
    detected: detection.DetectResult | None = None
    anonymized: retention.AnonymizeResult | None = None
    messages: DeletionResult | None = None
    audit: AuditReport | None = None
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every step completed and the audit passed."""
        return not self.failures and self.audit is not None and self.audit.ok

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
        out += [failure.line() for failure in self.failures]
        if self.failures:
            out.append(f"nightly run INCOMPLETE: {len(self.failures)} failure(s); retention ran for everything due")
        return out


class Failed:
    """What :meth:`Executor.map` gives for an item whose call raised."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class Executor(Protocol):
    """Runs the library calls of the steps: in this process, or as Prefect task runs."""

    def call(self, name: str, fn: Callable[..., R], *args: Any) -> R:
        """``fn(*args)``, as the unit of work called ``name``; exceptions propagate."""

    def map(self, name: str, fn: Callable[..., R], items: list[Any], *args: Any,
            label: Callable[[Any], str] = str) -> list[R | Failed]:
        """``fn(item, *args)`` for every item (maybe in parallel), in order; a raising item gives
        :class:`Failed` and the others go on. Every call has ended when this returns."""


class InProcess:
    """The executor of ``accesslake nightly``: plain calls, one after another."""

    def call(self, name: str, fn: Callable[..., R], *args: Any) -> R:
        return fn(*args)

    def map(self, name: str, fn: Callable[..., R], items: list[Any], *args: Any,
            label: Callable[[Any], str] = str) -> list[R | Failed]:
        out: list[R | Failed] = []
        for item in items:
            try:
                out.append(fn(item, *args))
            except InjectedFault:
                raise  # a simulated crash stops the run, as a power cut would
            except Exception as exc:  # noqa: BLE001 - isolated to this item, named in the result
                out.append(Failed(exc))
        return out


@dataclass
class Run:
    """One nightly run in progress: what the steps read and fill in."""

    settings: Settings
    now: datetime
    options: NightlyOptions
    executor: Executor
    result: NightlyResult

    def fail(self, step: str, item: str | None, error: BaseException | str) -> None:
        text = error if isinstance(error, str) else (str(error) or type(error).__name__)
        self.result.failures.append(Failure(step, item, text.splitlines()[0] if text else text))


# ---------------------------------------------------------------- the steps


def recover(lake: storage.LakePath) -> int:
    """Undo what a crashed run left half done: ingest intents, rewrite journals, staging."""
    return ingest.recover(lake) + retention.recover(lake)


def _recover(run: Run) -> None:
    run.executor.call("recover", recover, run.settings.lake)


def _chain_label(chain: list[storage.LakePath]) -> str:
    return str(chain[0].name)


def _ingest(run: Run) -> None:
    lake = run.settings.lake
    chains = run.executor.call("list-landing", ingest.landing_chains, lake)
    outcomes = run.executor.map("ingest-file", ingest.ingest_landing_chain, chains, run.settings, run.now,
                                run.options.site, run.options.fmt, run.options.cookie, run.options.site_from_vhost,
                                label=_chain_label)
    for chain, outcome in zip(chains, outcomes, strict=True):
        if isinstance(outcome, Failed):
            run.fail("ingest", _chain_label(chain), outcome.error)
            continue
        run.result.ingested += outcome
        for done in outcome:
            if done.status == "quarantined":
                run.fail("ingest", done.source_file, done.error or "quarantined")


def _day_label(day: tuple[str, Any]) -> str:
    return f"{day[0]} {day[1]}"


def _marts(run: Run) -> None:
    days = run.executor.call("stale-days", marts.days_touched, run.settings.lake, run.settings)
    outcomes = run.executor.map("build-marts", marts.build_one_day, days, run.settings, run.now, label=_day_label)
    built = []
    for day, outcome in zip(days, outcomes, strict=True):
        if isinstance(outcome, Failed):
            run.fail("marts", _day_label(day), outcome.error)
        else:
            built.append(outcome)
    run.result.marts = marts.MartsResult.merge(run.now, built)


def _detect(run: Run) -> None:
    run.result.detected = run.executor.call("detect", detection.detect, run.settings, run.now)


def _partition_label(part: storage.Partition) -> str:
    return f"{part.site} {part.day}"


def _anonymize(run: Run) -> None:
    """The backlog rewrite, one item per due partition, then retention of every other store. A file that
    cannot be read is quarantined by retention (named in ``problems``); even when the due partitions
    cannot be listed, the other stores' retention runs."""
    done = []
    try:
        due = run.executor.call("anonymize-due", retention.partitions_due, run.settings, run.now)
    except InjectedFault:
        raise
    except Exception as exc:  # noqa: BLE001 - fail-safe: rejects, landing, quarantine ... still go
        run.fail("anonymize", "listing the due partitions", exc)
        due = []
    outcomes = run.executor.map("anonymize-partition", retention.anonymize_partition_of, due, run.settings,
                                run.now, label=_partition_label)
    for part, outcome in zip(due, outcomes, strict=True):
        if isinstance(outcome, Failed):
            run.fail("anonymize", _partition_label(part), outcome.error)
        else:
            done.append(outcome)
    run.result.anonymized = run.executor.call("anonymize", retention.run_retention_after, run.settings, run.now, done)
    for problem in run.result.anonymized.problems:
        run.fail("anonymize", None, problem)


def _messages(run: Run) -> None:
    run.result.messages = run.executor.call("delete-due-messages", delete_due, run.settings, run.now)


def _audit(run: Run) -> None:
    run.result.audit = run.executor.call("audit", run_audit, run.settings, run.now)


@dataclass(frozen=True)
class Step:
    """One step of the nightly run. ``essential`` steps keep the legal promise."""

    name: str
    essential: bool
    run: Callable[[Run], None]


#: The nightly run, in order.
STEPS: tuple[Step, ...] = (
    Step("recover", True, _recover),
    Step("ingest", False, _ingest),
    Step("marts", False, _marts),
    Step("detect", False, _detect),
    Step("anonymize", True, _anonymize),
    Step("messages", True, _messages),
    Step("audit", True, _audit),
)


def run_nightly(
    settings: Settings,
    now: datetime,
    options: NightlyOptions | None = None,
    *,
    wait_seconds: float = 60,
    executor: Executor | None = None,
    only: tuple[str, ...] | None = None,
) -> NightlyResult:
    """One nightly run at ``now``: every step of :data:`STEPS` in order, under the writer lock.

    A failing step or item is recorded in ``result.failures`` and the run goes on; the audit's
    verdict is in ``result.audit``. Only a simulated crash (:class:`InjectedFault`) or the lock
    stop the run. ``only``: the names of the steps to run (e.g. ``("recover", "ingest")``).
    """
    options = options or NightlyOptions()
    storage.check_site(options.site)
    run = Run(settings, now, options, executor or InProcess(), NightlyResult(now=now.isoformat()))
    with storage.writer_lock(settings.lake, wait_seconds):
        for step in STEPS:
            if only is not None and step.name not in only:
                continue
            try:
                step.run(run)
            except InjectedFault:
                raise
            except Exception as exc:  # noqa: BLE001 - fail-safe: the next steps still run
                run.fail(step.name, None, exc)
    return run.result
