"""What one retention run did (or, dry, would do)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["AnonymizeResult"]


@dataclass
class AnonymizeResult:
    """Counts of one run; ``dry_run`` results describe what would happen."""

    dry_run: bool = False
    files_rewritten: int = 0
    rows_anonymized: int = 0
    rows_held: int = 0
    rows_returned: int = 0
    rejects_scrubbed: int = 0
    landing_deleted: list[str] = field(default_factory=list)
    candidates_deleted: int = 0
    holds_redacted: list[str] = field(default_factory=list)
    recovered: int = 0
    holds_active: list[str] = field(default_factory=list)
    holds_returned: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # files quarantined or skipped, named
    quarantined: list[str] = field(default_factory=list)  # quarantine/<folder>/<name> of each file moved there
    quarantine_deleted: list[str] = field(default_factory=list)  # quarantine entries deleted (past the limit)
    # Files a step could not read (relative path, why): quarantined at the end of the run, one at a time.
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    files_checked: int = 0  # dataset files whose footer or rows were read to decide what is due
    files_skipped: int = 0  # ... decided from the manifest of verified files instead (unchanged since verified)

    def absorb(self, part: AnonymizeResult) -> None:
        """Add the counts of one partition's (or the sweep's) result to this run's."""
        self.files_rewritten += part.files_rewritten
        self.rows_anonymized += part.rows_anonymized
        self.rows_held += part.rows_held
        self.problems += part.problems
        self.quarantined += part.quarantined
        self.unreadable += part.unreadable
        self.files_checked += part.files_checked
        self.files_skipped += part.files_skipped

    def lines(self) -> list[str]:
        verb = "would be" if self.dry_run else "were"
        return [
            f"{self.rows_anonymized} rows {verb} anonymised in {self.files_rewritten} files",
            f"{self.rows_held} rows {verb} moved to held/ (active holds: {', '.join(self.holds_active) or 'none'})",
            f"{self.rows_returned} held rows {verb} returned anonymised "
            f"(released or expired: {', '.join(self.holds_returned) or 'none'})",
            f"{self.rejects_scrubbed} rejected lines {verb} scrubbed",
            f"{len(self.landing_deleted)} landing files {verb} deleted",
            f"{self.candidates_deleted} abuse candidates {verb} deleted (past anonymize_after)",
            f"{len(self.holds_redacted)} ended holds {verb} redacted "
            f"(scope cut to networks, session ids dropped): {', '.join(self.holds_redacted) or 'none'}",
            f"{len(self.quarantined)} unreadable or stray files {verb} moved to quarantine/",
            f"{len(self.quarantine_deleted)} quarantined files {verb} deleted (past anonymize_after)",
            f"{self.files_checked} dataset files read to decide, {self.files_skipped} skipped as verified and "
            "unchanged",
        ]

