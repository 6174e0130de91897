"""Data-subject requests: access (Art. 15 GDPR) and erasure (Art. 17) answered from every store.

- :mod:`.target`: whom a request is about (an address, a confirmed range, a session), how rows and
  raw lines match, and the keyed hash the audit log records instead of the address;
- :mod:`.stores`: what requests/, held/, rejects/, the candidates, landing/ and quarantine/ hold
  about a subject;
- :mod:`.rawfiles`: raw files searched and masked line by line, the ledger kept consistent;
- :mod:`.access`: the answer to an access request, a folder with a manifest;
- :mod:`.erase`: erasure in every store, except rows under an active incident hold.
"""

from __future__ import annotations

from accesslake.subjects.access import AccessResult, subject_access
from accesslake.subjects.erase import EraseResult, subject_erase
from accesslake.subjects.target import Subject, key_path, parse_subject, subject_hash

__all__ = ["AccessResult", "EraseResult", "Subject", "key_path", "parse_subject", "subject_access", "subject_erase",
           "subject_hash"]
