"""Request targets and referrers of page views: queries, paging, campaign tags, landing referrers."""

from __future__ import annotations

import numpy as np
import polars as pl

from accesslake.demo.loggen.arrays import I64, BoolA, pick
from accesslake.demo.loggen.catalog import Catalog
from accesslake.demo.loggen.tables import (
    LANDING_REFERRERS,
    Q_PAGE,
    Q_SEARCH,
    REFERRER_CDF,
    REFERRER_HAS_UTM,
    SITE,
    WORDS,
)
from accesslake.demo.loggen.visitors import BROWSER


def page_urls_and_referrers(
    rng: np.random.Generator, catalog: Catalog, page: I64, is_first: BoolA, kind: I64
) -> tuple[pl.Series, pl.Series]:
    """URL (path and query) and Referer of each page view.

    A browser's first page has a landing referrer (search engine, social site,
    campaign with ``utm_*`` parameters...); other first pages have ``-``; later
    pages have the previous page of the session as referrer.
    """
    n = len(page)
    qkind = catalog.qkind[page]
    u = rng.random((n, 4))  # [two search words, paged, landing referrer, unused]
    two_words = u[:, 0] < 0.5
    paged = (qkind == Q_PAGE) & (u[:, 1] < 0.25)
    page_no = 2 + np.minimum(rng.geometric(0.45, n) - 1, 18)
    landing = is_first & (kind == BROWSER)
    referrer = np.minimum(np.searchsorted(REFERRER_CDF, u[:, 2], side="right"), len(LANDING_REFERRERS) - 1)
    utm = landing & REFERRER_HAS_UTM[referrer] & catalog.html[page] & (catalog.status[page] == 200)
    n_words = len(WORDS)
    frame = pl.DataFrame(
        {
            "path": pick(catalog.path, page),
            "search": qkind == Q_SEARCH,
            "two": two_words,
            "w1": pick(catalog.words, rng.integers(0, n_words, n)),
            "w2": pick(catalog.words, rng.integers(0, n_words, n)),
            "paged": paged,
            "page": page_no,
            "utm": utm,
            "utm_q": pick(pl.Series([q for _, q, _ in LANDING_REFERRERS]), referrer),
            "landing": landing,
            "ext_ref": pick(pl.Series([r for r, _, _ in LANDING_REFERRERS]), referrer),
            "first": is_first,
        }
    )
    main = (
        pl.when(pl.col("search"))
        .then(
            pl.concat_str(
                [
                    pl.lit("q="),
                    pl.col("w1"),
                    pl.when(pl.col("two")).then(pl.lit("+") + pl.col("w2")).otherwise(pl.lit("")),
                ]
            )
        )
        .when(pl.col("paged"))
        .then(pl.lit("page=") + pl.col("page").cast(pl.String))
        .otherwise(pl.lit(""))
    )
    out = frame.with_columns(main=main).with_columns(
        query=pl.when(pl.col("utm"))
        .then(pl.when(pl.col("main") == "").then(pl.col("utm_q")).otherwise(pl.col("main") + "&" + pl.col("utm_q")))
        .otherwise(pl.col("main"))
    )
    out = out.with_columns(
        url=pl.when(pl.col("query") == "").then(pl.col("path")).otherwise(pl.col("path") + "?" + pl.col("query"))
    )
    out = out.with_columns(
        ref=pl.when(pl.col("landing"))
        .then(pl.col("ext_ref"))
        .when(pl.col("first"))
        .then(pl.lit("-"))
        .otherwise(pl.lit(SITE) + pl.col("url").shift(1, fill_value=""))
    )
    return out.get_column("url"), out.get_column("ref")
