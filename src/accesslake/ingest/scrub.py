"""Scrubbing rejected lines by their format (rule A4): at ingest for late lines, and by retention.

Each reject carries the ``format`` it was read with. :func:`reject_scrub_exprs`
scrubs a line by the tolerant split of that format
(:func:`accesslake.logs.split.scrub_split`): every personal value (client,
user, session cookie, forwarded address) becomes its placeholder (``[host]``,
``[user]``, ``[session]``, ``[ip]``) where the line still splits; IP-like
tokens go from the other fields, IP-like and host-like tokens from what does
not split. A line of no known format loses every IP-like and host-like token
and its leading field (:func:`accesslake.policy.scrub_text_expr`).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from accesslake.logs.split import ANY, IPS, KEEP, Split, scrub_split
from accesslake.policy import scrub_reject_exprs, scrub_text_expr

__all__ = ["reject_scrub_exprs", "scrub_split_expr"]


def scrub_split_expr(column: str, split: Split) -> pl.Expr:
    """``column`` scrubbed by ``split``; a ``-`` or empty value stays as it is, a null line stays null."""
    regex, treatments = split
    groups = pl.col(column).str.extract_groups(regex)
    parts = []
    for name, treatment in treatments:
        value = groups.struct.field(name)
        if treatment in (IPS, ANY):
            value = scrub_text_expr(value, leading_host=False, hosts=treatment == ANY)
        elif treatment != KEEP:
            value = pl.when(value.is_null() | value.is_in(["-", ""])).then(value).otherwise(pl.lit(treatment))
        parts.append(value)
    line = pl.col(column)
    return pl.when(line.is_null()).then(line).otherwise(pl.concat_str(parts, ignore_nulls=True))


def reject_scrub_exprs(rejects: pl.DataFrame, mask: pl.Expr, now: datetime) -> list[pl.Expr]:
    """:func:`accesslake.policy.scrub_reject_exprs` for the lines of ``rejects`` selected by ``mask``, each
    scrubbed by the split of its own format."""
    formats = rejects["format"].unique().drop_nulls().to_list() if "format" in rejects.columns else []
    scrubbed = scrub_text_expr("line", hosts=True)
    for fmt in formats:
        split = scrub_split(fmt)
        if split is not None:
            scrubbed = pl.when(pl.col("format") == fmt).then(scrub_split_expr("line", split)).otherwise(scrubbed)
    return scrub_reject_exprs(mask, now, scrubbed)
