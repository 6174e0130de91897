"""What anonymisation does to a row (rules A1-A3, T2, T3): one vectorised Polars transform.

:func:`anonymize_exprs` rewrites the personal columns of the rows selected by a
mask and leaves every other row untouched; :func:`deadline_expr` and
:func:`due_mask` say which rows are due.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime

import polars as pl

from accesslake.policy.scrub import scrub_tokens
from accesslake.policy.settings import Policy

__all__ = ["PERSONAL_COLUMNS", "anonymize_exprs", "deadline_expr", "due_mask"]

# Columns that identify a person or link rows; all NULL after anonymisation
# (client_ip may instead be truncated when the policy asks for it).
PERSONAL_COLUMNS = ("client_ip", "session_id", "remote_user", "forwarded_for")


def deadline_expr(policy: Policy, hours: float | None = None) -> pl.Expr:
    """Rule T3: (earlier of request time and receive time) + ``hours`` (default max_age)."""
    limit = policy.max_age_hours if hours is None else hours
    base = pl.min_horizontal(pl.col("ts"), pl.col("received_at"))
    return base + pl.duration(microseconds=int(limit * 3_600_000_000))


def due_mask(policy: Policy, now: datetime) -> pl.Expr:
    """Rows past ``anonymize_after`` at ``now`` and not yet anonymised."""
    limit = deadline_expr(policy, policy.anonymize_after_hours)
    return (limit <= pl.lit(now)) & pl.col("anonymized_at").is_null()


def _truncate_ip(value: str, v4: int, v6: int) -> str | None:
    try:
        ip = ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return None  # a hostname cannot be truncated: drop it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = v4 if ip.version == 4 else v6
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def _client_ip_expr(policy: Policy) -> pl.Expr:
    if policy.client_ip_treatment == "null":
        return pl.lit(None, dtype=pl.String)
    v4, v6 = policy.ipv4_prefix, policy.ipv6_prefix

    def truncate(series: pl.Series) -> pl.Series:
        uniques = series.unique().drop_nulls()
        mapping = {u: _truncate_ip(u, v4, v6) for u in uniques.to_list()}
        return series.replace_strict(mapping, default=None, return_dtype=pl.String)

    return pl.col("client_ip").map_batches(truncate, return_dtype=pl.String)


def anonymize_exprs(policy: Policy, now: datetime, mask: pl.Expr) -> list[pl.Expr]:
    """Expressions that anonymise the rows selected by ``mask`` (rules A1-A3).

    Applied with ``frame.with_columns(anonymize_exprs(...))``: rows outside the
    mask keep every value; the schema does not change.
    """

    def when(expr: pl.Expr, column: str) -> pl.Expr:
        return pl.when(mask).then(expr).otherwise(pl.col(column)).alias(column)

    nothing = pl.lit(None, dtype=pl.String)
    scheme = pl.col("referrer").str.extract(r"^([A-Za-z][A-Za-z0-9+.\-]*://)", 1)
    host = pl.col("referrer").str.extract(r"^[A-Za-z][A-Za-z0-9+.\-]*://(?:[^@/?#]*@)?([^/?#]*)", 1)
    origin = scheme + host  # scheme://host[:port]; no user info, path or query
    return [
        when(_client_ip_expr(policy), "client_ip"),
        when(nothing, "session_id"),
        when(nothing, "remote_user"),
        when(nothing, "forwarded_for"),
        when(nothing, "query"),
        when(origin, "referrer"),
        when(nothing, "user_agent"),
        when(scrub_tokens(pl.col("vhost"), hosts=False), "vhost"),  # A4: a client or server address logged there
        when(pl.lit(now).cast(pl.Datetime("us", "UTC")), "anonymized_at"),
    ]
