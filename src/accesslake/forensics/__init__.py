"""Forensics: abuse candidates, forensic views with IPs, evidence export and its verification.

- :mod:`.candidates`: abuse candidates per client and day (``sql/forensics/abuse_candidates.sql``);
- :mod:`.views`: a DuckDB connection with the forensic views (IPs, held rows), audit-logged;
- :mod:`.export`: an active hold's rows -> an evidence folder with a manifest and a disclosure record;
- :mod:`.verify`: re-checking an evidence folder.
"""

from __future__ import annotations

from accesslake.forensics.candidates import (
           CANDIDATE_SCHEMA,
           KINDS,
           DetectResult,
           detect,
           hold_from_candidate,
           read_candidates,
)
from accesslake.forensics.export import ExportResult, export_incident, read_disclosures
from accesslake.forensics.verify import VerifyResult, verify_export

__all__ = ["CANDIDATE_SCHEMA", "KINDS", "DetectResult", "ExportResult", "VerifyResult", "detect", "export_incident",
           "hold_from_candidate", "read_candidates", "read_disclosures", "verify_export"]
