"""The entry point: :func:`generate_log` and what it returns."""

from __future__ import annotations

import gzip as _gzip
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Final, cast

import numpy as np
import polars as pl

from accesslake.demo.loggen.arrays import I64, split_exact
from accesslake.demo.loggen.background import State, background
from accesslake.demo.loggen.catalog import build_catalog
from accesslake.demo.loggen.planted import MALFORMED, Planted, planted_lines
from accesslake.demo.loggen.render import DEMO_FORMAT, format_lines
from accesslake.demo.loggen.timeline import US, Timeline, build_timeline, epoch_us, parse_offset
from accesslake.errors import ConfigError

_CHUNK_LINES: Final = 250_000
_MIN_LINES: Final = 200


@dataclass(frozen=True)
class GeneratedLog:
    """What :func:`generate_log` wrote.

    ``start`` and ``end`` are the covered window ``[now - days, now]`` in UTC;
    ``lines`` counts every line (malformed ones included), ``malformed`` the
    lines that are deliberately not valid for ``format``.
    """

    path: Path
    lines: int
    malformed: int
    start: datetime
    end: datetime
    planted: Planted
    format: str


def generate_log(
    path: Path,
    *,
    now: datetime,
    days: int = 7,
    lines: int = 20_000,
    seed: int = 1,
    utc_offset: str = "+0100",
    gzip: bool = False,
) -> GeneratedLog:
    """Write a synthetic access log of exactly ``lines`` lines to ``path``.

    The log covers the ``days`` days ending at ``now`` (an aware datetime; every
    timestamp is in ``[now - days, now]``) and is written with timestamps in
    ``utc_offset``. ``gzip=True`` compresses the output (deterministically; the
    name is used as given). The same arguments always produce the same bytes.
    At least 200 lines are needed to hold the planted actors; they are scaled
    down for small logs (see :class:`Planted`).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ConfigError("generate_log: `now` must be timezone-aware, e.g. datetime.now(UTC)")
    if days < 1:
        raise ConfigError(f"generate_log: days must be >= 1, got {days}")
    if lines < _MIN_LINES:
        raise ConfigError(f"generate_log: lines must be >= {_MIN_LINES}, got {lines}")
    offset_s = parse_offset(utc_offset)
    path = Path(path)
    now_utc = now.astimezone(UTC)
    start_utc = now_utc - timedelta(days=days)
    first_us = -(-epoch_us(start_utc) // US) * US  # first whole second in the window
    last_us = epoch_us(now_utc) // US * US  # last whole second in the window

    # one independent random stream per part, so that each part draws the same
    # numbers whatever the others do
    seq = np.random.SeedSequence([seed & 0xFFFF_FFFF, seed >> 32 & 0xFFFF_FFFF, 0x10_66E4])
    s_catalog, s_time, s_planted, s_chunks = seq.spawn(4)
    catalog = build_catalog(np.random.default_rng(s_catalog), lines, now_utc.year)
    timeline = build_timeline(np.random.default_rng(s_time), first_us, last_us, offset_s)
    salt = np.uint64(int(np.random.default_rng(s_chunks).integers(0, 2**63)))
    state = State(catalog=catalog, timeline=timeline, salt=salt)
    extras, planted = planted_lines(np.random.default_rng(s_planted), catalog, timeline, lines, offset_s, utc_offset)

    n_background = lines - extras.height
    cell_bounds, quotas = _plan_chunks(timeline, n_background)
    n_chunks = len(quotas)
    # each planted or malformed line goes to the chunk whose time slice holds its key
    time_bounds = timeline.cell_start[cell_bounds[1:-1]]
    extra_chunk = np.searchsorted(time_bounds, extras.get_column("key").to_numpy(), side="right")
    extras = extras.with_columns(slice=pl.Series(extra_chunk, dtype=pl.Int64))
    chunk_seeds = s_chunks.spawn(n_chunks)

    def chunks() -> Iterator[pl.DataFrame]:
        """The lines of each time slice, background and extras, in the order the server writes them."""
        for k in range(n_chunks):
            parts: list[pl.DataFrame] = [extras.filter(pl.col("slice") == k).drop("slice")]
            if quotas[k] > 0:
                rng = np.random.default_rng(chunk_seeds[k])
                rows = background(state, rng, (int(cell_bounds[k]), int(cell_bounds[k + 1])), int(quotas[k]))
                parts.append(format_lines(rows, offset_s, utc_offset))
            yield pl.concat(parts).sort("key", maintain_order=True)

    written = _write(path, chunks(), gzip=gzip)
    if written != lines:  # pragma: no cover - internal consistency
        raise AssertionError(f"wrote {written} lines, expected {lines}")
    return GeneratedLog(
        path=path,
        lines=lines,
        malformed=MALFORMED,
        start=start_utc,
        end=now_utc,
        planted=planted,
        format=DEMO_FORMAT,
    )


def _plan_chunks(timeline: Timeline, n_background: int) -> tuple[I64, I64]:
    """Cut the cells into slices of about 250,000 lines: the cell bounds and each slice's line quota."""
    n_chunks = max(1, math.ceil(n_background / _CHUNK_LINES))
    n_cells = len(timeline.cell_start)
    n_chunks = min(n_chunks, n_cells)
    cell_bounds = (np.arange(n_chunks + 1) * n_cells) // n_chunks
    masses = np.add.reduceat(timeline.cell_mass, cell_bounds[:-1])
    return cell_bounds, split_exact(n_background, masses)


def _write(path: Path, chunks: Iterator[pl.DataFrame], *, gzip: bool) -> int:
    """Write the ``line`` column of each chunk to ``path``, gzip-compressed if asked; return the line count."""
    written = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw:
        # no file name and mtime 0 in the gzip header, so that the bytes depend on the arguments only
        out: IO[bytes] = (
            cast(IO[bytes], _gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=1))
            if gzip
            else raw
        )
        try:
            for chunk in chunks:
                chunk.select("line").write_csv(out, include_header=False, quote_style="never")
                written += chunk.height
        finally:
            if out is not raw:
                out.close()
    return written
