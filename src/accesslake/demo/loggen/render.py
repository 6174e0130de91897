"""Rows to log lines: the log format and the one function that renders it."""

from __future__ import annotations

from typing import Final

import polars as pl

from accesslake.demo.loggen.timeline import US

DEMO_FORMAT: Final[str] = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D "%{sid}C"'
"""The Apache ``LogFormat`` of the generated log."""

DEMO_COOKIE: Final[str] = "sid"
"""Name of the session cookie logged by ``%{sid}C``."""

ROW_SCHEMA = pl.Schema(
    {
        "ip": pl.String(),
        "user": pl.String(),
        "ts": pl.Int64(),  # request time, us since the epoch (UTC)
        "req": pl.String(),
        "status": pl.Int64(),
        "bytes": pl.Int64(),  # 0 is logged as "-"
        "ref": pl.String(),
        "ua": pl.String(),
        "dur": pl.Int64(),  # time to serve, us
        "sid": pl.String(),
    }
)
"""One request before rendering; background and planted rows share it."""


def format_lines(rows: pl.DataFrame, offset_s: int, offset: str) -> pl.DataFrame:
    """Render rows in DEMO_FORMAT; ``key`` is the time the server writes the line."""
    local = pl.from_epoch(pl.col("ts") // US + offset_s, time_unit="s")
    return rows.select(
        key=pl.col("ts") + pl.col("dur"),
        line=pl.concat_str(
            [
                pl.col("ip"),
                pl.lit(" - "),
                pl.col("user"),
                pl.lit(" ["),
                local.dt.strftime("%d/%b/%Y:%H:%M:%S"),
                pl.lit(f' {offset}] "'),
                pl.col("req"),
                pl.lit('" '),
                pl.col("status").cast(pl.String),
                pl.lit(" "),
                pl.when(pl.col("bytes") > 0).then(pl.col("bytes").cast(pl.String)).otherwise(pl.lit("-")),
                pl.lit(' "'),
                pl.col("ref"),
                pl.lit('" "'),
                pl.col("ua"),
                pl.lit('" '),
                pl.col("dur").cast(pl.String),
                pl.lit(' "'),
                pl.col("sid"),
                pl.lit('"'),
            ]
        ),
    )
