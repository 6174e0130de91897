"""Array type aliases and small vectorised helpers shared by the generator."""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.typing import NDArray

I64 = NDArray[np.int64]
U64 = NDArray[np.uint64]
F64 = NDArray[np.float64]
BoolA = NDArray[np.bool_]


def pick(series: pl.Series, idx: NDArray[np.integer]) -> pl.Series:
    """``series[idx]`` for an integer array of positions."""
    return series.gather(np.asarray(idx, dtype=np.int64))


def split_exact(total: int, weights: F64) -> I64:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder)."""
    share = weights / weights.sum() * total
    out: I64 = np.floor(share).astype(np.int64)
    rest = total - int(out.sum())
    if rest:
        order = np.argsort(-(share - out), kind="stable")
        out[order[:rest]] += 1
    return out


def segment_starts(counts: I64) -> I64:
    """First index of each segment when segments of ``counts`` items are laid end to end."""
    return np.cumsum(counts) - counts
