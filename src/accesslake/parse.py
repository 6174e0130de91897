"""A batch of log lines -> typed request rows + rejected lines (vectorised).

:func:`parse_batch` runs one regex over the whole batch (Polars
``extract_groups``), converts each field with column expressions and splits
the batch into rows and rejects: every input line comes out exactly once.
No Python code runs per line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from accesslake.formats import FieldSpec
from accesslake.schema import REJECT_SCHEMA, UTC_US, conform

__all__ = ["ParsedBatch", "STATIC_EXTENSIONS", "parse_batch", "split_lines"]

# Paths ending in these extensions are assets, not page views (close to GoAccess's list).
STATIC_EXTENSIONS = (
    "css", "js", "mjs", "map", "png", "jpg", "jpeg", "gif", "ico", "svg", "webp", "avif", "bmp",
    "tif", "tiff", "woff", "woff2", "ttf", "otf", "eot", "mp3", "mp4", "m4a", "webm", "ogg", "ogv",
    "wav", "avi", "mov", "mpg", "mpeg", "flv", "swf", "pdf", "txt", "csv", "xml", "json", "zip",
    "gz", "tgz", "tar", "rar", "7z", "exe", "iso", "dmg", "jar", "war", "deb", "rpm", "msi", "apk", "bz2", "xz", "doc", "docx", "xls", "xlsx", "ppt", "pptx",
)
_STATIC_RE = r"(?i)\.(?:" + "|".join(STATIC_EXTENSIONS) + r")$"
# A request line is "METHOD target PROTOCOL"; two anchored patterns are much
# faster than one with a lazy middle group.
_METHOD_RE = r"^([A-Za-z][A-Za-z0-9_-]*) +\S"
_PROTOCOL_RE = r" ([A-Za-z]+/\d+(?:\.\d+)?) *$"
_HOST_RE = r"^[A-Za-z][A-Za-z0-9+.\-]*://(?:[^@/?#]*@)?([^/?#:]+)"


@dataclass(frozen=True)
class ParsedBatch:
    """Rows (request columns before user-agent enrichment) and rejects of one batch."""

    rows: pl.DataFrame
    rejects: pl.DataFrame


def split_lines(data: bytes) -> pl.Series:
    """Split a buffer of complete lines (each ending in ``\\n``) into a String series.

    Zero-copy: newline offsets are found with NumPy and the buffer becomes an
    Arrow string array; invalid UTF-8 is decoded with replacement characters.
    """
    import numpy as np
    import pyarrow as pa

    if not data:
        return pl.Series("line", [], dtype=pl.String)
    view = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(view == 10) + 1
    if not ends.size or ends[-1] != len(data):
        ends = np.append(ends, len(data))
    offsets = np.empty(ends.size + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:] = ends
    buffer = pa.py_buffer(data)
    try:
        array = pa.LargeStringArray.from_buffers(ends.size, pa.py_buffer(offsets), buffer)
        array.validate(full=True)
    except pa.ArrowInvalid:
        text = data.decode("utf-8", errors="replace").encode("utf-8")
        return split_lines(text)
    series = pl.Series("line", pl.from_arrow(array)).cast(pl.String)
    return series.str.strip_suffix("\n").str.strip_suffix("\r")


def _unquote(column: str, spec: FieldSpec) -> pl.Expr:
    expr = pl.col(column)
    if column in spec.quoted:
        expr = expr.str.replace_all(r'\\(["\\])', "$1")
    return expr


def _dash_null(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.is_in(["-", ""])).then(None).otherwise(expr)


def _time_expr(spec: FieldSpec, tz: str) -> pl.Expr:
    raw = pl.col("time")
    if spec.time_kind == "clf":
        return raw.str.strptime(UTC_US, "%d/%b/%Y:%H:%M:%S %z", strict=False)
    if spec.time_kind == "iso":
        return raw.str.replace(r"Z$", "+00:00").str.strptime(UTC_US, "%Y-%m-%dT%H:%M:%S%:z", strict=False)
    if spec.time_kind == "epoch":
        scale = float(spec.time_format or 1.0)
        micros = (raw.cast(pl.Float64, strict=False) * scale * 1e6).round().cast(pl.Int64)
        return pl.from_epoch(micros, time_unit="us").dt.replace_time_zone("UTC")
    fmt = spec.time_format or ""
    if "%z" in fmt:
        return raw.str.strptime(UTC_US, fmt, strict=False)
    # No offset in the log: local time in the site zone (rule T1); an ambiguous
    # hour (autumn) takes the earlier instant, a non-existent one (spring) is rejected.
    naive = raw.str.strptime(pl.Datetime("us"), fmt, strict=False)
    local = naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    return local.dt.convert_time_zone("UTC")


def _extract(base: pl.DataFrame, spec: FieldSpec) -> pl.DataFrame:
    """One row per line with a String column per field; ``_ok`` is null where no regex matched."""
    first = spec.fields[0]

    def run(frame: pl.DataFrame, regex: str) -> pl.DataFrame:
        out = frame.select("line", "source_line", pl.col("line").str.extract_groups(regex).alias("_g")).unnest("_g")
        # Any group of a matching line is a string (maybe empty); all are null otherwise.
        return out.with_columns(pl.col(first).is_not_null().alias("_ok"))

    groups = run(base, spec.regex)
    if spec.tolerant_regex is None or groups["_ok"].all():
        return groups
    missed = groups.filter(~pl.col("_ok"))
    return pl.concat([groups.filter(pl.col("_ok")), run(missed.select("line", "source_line"), spec.tolerant_regex)])


def parse_batch(
    lines: pl.Series,
    spec: FieldSpec,
    *,
    first_line: int,
    source_file: str,
    file_key: str,
    received_at: datetime,
    tz: str = "Europe/Berlin",
) -> ParsedBatch:
    """Parse ``lines`` (line ``first_line`` onwards of ``source_file``)."""
    received = pl.lit(received_at).cast(UTC_US)
    base = pl.DataFrame({"line": lines.cast(pl.String)}).with_columns(
        pl.int_range(first_line, first_line + lines.len(), dtype=pl.Int64).alias("source_line"),
    )
    groups = _extract(base, spec)
    present = set(spec.fields)

    def col(name: str) -> pl.Expr:
        return _unquote(name, spec) if name in present else pl.lit(None, dtype=pl.String)

    request = col("request")
    req_method = request.str.extract(_METHOD_RE, 1)
    req_protocol = pl.when(req_method.is_not_null()).then(request.str.extract(_PROTOCOL_RE, 1))
    start = req_method.str.len_chars() + 1
    stop = request.str.len_chars() - (req_protocol.str.len_chars() + 1).fill_null(0)
    req_target = request.str.slice(start, stop - start).str.strip_chars(" ")
    target = pl.coalesce(req_target, col("target"))
    typed = groups.with_columns(
        _time_expr(spec, tz).alias("ts") if spec.has_time else pl.lit(None, dtype=UTC_US).alias("ts"),
        pl.coalesce(req_method, col("method")).str.to_uppercase().alias("method"),
        target.alias("_target"),
        pl.coalesce(req_protocol, col("protocol")).alias("protocol"),
        pl.when(req_method.is_null() & ~request.is_in(["-", ""]))
        .then(request)
        .otherwise(None)
        .alias("_raw_request"),
        col("status").cast(pl.Int16, strict=False).alias("status"),
        pl.when(col("bytes").is_in(["-", ""])).then(0).otherwise(col("bytes").cast(pl.Int64, strict=False))
        .alias("bytes"),
        (col("response_time").cast(pl.Float64, strict=False) * (spec.response_unit or 1.0))
        .alias("response_time_ms"),
    )
    path = pl.coalesce(
        pl.col("_target").str.extract(r"^([^?]*)", 1), col("path"), pl.col("_raw_request")
    )
    query = pl.coalesce(pl.col("_target").str.extract(r"\?(.*)$", 1), col("query").str.strip_prefix("?"))
    referrer = _dash_null(col("referrer"))
    rows = typed.with_columns(
        path.alias("path"),
        pl.when(query == "").then(None).otherwise(query).alias("query"),
        _dash_null(col("host")).str.to_lowercase().alias("client_ip"),
        _dash_null(col("session_id")).alias("session_id"),
        _dash_null(col("remote_user")).alias("remote_user"),
        _dash_null(col("forwarded_for")).alias("forwarded_for"),
        _dash_null(col("vhost")).str.to_lowercase().alias("vhost"),
        referrer.alias("referrer"),
        referrer.str.extract(_HOST_RE, 1).str.to_lowercase().alias("referrer_host"),
        _dash_null(col("user_agent")).alias("user_agent"),
    ).with_columns(
        (pl.col("method").is_not_null() & ~pl.col("path").fill_null("").str.contains(_STATIC_RE)).alias("is_page"),
        (pl.lit(file_key + ":") + pl.col("source_line").cast(pl.String)).alias("row_id"),
        pl.lit(source_file).alias("source_file"),
        received.alias("received_at"),
        pl.lit(None, dtype=UTC_US).alias("anonymized_at"),
    )
    reason = (
        pl.when(pl.col("line").str.strip_chars() == "")
        .then(pl.lit("empty line"))
        .when(~pl.col("_ok"))
        .then(pl.lit(f"does not match format {spec.name}"))
        .when(pl.col("ts").is_null())
        .then(pl.lit("unreadable or non-existent time ") + pl.col("time").fill_null(""))
        .when(pl.col("status").is_null() & pl.lit("status" in present))
        .then(pl.lit("unreadable status"))
        .otherwise(None)
    )
    rows = rows.with_columns(reason.alias("reason"))
    rejects = rows.filter(pl.col("reason").is_not_null()).select(
        "row_id",
        "line",
        "reason",
        "source_file",
        "source_line",
        "received_at",
        pl.lit(None, dtype=UTC_US).alias("scrubbed_at"),
    )
    good = rows.filter(pl.col("reason").is_null())
    return ParsedBatch(rows=good, rejects=conform(rejects, REJECT_SCHEMA))
