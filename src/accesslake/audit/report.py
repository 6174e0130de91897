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
    full: bool = False  # every file read (`accesslake audit --full`), the manifest of verified files ignored
    files_read: int = 0  # dataset files whose content this audit read
    files_skipped: int = 0  # dataset files verified before and unchanged since (the manifest): not read

    @property
    def ok(self) -> bool:
        return not self.violations

    def lines(self) -> list[str]:
        head = "audit passed" if self.ok else f"audit FAILED: {len(self.violations)} violation(s)"
        counts = ", ".join(f"{k} {v}" for k, v in self.checked.items())
        reads = (f"full: {self.files_read} files read" if self.full else
                 f"{self.files_read} files read, {self.files_skipped} skipped as verified and unchanged")
        out = [f"{head} at {self.now} ({counts}; {reads})", *[f"  - {v}" for v in self.violations]]
        if self.log_head:
            out.append(f"audit log head: {self.log_head} (keep it; `accesslake audit --anchor` proves "
                       "the log was not cut back since)")
        return out

