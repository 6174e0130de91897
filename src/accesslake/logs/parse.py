"""A batch of log lines -> typed request rows + rejected lines (vectorised).

:func:`parse_batch` runs one regex over the whole batch (Polars
``extract_groups``), converts each field with column expressions and splits
the batch into rows and rejects: every input line comes out exactly once.
No Python code runs per line.

Speed (see ``docs/performance.md``): the regex is most of the cost, so the
rest is kept to one pass per derived value. Eager Polars does not eliminate
common subexpressions, so values used more than once (unescaped fields, the
request's method, protocol and target) are materialised once, in stages;
unescaping runs only on columns that hold a backslash; the referrer host is
cut from the authority with literal splits instead of a backtracking regex,
once per distinct referrer; the reject reasons are worked out on the (few)
rejected lines only, and the raw ``line`` is not carried into the accepted
rows. Parsing comes in two halves, :func:`extract_batch` (the regexes) and
:func:`type_batch`, so that ingest can run them in two threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import polars as pl

from accesslake.logs.formats import FieldSpec
from accesslake.schema import REJECT_SCHEMA, REQUEST_SCHEMA, UTC_US, conform

__all__ = ["ExtractedBatch", "ParsedBatch", "STATIC_EXTENSIONS", "extract_batch", "parse_batch", "split_lines",
           "type_batch"]

# Paths ending in these extensions are assets, not page views (close to GoAccess's list).
STATIC_EXTENSIONS = (
    "css", "js", "mjs", "map", "png", "jpg", "jpeg", "gif", "ico", "svg", "webp", "avif", "bmp",
    "tif", "tiff", "woff", "woff2", "ttf", "otf", "eot", "mp3", "mp4", "m4a", "webm", "ogg", "ogv",
    "wav", "avi", "mov", "mpg", "mpeg", "flv", "swf", "pdf", "txt", "csv", "xml", "json", "zip",
    "gz", "tgz", "tar", "rar", "7z", "exe", "iso", "dmg", "jar", "war", "deb", "rpm", "msi", "apk", "bz2", "xz",
    "doc", "docx", "xls", "xlsx", "ppt", "pptx",
)
_STATIC_RE = r"(?i)\.(?:" + "|".join(STATIC_EXTENSIONS) + r")$"
# A request line is "METHOD target PROTOCOL"; two anchored patterns are much
# faster than one with a lazy middle group.
_METHOD_RE = r"^([A-Za-z][A-Za-z0-9_-]*) +\S"
_PROTOCOL_RE = r" ([A-Za-z]+/\d+(?:\.\d+)?) *$"
_HOST_RE = r"^[A-Za-z][A-Za-z0-9+.\-]*://(?:[^@/?#]*@)?([^/?#:]+)"
# The same host, found in two cheap steps (see _referrer_host): the authority
# after "scheme://", then literal splits at "@" and ":".
_AUTHORITY_RE = r"^[A-Za-z][A-Za-z0-9+.\-]*://([^/?#]*)"
# Columns of ParsedBatch.rows: the stored request columns but the user-agent ones.
_ROW_COLUMNS = tuple(
    name for name in REQUEST_SCHEMA.names()
    if name not in ("browser", "browser_version", "os", "os_version", "device", "agent_group", "is_bot")
)


@dataclass(frozen=True)
class ParsedBatch:
    """Rows (request columns before user-agent enrichment) and rejects of one batch."""

    rows: pl.DataFrame
    rejects: pl.DataFrame


def split_lines(data: bytes | bytearray | np.ndarray) -> pl.Series:
    """Split a buffer of complete lines (each ending in ``\\n``) into a String series.

    Zero-copy: newline offsets are found with NumPy and the buffer (bytes, or
    a uint8 array as :mod:`accesslake.ingest` reads into) becomes an Arrow
    string array; invalid UTF-8 is decoded with replacement characters.
    """
    import pyarrow as pa

    view = data if isinstance(data, np.ndarray) else np.frombuffer(data, dtype=np.uint8)
    if not view.size:
        return pl.Series("line", [], dtype=pl.String)
    ends = _line_ends(view)
    if not ends.size or ends[-1] != view.size:
        ends = np.append(ends, view.size)
    offsets = np.empty(ends.size + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:] = ends
    try:
        array = pa.LargeStringArray.from_buffers(ends.size, pa.py_buffer(offsets), pa.py_buffer(view))
        array.validate(full=True)
    except pa.ArrowInvalid:
        text = view.tobytes().decode("utf-8", errors="replace").encode("utf-8")
        return split_lines(text)
    series = pl.Series("line", pl.from_arrow(array)).cast(pl.String)
    # Every line but maybe the last ends in "\n": when the last one does too,
    # dropping the last character is the same as strip_suffix("\n"), and cheaper.
    newline_at_end = bool(view[-1] == 10)
    series = series.str.head(-1) if newline_at_end else series.str.strip_suffix("\n")
    # Then one "\r" goes where a line, without its "\n", ends in one: look at those bytes only.
    content_end = ends - (view[ends - 1] == 10)
    nonempty = content_end > offsets[:-1]
    has_cr = bool((view[content_end[nonempty] - 1] == 13).any())
    return series.str.strip_suffix("\r") if has_cr else series


def _line_ends(view: np.ndarray) -> np.ndarray:
    """Offsets just past each newline of ``view``, found 256 KiB at a time (cache-sized temporaries)."""
    step = 1 << 18
    parts = [np.flatnonzero(view[i:i + step] == 10) + (i + 1) for i in range(0, view.size, step)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


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
        micros = (raw.cast(pl.Float64, strict=False) * scale * 1e6).round().cast(pl.Int64, strict=False)
        return pl.from_epoch(micros, time_unit="us").dt.replace_time_zone("UTC")
    fmt = spec.time_format or ""
    if "%z" in fmt:
        return raw.str.strptime(UTC_US, fmt, strict=False)
    # No offset in the log: local time in the site zone (rule T1); an ambiguous
    # hour (autumn) takes the earlier instant, a non-existent one (spring) is rejected.
    naive = raw.str.strptime(pl.Datetime("us"), fmt, strict=False)
    local = naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    return local.dt.convert_time_zone("UTC")


def _referrer_host(referrer: pl.Expr) -> pl.Expr:
    """``referrer.str.extract(_HOST_RE, 1)``, computed without the backtracking regex.

    _HOST_RE takes the user info (up to the first "@" of the authority) when
    a non-empty host follows it, else the authority itself; the host runs up
    to the first ":" (port). The same in literal splits, several times faster.
    """
    authority = referrer.str.extract(_AUTHORITY_RE, 1)
    after_user = authority.str.splitn("@", 2).struct.field("field_1")
    user_host = after_user.str.splitn(":", 2).struct.field("field_0")
    plain_host = authority.str.splitn(":", 2).struct.field("field_0")
    return pl.coalesce(
        pl.when(user_host != "").then(user_host), pl.when(plain_host != "").then(plain_host)
    )


def _referrer_hosts(referrers: pl.Series) -> pl.Series:
    """Lower-case referrer host per row, worked out once per distinct referrer (far fewer)."""
    hosts = (
        referrers.unique().drop_nulls().to_frame("r")
        .select("r", _referrer_host(pl.col("r")).str.to_lowercase().alias("host"))
    )
    joined = referrers.to_frame("r").join(hosts, on="r", how="left", maintain_order="left")
    return joined["host"]


def _extract(lines: pl.Series, first_line: int, spec: FieldSpec) -> pl.DataFrame:
    """One row per line with a String column per field; ``_ok`` is false where no regex matched.

    Lines only the tolerant regex matches come after the others.
    """
    first = spec.fields[0]
    base = pl.DataFrame({"line": lines}).with_columns(
        pl.int_range(first_line, first_line + lines.len(), dtype=pl.Int64).alias("source_line"),
    )

    def run(frame: pl.DataFrame, regex: str) -> pl.DataFrame:
        out = frame.with_columns(pl.col("line").str.extract_groups(regex).alias("_g")).unnest("_g")
        # Any group of a matching line is a string (maybe empty); all are null otherwise.
        return out.with_columns(pl.col(first).is_not_null().alias("_ok"))

    groups = run(base, spec.regex)
    if spec.tolerant_regex is None or groups["_ok"].all():
        return groups
    missed = groups.filter(~pl.col("_ok"))
    return pl.concat([groups.filter(pl.col("_ok")), run(missed.select("line", "source_line"), spec.tolerant_regex)])


def _unquoted(groups: pl.DataFrame, spec: FieldSpec) -> pl.DataFrame:
    """Unescape ``\\"`` and ``\\\\`` in quoted fields; skipped for columns without a backslash."""
    quoted = [name for name in spec.fields if name in spec.quoted]
    if not quoted or not groups["line"].str.contains("\\", literal=True).any():
        return groups
    escaped = [name for name in quoted if groups[name].str.contains("\\", literal=True).any()]
    return groups.with_columns(_unquote(name, spec) for name in escaped) if escaped else groups


