"""The one way commands print: human text by default, JSON with ``--json``; broken pipes end quietly."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

__all__ = ["Output", "plain"]


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses, paths, dates and frames turned into plain types."""
    if is_dataclass(value) and not isinstance(value, type):
        return {k: plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "to_dicts"):
        return plain(value.to_dicts())
    if hasattr(value, "to_dict"):
        return plain(value.to_dict())
    return value


class Output:
    """Where a command's result goes: stdout, as text lines or as JSON."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def emit(self, payload: Any, text: str | Sequence[str]) -> None:
        """Print ``payload`` as JSON with ``--json``, else the human ``text``."""
        if self.as_json:
            self.write(json.dumps(plain(payload), indent=2, default=str, ensure_ascii=False) + "\n")
        else:
            self.write((text if isinstance(text, str) else "\n".join(text)) + "\n")

    def write(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()
