"""Rule A4: IP-like and host-like tokens in free text, found and scrubbed (one vectorised Polars transform)."""

from __future__ import annotations

from datetime import datetime

import polars as pl

__all__ = ["IP_LIKE_PATTERN", "scrub_reject_exprs", "scrub_text_expr", "scrub_tokens"]

_IPV4 = r"\b(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b"
# Full form (eight groups) or compressed with "::" beside a hex group, as whole
# tokens; a log time (2015:04:11:25), "rv:120.0" or "std::vector" does not match.
_IPV6 = (
    r"(?i)\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b"
    r"|\b(?:[0-9a-f]{1,4}:)+:(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*\b)?"
    r"|::[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*\b"
)
#: Rule A4's IP-like token as one pattern (RE2 and Rust syntax): the audit searches stored text with it.
IP_LIKE_PATTERN = "(?i)(?:" + _IPV4 + ")|(?:" + _IPV6.removeprefix("(?i)") + ")"


# A host name standing alone (two or more labels; not in a path "/index.html" or a version "Firefox/128.0").
_HOST = r"(^|[^\w./-])((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"


def scrub_tokens(expr: pl.Expr, *, hosts: bool) -> pl.Expr:
    expr = expr.str.replace_all(_IPV4, "[ip]").str.replace_all(_IPV6, "[ip]")
    return expr.str.replace_all(_HOST, "${1}[host]") if hosts else expr


def scrub_text_expr(text: str | pl.Expr, *, leading_host: bool = True, hosts: bool = False) -> pl.Expr:
    """Rule A4: replace IP-like tokens (and the leading field; with ``hosts``, host names too) in free text."""
    expr = scrub_tokens(pl.col(text) if isinstance(text, str) else text, hosts=hosts)
    return expr.str.replace(r"^\S+", "[host]") if leading_host else expr


def scrub_reject_exprs(mask: pl.Expr, now: datetime, scrubbed: pl.Expr | None = None) -> list[pl.Expr]:
    """Expressions that scrub the rejected lines selected by ``mask`` (rule A4) and stamp ``scrubbed_at``;
    ``scrubbed``: the line scrubbed by its format (accesslake.ingest.scrub), else by tokens and leading field."""
    line = scrub_text_expr("line", hosts=True) if scrubbed is None else scrubbed
    return [
        pl.when(mask).then(line).otherwise(pl.col("line")).alias("line"),
        pl.when(mask).then(pl.lit(now).cast(pl.Datetime("us", "UTC"))).otherwise(pl.col("scrubbed_at"))
        .alias("scrubbed_at"),
    ]