# Times a stored row may have: what every reader (Python, DuckDB, Arrow dates) can represent.
_FIRST_TIME = datetime(1, 1, 1, tzinfo=UTC)
_LAST_TIME = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def _numbers(spec: FieldSpec) -> dict[str, tuple[pl.Expr, pl.Expr]]:
    """(typed value, stored faithfully? once the value is column ``name``) of the numeric fields the
    format logs, by column name: bytes ('-' is 0; NULL only when out of range), response time."""
    out: dict[str, tuple[pl.Expr, pl.Expr]] = {}
    if "bytes" in spec.fields:
        raw = pl.col("bytes")
        value = pl.when(raw.is_in(["-", ""])).then(0).otherwise(raw.cast(pl.Int64, strict=False))
        out["_bytes"] = (value, pl.col("_bytes").is_not_null())
    if "response_time" in spec.fields:
        value = pl.col("response_time").cast(pl.Float64, strict=False) * (spec.response_unit or 1.0)
        out["_response_ms"] = (value, pl.col("_response_ms").is_finite())
    return out


def _number_exprs(spec: FieldSpec) -> list[pl.Expr]:
    return [value.alias(name) for name, (value, _) in _numbers(spec).items()]


@dataclass(frozen=True)
class ExtractedBatch:
    """The first half of parsing a batch (the regular expressions), see :func:`extract_batch`.

    ``frame`` has a String column per field, the time and status read
    (``_ts``, ``_status``), ``_bad`` (the line is rejected) and no raw
    ``line``; ``rejected`` holds the rejected lines only, raw line included,
    for their reasons.
    """

    frame: pl.DataFrame
    rejected: pl.DataFrame
    spec: FieldSpec


