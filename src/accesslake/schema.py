"""The lake's public columns: names, types and meaning.

This module is the single source of the stored schemas; ``docs/lake.md`` is
checked against it by a test, so a change here is a change to the docs.
"""

from __future__ import annotations

import polars as pl

__all__ = [
    "CANDIDATE_SCHEMA", "REJECT_COLUMNS", "REJECT_SCHEMA", "REQUEST_COLUMNS", "REQUEST_SCHEMA", "UTC_US",
    "conform",
]

UTC_US = pl.Datetime("us", "UTC")

# (name, type, meaning). Partition columns ``site`` and ``date`` live in the path.
REQUEST_COLUMNS: list[tuple[str, pl.DataType, str]] = [
    ("row_id", pl.String(), "stable id: the same line of the same file always gets the same id"),
    ("ts", UTC_US, "request time in UTC (converted with the logged offset, rule T1)"),
    ("client_ip", pl.String(), "client address as logged (IPv4, IPv6 or host name); NULL once anonymised"),
    ("session_id", pl.String(), "session cookie value, when the format logs one; NULL once anonymised"),
    ("remote_user", pl.String(), "authenticated user (%u / $remote_user); NULL once anonymised"),
    ("forwarded_for", pl.String(), "X-Forwarded-For header, when logged; NULL once anonymised"),
    ("vhost", pl.String(), "virtual host (%v / $host / vcombined), when logged"),
    ("method", pl.String(), "HTTP method; NULL when the request line is not HTTP"),
    ("path", pl.String(), "requested path without query (percent-encoding kept); raw request if not HTTP"),
    ("query", pl.String(), "query string without '?'; NULL when absent and once anonymised"),
    ("protocol", pl.String(), "protocol, e.g. HTTP/1.1"),
    ("status", pl.Int16(), "HTTP status code"),
    ("bytes", pl.Int64(), "response size in bytes ('-' is 0)"),
    ("referrer", pl.String(), "Referer header; cut to its origin (scheme://host) once anonymised"),
    ("referrer_host", pl.String(), "host of the referrer, lower case"),
    ("user_agent", pl.String(), "raw User-Agent header; NULL once anonymised"),
    ("browser", pl.String(), "browser family (ua-parser)"),
    ("browser_version", pl.String(), "browser major version"),
    ("os", pl.String(), "operating system family"),
    ("os_version", pl.String(), "operating system major version"),
    ("device", pl.String(), "device family (Other, Spider, iPhone, ...)"),
    ("is_bot", pl.Boolean(), "automated client: any agent_group but person"),
    ("agent_group", pl.String(), "person, crawler, feed_reader, monitor, scanner, script or other_bot "
     "(maintained lists, see docs/marts.md); NULL when no user agent was logged"),
    ("is_page", pl.Boolean(), "a page view rather than a static asset (by path extension)"),
    ("response_time_ms", pl.Float64(), "time to serve in milliseconds; NULL when the format has none"),
    ("received_at", UTC_US, "when the pipeline received the line (rule T3)"),
    ("anonymized_at", UTC_US, "when the row was anonymised; NULL while it is personal data"),
    ("source_file", pl.String(), "input file name as given to ingest"),
    ("source_line", pl.Int64(), "1-based line number in the input file"),
]
REQUEST_SCHEMA = pl.Schema({name: dtype for name, dtype, _ in REQUEST_COLUMNS})

REJECT_COLUMNS: list[tuple[str, pl.DataType, str]] = [
    ("row_id", pl.String(), "stable id of the line (same scheme as requests)"),
    ("line", pl.String(), "the raw line; scrubbed once past the deadline (rule A4, docs/lake.md)"),
    ("reason", pl.String(), "why it was rejected (no match, unreadable or out-of-range value)"),
    ("format", pl.String(), "log format it was read with (preset name or format string): where its personal "
     "fields are when it is scrubbed"),
    ("source_file", pl.String(), "input file name"),
    ("source_line", pl.Int64(), "1-based line number"),
    ("received_at", UTC_US, "when the pipeline received it; its deadline counts from here (T3)"),
    ("scrubbed_at", UTC_US, "when the line was scrubbed; NULL while raw"),
]
REJECT_SCHEMA = pl.Schema({name: dtype for name, dtype, _ in REJECT_COLUMNS})


#: Abuse candidates (forensics/abuse_candidates/): one row per client, site and UTC day.
CANDIDATE_SCHEMA = pl.Schema(
    {
        "candidate_id": pl.String(),
        "site": pl.String(),
        "day": pl.Date(),
        "client_ip": pl.String(),
        "kinds": pl.List(pl.String()),
        "score": pl.Float64(),
        "count_requests": pl.Int64(),
        "count_404": pl.Int64(),
        "count_404_paths": pl.Int64(),
        "count_posts": pl.Int64(),
        "count_auth_failures": pl.Int64(),
        "count_probe_paths": pl.Int64(),
        "count_injections": pl.Int64(),
        "count_odd_methods": pl.Int64(),
        "count_form_posts": pl.Int64(),
        "count_fast_form_posts": pl.Int64(),
        "count_credential_probes": pl.Int64(),
        "peak_per_minute": pl.Int64(),
        "max_posts_one_path": pl.Int64(),
        "first_seen_at": UTC_US,
        "last_seen_at": UTC_US,
        "oldest_at": UTC_US,
        "example_requests": pl.List(pl.String()),
        "user_agents": pl.List(pl.String()),
        "detected_at": UTC_US,
    }
)


def conform(frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """Select ``schema``'s columns in order and with its types (missing ones NULL)."""
    return frame.select(
        [
            (pl.col(name) if name in frame.columns else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in schema.items()
        ]
    )
