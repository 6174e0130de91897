"""Background sessions and their page views: who comes when, which pages they see, which assets follow.

The draws here are made for more sessions than a slice needs; :mod:`.background`
keeps whole sessions until its quota of requests is reached. The order of the
draws is part of the output: changing it changes every generated log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from accesslake.demo.loggen.arrays import F64, I64, U64, BoolA, segment_starts
from accesslake.demo.loggen.catalog import C_CATEGORY, C_FIXED, C_PRODUCT, ROBOTS, SEARCH, Catalog
from accesslake.demo.loggen.tables import COMMON_ASSETS, FIXED_PAGES, HEAD
from accesslake.demo.loggen.timeline import US, Timeline
from accesslake.demo.loggen.visitors import BINGBOT, BROWSER, CURL, GOOGLEBOT, STAFF, visitor_kinds

# Profiles: how a page view picks its page (the columns of FixedPage.weights).
P_LANDING, P_BROWSE, P_CRAWL, P_CURL, P_STAFF = range(5)

# Page classes and their probability per profile (landing, browsing, crawler, curl, staff).
_CLASS_P = np.array(
    [
        [0.30, 0.10, 0.33, 0.25, 0.02, 0.00],
        [0.30, 0.17, 0.37, 0.10, 0.03, 0.03],
        [0.08, 0.05, 0.45, 0.32, 0.06, 0.04],
        [1.00, 0.00, 0.00, 0.00, 0.00, 0.00],
        [1.00, 0.00, 0.00, 0.00, 0.00, 0.00],
    ]
)
_CLASS_CDF = np.cumsum(_CLASS_P / _CLASS_P.sum(axis=1, keepdims=True), axis=1)
_CLASS_CDF[:, -1] = 1.0
_FIXED_WEIGHTS = np.array([page.weights for page in FIXED_PAGES], dtype=np.float64)  # (n_fixed, 5)
_FIXED_CDF = np.cumsum(_FIXED_WEIGHTS / _FIXED_WEIGHTS.sum(axis=0), axis=0).T.copy()  # (5, n_fixed)

# Asset slots: the common assets in order, then the page's own image.
SLOT_IMG: Final = len(COMMON_ASSETS)  # the page's own image
N_SLOTS: Final = SLOT_IMG + 1
SLOT_FONT: Final = 3
COMMON_BYTES = np.array([b for _, b in COMMON_ASSETS], dtype=np.int64)

# Probability of requesting each slot (css, js, logo, font, favicon, image) after an HTML page:
# the first page of a new visitor, the first page of a returning visitor, any later page.
_ASSETS_NEW = np.array([1.0, 1.0, 0.7, 0.25, 0.3, 0.85])
_ASSETS_RETURNING = np.array([0.5, 0.5, 0.0, 0.0, 0.05, 0.6])
_ASSETS_LATER = np.array([0.06, 0.04, 0.0, 0.0, 0.0, 0.9])


@dataclass
class Sessions:
    """Drawn sessions, in the order their ids are handed out."""

    start: I64  # time of the first request (us)
    is_new: BoolA  # a new visitor (else one returning with a new session)
    visitor: U64  # visitor id
    kind: I64  # visitor kind (BROWSER, GOOGLEBOT...)
    n_views: I64  # page views in the session


@dataclass
class PageViews:
    """The page views of all drawn sessions, session after session; arrays are parallel."""

    session: I64  # index of the page view's session
    first_of_session: I64  # index of each session's first page view (one entry per session)
    is_first: BoolA  # the first page view of its session
    kind: I64  # visitor kind
    profile: I64  # P_*
    page: I64  # catalogue index
    page_class: I64
    offset: I64  # think time since the session start (us)
    status: I64
    method: I64
    html: BoolA  # an HTML page shown by a browser, so assets may follow
    returning: BoolA  # in a session of a returning visitor
    assets: BoolA  # (n, N_SLOTS): the assets requested after the page
    n_requests: I64  # the page itself plus its assets


def draw_sessions(
    rng: np.random.Generator,
    timeline: Timeline,
    cells: tuple[int, int],
    count: int,
    salt: np.uint64,
    known_visitors: int,
) -> Sessions:
    """``count`` sessions starting in ``cells`` (a range of the timeline's cells), by traffic density."""
    first_cell, end_cell = cells
    cell_cdf = np.cumsum(timeline.cell_mass[first_cell:end_cell])
    cell_cdf /= cell_cdf[-1]
    last_offset = end_cell - first_cell - 1
    cell = first_cell + np.minimum(np.searchsorted(cell_cdf, rng.random(count), side="right"), last_offset)
    start = timeline.cell_start[cell] + (rng.random(count) * timeline.cell_width[cell]).astype(np.int64)
    is_new = rng.random(count) >= 0.08  # about 8% of sessions are returning visitors
    # as long as nobody has visited yet, there is no one to return: those sessions are new visitors
    is_new |= (known_visitors + np.cumsum(is_new)) == 0
    known = known_visitors + np.cumsum(is_new)  # visitor ids that exist so far
    earlier = np.floor(rng.random(count) * known).astype(np.int64)
    visitor = np.where(is_new, known - 1, earlier).astype(np.uint64)
    kind = visitor_kinds(salt, visitor)
    return Sessions(start=start, is_new=is_new, visitor=visitor, kind=kind, n_views=_draw_view_counts(rng, kind))


def _draw_view_counts(rng: np.random.Generator, kind: I64) -> I64:
    """Page views per session: geometric, capped, with a mean that depends on the visitor kind.

    Every distribution is drawn for every session; ``np.select`` keeps one.
    """
    n = len(kind)
    return np.select(
        [kind == GOOGLEBOT, kind == BINGBOT, kind == CURL, kind == STAFF],
        [
            np.minimum(rng.geometric(0.12, n), 50),
            np.minimum(rng.geometric(0.2, n), 30),
            np.minimum(rng.geometric(0.7, n), 3),
            np.minimum(rng.geometric(0.2, n), 20),
        ],
        np.minimum(rng.geometric(0.65, n), 25),
    ).astype(np.int64)


def draw_page_views(rng: np.random.Generator, catalog: Catalog, sessions: Sessions) -> PageViews:
    """Pages, think times, statuses and assets of every page view of ``sessions``."""
    n_sessions, n = len(sessions.n_views), int(sessions.n_views.sum())
    session = np.repeat(np.arange(n_sessions), sessions.n_views)
    first_of_session = segment_starts(sessions.n_views)
    is_first = np.zeros(n, dtype=np.bool_)
    is_first[first_of_session] = True
    kind = sessions.kind[session]
    profile = np.select(
        [kind == CURL, kind == STAFF, (kind == GOOGLEBOT) | (kind == BINGBOT), is_first],
        [P_CURL, P_STAFF, P_CRAWL, P_LANDING],
        P_BROWSE,
    )
    page = _draw_pages(rng, catalog, profile, is_first)
    page_class = catalog.cls[page]
    offset = _think_time_offsets(rng, profile, is_first, session, first_of_session)
    status, method = _statuses_and_methods(rng, catalog, page, page_class, profile, kind)
    browserish = (kind == BROWSER) | (kind == STAFF)
    html = catalog.html[page] & browserish & np.isin(status, (200, 404))
    returning = ~sessions.is_new[session]
    assets = _draw_assets(rng, catalog, page, is_first, returning, html)
    return PageViews(
        session=session,
        first_of_session=first_of_session,
        is_first=is_first,
        kind=kind,
        profile=profile,
        page=page,
        page_class=page_class,
        offset=offset,
        status=status,
        method=method,
        html=html,
        returning=returning,
        assets=assets,
        n_requests=1 + assets.sum(axis=1),
    )


def _draw_pages(rng: np.random.Generator, catalog: Catalog, profile: I64, is_first: BoolA) -> I64:
    """Catalogue index of each page view: a class by profile, then an item within the class."""
    n = len(profile)
    page_class = (rng.random(n)[:, None] > _CLASS_CDF[profile]).sum(axis=1)
    # u ** 2.6 favours the first items of a class (a few popular pages); crawlers spread evenly
    skew = np.where(profile == P_CRAWL, 1.0, 2.6)
    item = np.floor(catalog.sizes[page_class] * rng.random(n) ** skew).astype(np.int64)
    fixed_item = (rng.random(n)[:, None] > _FIXED_CDF[profile]).sum(axis=1)
    item = np.where(page_class == C_FIXED, np.minimum(fixed_item, len(FIXED_PAGES) - 1), item)
    page: I64 = catalog.offsets[page_class] + item
    robots = is_first & (profile == P_CRAWL) & (rng.random(n) < 0.5)
    page[robots] = ROBOTS
    return page


def _think_time_offsets(
    rng: np.random.Generator, profile: I64, is_first: BoolA, session: I64, first_of_session: I64
) -> I64:
    """Time from the session start to each page view (us): a sum of log-normal think times."""
    gap_median = np.select([profile == P_CRAWL, profile == P_CURL, profile == P_STAFF], [8.0, 20.0, 40.0], 25.0)
    gap = np.clip(rng.lognormal(0.0, 1.0, len(profile)) * gap_median, 1.0, 900.0)
    gap = (gap * US).astype(np.int64)
    gap[is_first] = 0
    elapsed = np.cumsum(gap)
    offsets: I64 = elapsed - elapsed[first_of_session][session]
    return offsets


def _statuses_and_methods(
    rng: np.random.Generator, catalog: Catalog, page: I64, page_class: I64, profile: I64, kind: I64
) -> tuple[I64, I64]:
    """The catalogue's status and method, with rare 500s, crawler revalidations (304) and curl HEADs."""
    n = len(page)
    status = catalog.status[page].copy()
    method = catalog.method[page].copy()
    dynamic = np.isin(page_class, (C_PRODUCT, C_CATEGORY)) | (page == SEARCH)
    status[dynamic & (status == 200) & (rng.random(n) < 0.002)] = 500
    crawler_304 = (profile == P_CRAWL) & (status == 200) & (rng.random(n) < 0.15)
    status[crawler_304] = 304
    method[(kind == CURL) & (rng.random(n) < 0.5)] = HEAD
    return status, method


def _draw_assets(
    rng: np.random.Generator, catalog: Catalog, page: I64, is_first: BoolA, returning: BoolA, html: BoolA
) -> BoolA:
    """Which asset slots each page view requests; only HTML pages shown by browsers have any."""
    has_img = catalog.img_bytes[page] > 0
    probs: F64 = (
        np.where(is_first[:, None], np.where(returning[:, None], _ASSETS_RETURNING, _ASSETS_NEW), _ASSETS_LATER)
        * html[:, None]
    )
    probs[:, SLOT_IMG] *= has_img
    return rng.random((len(page), N_SLOTS)) < probs