def extract_batch(
    lines: pl.Series, spec: FieldSpec, *, first_line: int, tz: str = "Europe/Berlin"
) -> ExtractedBatch:
    """Run the format's regex and find the rejected lines; :func:`type_batch` finishes the job.

    Parsing comes in two halves so that a pipeline can run them in two threads
    (:mod:`accesslake.ingest` extracts batch k+1 while it types and writes
    batch k); :func:`parse_batch` is the two in a row.
    """
    groups = _unquoted(_extract(lines.cast(pl.String), first_line, spec), spec)
    present = set(spec.fields)
    status = pl.col("status") if "status" in present else pl.lit(None, dtype=pl.String)
    frame = groups.with_columns(
        _time_expr(spec, tz).alias("_ts") if spec.has_time else pl.lit(None, dtype=UTC_US).alias("_ts"),
        status.cast(pl.Int16, strict=False).alias("_status"),
        *_number_exprs(spec),
    )
    # A line is rejected when blank, unmatched, without a readable time or status, or with a value
    # that cannot be stored as it was logged (a time outside years 1-9999, a byte count above 2^63-1).
    bad = (
        pl.col("line").str.contains(r"^\s*$")
        | ~pl.col("_ok")
        | ~pl.col("_ts").is_between(_FIRST_TIME, _LAST_TIME).fill_null(False)  # unreadable or out of range
        | (pl.col("_status").is_null() & pl.lit("status" in present))
    )
    for _, ok in _numbers(spec).values():
        bad = bad | ~ok.fill_null(True)
    frame = frame.with_columns(bad.alias("_bad"))
    # The raw lines go on with the rejected ones only: the batch's text can be freed now.
    rejected = frame.filter(pl.col("_bad")) if frame["_bad"].any() else frame.clear()
    return ExtractedBatch(frame.drop("line"), rejected, spec)


