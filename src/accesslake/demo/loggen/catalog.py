"""The site's page catalogue: fixed pages, categories, products, blog posts, tags and dead links."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from accesslake.demo.loggen.arrays import I64, BoolA, pick, segment_starts
from accesslake.demo.loggen.tables import ADJECTIVES, CATEGORIES, FIXED_PAGES, GET, NOUNS, Q_PAGE, WORDS

# Page classes, in the order they are laid out in the catalogue.
C_FIXED, C_CATEGORY, C_PRODUCT, C_POST, C_TAG, C_MISSING = range(6)

ERROR_PAGE_BYTES = 4_862  # the custom error page

FIXED_INDEX = {page.path: i for i, page in reversed(list(enumerate(FIXED_PAGES)))}
"""Catalogue index of each fixed path (the first entry when a path has several methods)."""
ROBOTS = FIXED_INDEX["/robots.txt"]
SEARCH = FIXED_INDEX["/search"]
FIXED_ADMIN = np.array([page.path.startswith("/admin/") for page in FIXED_PAGES])


@dataclass
class Catalog:
    """Every page of the site, one entry per index; the arrays are parallel to ``path``."""

    path: pl.Series
    img: pl.Series  # the page's own image, "" for none
    img_bytes: I64
    bytes: I64
    status: I64
    method: I64
    html: BoolA
    qkind: I64  # query kind: Q_NONE, Q_PAGE or Q_SEARCH
    cls: I64  # page class (C_*)
    offsets: I64  # first index of each class
    sizes: I64  # entries per class
    words: pl.Series  # vocabulary for search queries


def build_catalog(rng: np.random.Generator, lines: int, year: int) -> Catalog:
    """A catalogue whose size grows with ``lines`` (400 to 600,000 pages)."""
    n_pages = int(np.clip(lines // 20, 400, 600_000))
    n_products = int(n_pages * 0.6)
    n_posts = int(n_pages * 0.3)
    n_missing = max(20, int(n_pages * 0.05))
    words = pl.Series("w", WORDS)
    months = pl.Series("m", [f"{m:02d}" for m in range(1, 13)])

    fixed = pl.DataFrame({"path": [page.path for page in FIXED_PAGES], "img": [page.img for page in FIXED_PAGES]})
    categories = pl.DataFrame({"path": [f"/products/{c}/" for c in CATEGORIES], "img": [""] * len(CATEGORIES)})
    products = _products(rng, n_products)
    posts = _blog_slugs(rng, n_posts, year, words, months).select(
        pl.format("/blog/{}/{}/{}-{}-{}/", "y", "m", "w1", "w2", "w3").alias("path"),
        pl.format("/img/blog/{}-{}-{}.png", "w1", "w2", "w3").alias("img"),
    )
    tags = pl.DataFrame({"path": [f"/blog/tag/{w}/" for w in WORDS], "img": [""] * len(WORDS)})
    missing = _missing(rng, n_missing, year, words, months)

    parts = [fixed, categories, products, posts, tags, missing]  # in C_* order
    sizes = np.array([p.height for p in parts], dtype=np.int64)
    offsets = segment_starts(sizes)
    table = pl.concat(parts, how="vertical")
    n = table.height

    cls = np.repeat(np.arange(len(parts), dtype=np.int64), sizes)
    status = np.full(n, 200, dtype=np.int64)
    method = np.full(n, GET, dtype=np.int64)
    html = np.ones(n, dtype=np.bool_)
    qkind = np.zeros(n, dtype=np.int64)
    size = np.empty(n, dtype=np.int64)
    for i, page in enumerate(FIXED_PAGES):
        status[i], method[i], size[i], html[i], qkind[i] = page.status, page.method, page.bytes, page.html, page.query

    def rows_of(page_class: int) -> slice:
        return slice(int(offsets[page_class]), int(offsets[page_class] + sizes[page_class]))

    size[rows_of(C_CATEGORY)] = rng.integers(20_000, 30_000, sizes[C_CATEGORY])
    qkind[rows_of(C_CATEGORY)] = Q_PAGE
    size[rows_of(C_PRODUCT)] = rng.integers(21_000, 64_000, sizes[C_PRODUCT])
    size[rows_of(C_POST)] = rng.integers(14_000, 52_000, sizes[C_POST])
    size[rows_of(C_TAG)] = rng.integers(12_000, 26_000, sizes[C_TAG])
    qkind[rows_of(C_TAG)] = Q_PAGE
    dead = slice(int(offsets[C_MISSING]), n)
    size[dead] = ERROR_PAGE_BYTES
    status[dead] = 404
    img = table.get_column("img")
    img_bytes = np.where((img.str.len_bytes() > 0).to_numpy(), rng.integers(35_000, 420_000, n), 0).astype(np.int64)
    return Catalog(
        path=table.get_column("path"),
        img=img,
        img_bytes=img_bytes,
        bytes=size,
        status=status,
        method=method,
        html=html,
        qkind=qkind,
        cls=cls,
        offsets=offsets,
        sizes=sizes,
        words=words,
    )


def _random_names(rng: np.random.Generator, n: int) -> dict[str, pl.Series]:
    """Category, adjective and noun of ``n`` product names."""
    return {
        "c": pick(pl.Series("c", CATEGORIES), rng.integers(0, len(CATEGORIES), n)),
        "a": pick(pl.Series("a", ADJECTIVES), rng.integers(0, len(ADJECTIVES), n)),
        "n": pick(pl.Series("n", NOUNS), rng.integers(0, len(NOUNS), n)),
    }


def _products(rng: np.random.Generator, n: int) -> pl.DataFrame:
    """``/products/<category>/<adjective>-<noun>-<id>`` with increasing, unique ids."""
    ids = 10_000 + np.arange(n, dtype=np.int64) * 7 + rng.integers(0, 7, n)
    return pl.DataFrame({**_random_names(rng, n), "id": ids}).select(
        pl.format("/products/{}/{}-{}-{}", "c", "a", "n", "id").alias("path"),
        pl.format("/img/products/{}.jpg", "id").alias("img"),
    )


def _blog_slugs(rng: np.random.Generator, n: int, year: int, words: pl.Series, months: pl.Series) -> pl.DataFrame:
    """Three slug words, a year (up to six years back) and a month for each of ``n`` blog posts."""
    return pl.DataFrame(
        {
            "w1": pick(words, rng.integers(0, len(WORDS), n)),
            "w2": pick(words, rng.integers(0, len(WORDS), n)),
            "w3": pick(words, rng.integers(0, len(WORDS), n)),
            "y": rng.integers(year - 6, year + 1, n),
            "m": pick(months, rng.integers(0, 12, n)),
        }
    )


def _missing(rng: np.random.Generator, n: int, year: int, words: pl.Series, months: pl.Series) -> pl.DataFrame:
    """Dead links (404): old-style ``.html`` blog URLs and products that no longer exist."""
    old_style = rng.random(n) < 0.4
    missing_ids = 900_000 + rng.integers(0, 90_000, n)
    return (
        _blog_slugs(rng, n, year, words, months)
        .with_columns(**_random_names(rng, n), id=missing_ids, old=old_style)
        .select(
            pl.when(pl.col("old"))
            .then(pl.format("/blog/{}/{}/{}-{}.html", "y", "m", "w1", "w2"))
            .otherwise(pl.format("/products/{}/{}-{}-{}", "c", "a", "n", "id"))
            .alias("path"),
            pl.lit("").alias("img"),
        )
    )
