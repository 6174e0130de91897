"""The audit's verdict: violations (empty when the lake keeps its promises) and what was checked."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["AuditReport"]


@dataclass
class AuditReport:
    """Violations (empty when the lake keeps its promises) and what was checked."""

    now: str
    violations: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    log_head: str | None = None  # the audit log's last record, SEQ:HASH (keep it outside the lake)

    @property
    def ok(self) -> bool:
        return not self.violations

    def lines(self) -> list[str]:
        head = "audit passed" if self.ok else f"audit FAILED: {len(self.violations)} violation(s)"
        counts = ", ".join(f"{k} {v}" for k, v in self.checked.items())
        out = [f"{head} at {self.now} ({counts})", *[f"  - {v}" for v in self.violations]]
        if self.log_head:
            out.append(f"audit log head: {self.log_head} (keep it; `accesslake audit --anchor` proves "
                       "the log was not cut back since)")
        return out