def type_batch(
    extracted: ExtractedBatch, *, source_file: str, file_key: str, received_at: datetime
) -> ParsedBatch:
    """Typed request rows and rejects (with their reasons) from :func:`extract_batch`'s result."""
    frame, spec = extracted.frame, extracted.spec
    received = pl.lit(received_at).cast(UTC_US)
    present = set(spec.fields)

    def col(name: str) -> pl.Expr:
        return pl.col(name) if name in present else pl.lit(None, dtype=pl.String)

    # Stage 1: the parts of the request line ("METHOD target PROTOCOL").
    request = col("request")
    frame = frame.with_columns(
        request.str.extract(_METHOD_RE, 1).alias("_req_method"),
        request.str.extract(_PROTOCOL_RE, 1).alias("_req_protocol"),
    )
    req_method = pl.col("_req_method")
    req_protocol = pl.when(req_method.is_not_null()).then(pl.col("_req_protocol"))
    start = req_method.str.len_chars() + 1
    stop = request.str.len_chars() - (req_protocol.str.len_chars() + 1).fill_null(0)
    req_target = request.str.slice(start, stop - start).str.strip_chars(" ")
    # Stage 2: target, method, protocol, the raw request when it is not HTTP, the referrer.
    frame = frame.with_columns(
        pl.coalesce(req_target, col("target")).str.splitn("?", 2).alias("_target"),
        pl.coalesce(req_method, col("method")).str.to_uppercase().alias("_method"),
        pl.coalesce(req_protocol, col("protocol")).alias("_protocol"),
        pl.when(req_method.is_null() & ~request.is_in(["-", ""])).then(request).otherwise(None).alias("_raw"),
        _dash_null(col("referrer")).alias("_referrer"),
    )
    # Stage 3: path and query (split at the first "?").
    query = pl.coalesce(pl.col("_target").struct.field("field_1"), col("query").str.strip_prefix("?"))
    frame = frame.with_columns(
        pl.coalesce(pl.col("_target").struct.field("field_0"), col("path"), pl.col("_raw")).alias("_path"),
        pl.when(query == "").then(None).otherwise(query).alias("_query"),
        _referrer_hosts(frame["_referrer"]).alias("_referrer_host"),
    )
    values: dict[str, pl.Expr] = {
        "row_id": pl.lit(file_key + ":") + pl.col("source_line").cast(pl.String),
        "ts": pl.col("_ts"),
        "client_ip": _dash_null(col("host")).str.to_lowercase(),
        "session_id": _dash_null(col("session_id")),
        "remote_user": _dash_null(col("remote_user")),
        "forwarded_for": _dash_null(col("forwarded_for")),
        "vhost": _dash_null(col("vhost")).str.to_lowercase(),
        "method": pl.col("_method"),
        "path": pl.col("_path"),
        "query": pl.col("_query"),
        "protocol": pl.col("_protocol"),
        "status": pl.col("_status"),
        "bytes": pl.col("_bytes") if "bytes" in present else pl.lit(None, dtype=pl.Int64),
        "referrer": pl.col("_referrer"),
        "referrer_host": pl.col("_referrer_host"),
        "user_agent": _dash_null(col("user_agent")),
        "is_page": pl.col("_method").is_not_null() & ~pl.col("_path").fill_null("").str.contains(_STATIC_RE),
        "response_time_ms": pl.col("_response_ms") if "response_time" in present else pl.lit(None, dtype=pl.Float64),
        "received_at": received,
        "anonymized_at": pl.lit(None, dtype=UTC_US),
        "source_file": pl.lit(source_file),
        "source_line": pl.col("source_line"),
    }
    rows = frame.select(*(values[name].cast(REQUEST_SCHEMA[name]).alias(name) for name in _ROW_COLUMNS), "_bad")
    if not extracted.rejected.height:
        empty = pl.DataFrame(schema=REJECT_SCHEMA)
        return ParsedBatch(rows=rows.drop("_bad"), rejects=empty)
    reason = (
        pl.when(pl.col("line").str.strip_chars() == "")
        .then(pl.lit("empty line"))
        .when(~pl.col("_ok"))
        .then(pl.lit(f"does not match format {spec.name}"))
        .when(pl.col("_ts").is_null())
        .then(pl.lit("unreadable or non-existent time ") + pl.col("time").fill_null(""))
        .when(~pl.col("_ts").is_between(_FIRST_TIME, _LAST_TIME))
        .then(pl.lit("time ") + pl.col("time") + pl.lit(" out of range (years 1 to 9999 in UTC)"))
        .when(pl.col("_status").is_null() & pl.lit("status" in present))
        .then(pl.lit("unreadable status"))
        .when(pl.col("_bytes").is_null() if "bytes" in present else pl.lit(False))
        .then(pl.lit("byte count ") + col("bytes") + pl.lit(" out of range (0 to 2^63-1)"))
        .when(~pl.col("_response_ms").is_finite() if "response_time" in present else pl.lit(False))
        .then(pl.lit("response time ") + col("response_time") + pl.lit(" out of range"))
        .otherwise(pl.lit("unreadable value"))
    )
    rejects = extracted.rejected.select(
        values["row_id"].alias("row_id"),
        "line",
        reason.alias("reason"),
        pl.lit(spec.text).alias("format"),
        values["source_file"].alias("source_file"),
        "source_line",
        received.alias("received_at"),
        pl.lit(None, dtype=UTC_US).alias("scrubbed_at"),
    )
    return ParsedBatch(rows=rows.filter(~pl.col("_bad")).drop("_bad"), rejects=conform(rejects, REJECT_SCHEMA))


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
    extracted = extract_batch(lines, spec, first_line=first_line, tz=tz)
    return type_batch(extracted, source_file=source_file, file_key=file_key, received_at=received_at)
