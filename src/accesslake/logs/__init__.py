"""Log formats and parsing: format strings -> a field spec; batches of lines -> typed rows; user agents.

- :mod:`.formats`: presets, Apache ``LogFormat`` and nginx ``log_format`` -> :class:`FieldSpec`;
- :mod:`.parse`: a batch of lines -> typed request rows + rejected lines (vectorised);
- :mod:`.useragents`: distinct user-agent strings -> browser, OS, device, bot flag.
"""

from __future__ import annotations

from accesslake.logs.formats import PRESETS, FieldSpec, compile_format, detect_format
from accesslake.logs.parse import (
    STATIC_EXTENSIONS,
    ExtractedBatch,
    ParsedBatch,
    extract_batch,
    parse_batch,
    split_lines,
    type_batch,
)
from accesslake.logs.useragents import enrich

__all__ = ["PRESETS", "STATIC_EXTENSIONS", "ExtractedBatch", "FieldSpec", "ParsedBatch", "compile_format",
           "detect_format", "enrich", "extract_batch", "parse_batch", "split_lines", "type_batch"]
