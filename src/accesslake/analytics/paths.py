"""Readable paths: percent-decoding as the marts group and show paths.

The lake keeps every path as logged (percent-encoding kept, docs/lake.md). The
marts group by :func:`decode_path`: every run of ``%XX`` escapes is decoded as
UTF-8, character by character, so ``/blog/tags/jquery%20mobile`` reads
``/blog/tags/jquery mobile`` and the Persian ``/%D8%A8%D8%A7...`` reads ``/با...``,
as GoAccess shows them. What would not make a readable path stays exactly as it
was written:

* bytes that are not valid UTF-8 (``%FF``, a cut sequence such as ``%D8`` alone);
* control characters (U+0000-U+001F, U+007F-U+009F): a decoded ``%0A`` or
  ``%1B`` would hide in or break a report line;
* ``%25`` (``%``), so a decoded path never holds a new escape that reads as
  another path when decoded again;
* a ``%`` not followed by two hex digits.

``+`` stays ``+`` (it means a space only in query strings). Decoding is done
once per distinct path of a day (the DuckDB function ``decode_path``, see
:mod:`accesslake.analytics.staging`).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["decode_path"]

_RUN: Final = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_KEEP: Final = frozenset(range(0x20)) | frozenset(range(0x7F, 0xA0)) | {ord("%")}


def _decode_run(match: re.Match[str]) -> str:
    escapes = match.group(0)
    chunks = [escapes[i:i + 3] for i in range(0, len(escapes), 3)]
    text = bytes(int(chunk[1:], 16) for chunk in chunks).decode("utf-8", "surrogateescape")
    out: list[str] = []
    position = 0  # index into chunks: one chunk per byte
    for char in text:
        if 0xDC80 <= ord(char) <= 0xDCFF:  # a byte that is not valid UTF-8 here: as written
            out.append(chunks[position])
            position += 1
            continue
        width = len(char.encode("utf-8"))
        out.append("".join(chunks[position:position + width]) if ord(char) in _KEEP else char)
        position += width
    return "".join(out)


def decode_path(path: str | None) -> str | None:
    """``path`` with its valid UTF-8 percent-escapes decoded (see the module docstring)."""
    if path is None or "%" not in path:
        return path
    return _RUN.sub(_decode_run, path)
