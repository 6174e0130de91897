"""Background traffic, one time slice at a time: sessions cut to a quota and expanded to requests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from accesslake.demo.loggen.arrays import F64, I64, U64, BoolA, pick, segment_starts
from accesslake.demo.loggen.catalog import ERROR_PAGE_BYTES, FIXED_ADMIN, SEARCH, Catalog
from accesslake.demo.loggen.sessions import (
    COMMON_BYTES,
    SLOT_FONT,
    SLOT_IMG,
    PageViews,
    Sessions,
    draw_page_views,
    draw_sessions,
)
from accesslake.demo.loggen.tables import (
    COMMON_ASSETS,
    FIXED_PAGES,
    GET,
    HEAD,
    METHODS,
    POST,
    PROTOCOLS,
    SITE,
    USER_AGENTS,
)
from accesslake.demo.loggen.timeline import Timeline
from accesslake.demo.loggen.urls import page_urls_and_referrers
from accesslake.demo.loggen.visitors import (
    STAFF_USERS,
    client_ips,
    session_cookies,
    staff_user_index,
    user_agent_index,
    uses_http2,
)

REDIRECT_BYTES = 239
SERVER_ERROR_BYTES = 531
# median time to serve (us) of a 200 page per class
_CLASS_MEDIAN_US = np.array([28_000, 45_000, 52_000, 33_000, 30_000, 9_000], dtype=np.float64)


@dataclass
class State:
    """What the slices of one log share: the site, the time window and the ids handed out so far."""

    catalog: Catalog
    timeline: Timeline
    salt: np.uint64
    visitors: int = 0  # visitor ids handed out so far
    sessions: int = 0  # session ids handed out so far


@dataclass
class _Requests:
    """The requests of the kept page views (each page, then its assets), cut to the quota."""

    view: I64  # index of the page view
    position: I64  # 0 for the page, then 1, 2... for its assets
    slot: I64  # asset slot, -1 for the page itself
    session: I64
    is_page: BoolA
    is_img: BoolA
    returning: BoolA  # in a session of a returning visitor
    first_view: BoolA  # belongs to the first page view of its session


def background(state: State, rng: np.random.Generator, cells: tuple[int, int], quota: int) -> pl.DataFrame:
    """Exactly ``quota`` rows of ordinary traffic whose sessions start in ``cells``."""
    sessions, views, requests_per_session = _draw_enough(state, rng, cells, quota)

    # ---- keep whole sessions until the quota is reached --------------------------------
    n_sessions = int(np.searchsorted(np.cumsum(requests_per_session), quota, side="left")) + 1
    n_views = int(views.first_of_session[n_sessions]) if n_sessions < len(sessions.n_views) else len(views.page)
    state.visitors += int(sessions.is_new[:n_sessions].sum())
    session_ids = np.arange(state.sessions, state.sessions + n_sessions, dtype=np.uint64)
    state.sessions += n_sessions

    requests = _expand_requests(views, n_views, quota)
    u = rng.random((quota, 3))  # [image status, slow download, asset pace]
    status = _request_status(views, requests, u[:, 0])
    size = _request_bytes(rng, state.catalog, views, requests, status)
    page_serve_us, serve_us = _serve_times(rng, state.catalog, views, requests, status, u, n_views)
    ts = _request_times(state.timeline, sessions, views, requests, page_serve_us, u[:, 2], n_sessions)
    text = _text_columns(state, rng, sessions, views, requests, n_sessions, n_views, session_ids)
    rows = pl.DataFrame(
        {
            **text,
            "ts": ts,
            "status": status.astype(np.int64),
            "bytes": size.astype(np.int64),
            "dur": serve_us.astype(np.int64),
        }
    )
    return rows.select(
        "ip",
        "user",
        "ts",
        pl.concat_str([pl.col("m"), pl.col("url"), pl.col("proto")], separator=" ").alias("req"),
        "status",
        "bytes",
        "ref",
        "ua",
        "dur",
        "sid",
    )


def _draw_enough(
    state: State, rng: np.random.Generator, cells: tuple[int, int], quota: int
) -> tuple[Sessions, PageViews, I64]:
    """Draw sessions until they hold at least ``quota`` requests, with the requests per session.

    The first guess assumes about 4.4 requests per session plus 15%; when it falls
    short, everything is drawn again with 30% more sessions.
    """
    count = int(quota / 4.4 * 1.15) + 32
    while True:
        sessions = draw_sessions(rng, state.timeline, cells, count, state.salt, state.visitors)
        views = draw_page_views(rng, state.catalog, sessions)
        per_session = np.bincount(views.session, weights=views.n_requests, minlength=count).astype(np.int64)
        if int(per_session.sum()) >= quota:
            return sessions, views, per_session
        count = int(count * 1.3) + 32


def _expand_requests(views: PageViews, n_views: int, quota: int) -> _Requests:
    """One request per kept page view and per asset it loads, the first ``quota`` of them."""
    per_view = views.n_requests[:n_views]
    n_all = int(per_view.sum())
    view = np.repeat(np.arange(n_views), per_view)
    position = np.arange(n_all) - segment_starts(per_view)[view]
    slot = np.full(n_all, -1, dtype=np.int64)
    slot[position > 0] = np.nonzero(views.assets[:n_views])[1]
    view, position, slot = view[:quota], position[:quota], slot[:quota]
    return _Requests(
        view=view,
        position=position,
        slot=slot,
        session=views.session[view],
        is_page=slot < 0,
        is_img=slot == SLOT_IMG,
        returning=views.returning[view],
        first_view=views.is_first[view],
    )


def _request_status(views: PageViews, req: _Requests, u_img: F64) -> I64:
    """The page's status; common assets are revalidated (304) by returning visitors and on later pages."""
    asset_status = np.where(req.returning | ~req.first_view, 304, 200)
    img_status = np.where(req.returning & (u_img < 0.5), 304, np.where(u_img > 0.996, 404, 200))
    return np.where(req.is_page, views.status[req.view], np.where(req.is_img, img_status, asset_status))


def _request_bytes(rng: np.random.Generator, catalog: Catalog, views: PageViews, req: _Requests, status: I64) -> I64:
    """Response size; 0 (logged as ``-``) for HEAD, 304 and redirects without a body."""
    n_views = len(views.page)
    page_bytes = np.select(
        [views.status == 200, views.status == 404, views.status == 301, views.status == 500],
        [
            catalog.bytes[views.page] + rng.integers(0, 400, n_views),
            np.full(n_views, ERROR_PAGE_BYTES),
            np.full(n_views, REDIRECT_BYTES),
            np.full(n_views, SERVER_ERROR_BYTES),
        ],
        0,
    )
    page_bytes[views.method == HEAD] = 0
    common = COMMON_BYTES[np.clip(req.slot, 0, SLOT_IMG - 1)]
    asset_bytes = np.where(req.is_img, catalog.img_bytes[views.page[req.view]], common)
    return np.where(
        req.is_page,
        page_bytes[req.view],
        np.select([status == 200, status == 404], [asset_bytes, np.full(len(status), ERROR_PAGE_BYTES)], 0),
    )


def _serve_times(
    rng: np.random.Generator, catalog: Catalog, views: PageViews, req: _Requests, status: I64, u: F64, n_views: int
) -> tuple[I64, I64]:
    """Time to serve (us, log-normal around a median) of each kept page view and of each request."""
    page_median = np.select(
        [
            views.status == 304,
            views.status == 500,
            views.method == POST,
            np.isin(views.status, (301, 302)),
            views.page == SEARCH,
            ~catalog.html[views.page],
        ],
        [9_000.0, 1_800_000.0, 85_000.0, 450.0, 140_000.0, 900.0],
        _CLASS_MEDIAN_US[views.page_class],
    )
    page_serve = (page_median * rng.lognormal(0.0, 0.55, len(views.page))).astype(np.int64)[:n_views] + 80
    asset_median = np.select([status == 304, status == 404, req.is_img], [260.0, 3_000.0, 1_600.0], 750.0)
    slow = (status == 200) & ~req.is_page & (u[:, 1] < 0.02)  # big download on a slow phone
    asset_serve = (
        asset_median * np.exp(0.5 * rng.standard_normal(len(status))) * np.where(slow, 20 + 180 * u[:, 2], 1.0)
    )
    return page_serve, np.where(req.is_page, page_serve[req.view], asset_serve.astype(np.int64) + 60)


def _request_times(
    timeline: Timeline,
    sessions: Sessions,
    views: PageViews,
    req: _Requests,
    page_serve_us: I64,
    u_pace: F64,
    n_sessions: int,
) -> I64:
    """Request time (us): session start + think times; assets follow the page's HTML."""
    asset_delay = np.where(
        req.is_page, 0, page_serve_us[req.view] + req.position * (4_000 + (u_pace * 90_000).astype(np.int64))
    )
    ts = sessions.start[req.session] + views.offset[req.view] + asset_delay
    session_first = segment_starts(np.bincount(req.session, minlength=n_sessions))
    session_last_ts = np.maximum.reduceat(ts, session_first)
    shift = np.maximum(session_last_ts - timeline.last_us, 0)  # sessions running past `now` start earlier
    shifted: I64 = ts - shift[req.session]
    return shifted


def _text_columns(
    state: State,
    rng: np.random.Generator,
    sessions: Sessions,
    views: PageViews,
    req: _Requests,
    n_sessions: int,
    n_views: int,
    session_ids: U64,
) -> dict[str, pl.Series]:
    """Address, user, method, URL, protocol, Referer, User-Agent and cookie of each request."""
    salt, catalog = state.salt, state.catalog
    visitor, kind = sessions.visitor[:n_sessions], sessions.kind[:n_sessions]
    ips = client_ips(salt, visitor, kind)
    ua_index = user_agent_index(salt, visitor, kind)
    sid = session_cookies(salt, visitor, kind, session_ids)
    http2 = uses_http2(salt, visitor, kind)
    staff_user = staff_user_index(salt, visitor, kind)

    page = views.page[:n_views]
    page_url, page_ref = page_urls_and_referrers(rng, catalog, page, views.is_first[:n_views], views.kind[:n_views])
    # URLs: each page's, then the common assets, then each page's image
    n_common = len(COMMON_ASSETS)
    url_table = pl.concat(
        [page_url, pl.Series([p for p, _ in COMMON_ASSETS], dtype=pl.String), pick(catalog.img, page)]
    )
    url_idx = np.where(req.is_page, req.view, np.where(req.is_img, n_views + n_common + req.view, n_views + req.slot))
    # Referers: each page's own, then each page's URL (for its assets), then the stylesheet (for the web font)
    ref_table = pl.concat([page_ref, SITE + page_url, pl.Series([SITE + COMMON_ASSETS[0][0]])])
    ref_idx = np.where(req.is_page, req.view, np.where(req.slot == SLOT_FONT, 2 * n_views, n_views + req.view))
    method_idx = np.where(req.is_page, views.method[:n_views][req.view], GET)
    # %u is set only on the /admin/ pages, where staff log in with basic auth
    req_page = views.page[req.view]
    admin_page = req.is_page & (req_page < len(FIXED_PAGES)) & FIXED_ADMIN[np.minimum(req_page, len(FIXED_PAGES) - 1)]
    user_idx = np.where(admin_page, staff_user[req.session], 0)
    return {
        "ip": pick(ips, req.session),
        "user": pick(STAFF_USERS, user_idx),
        "m": pick(METHODS, method_idx),
        "url": pick(url_table, url_idx),
        "proto": pick(PROTOCOLS, http2[req.session].astype(np.int64)),
        "ref": pick(ref_table, ref_idx),
        "ua": pick(USER_AGENTS, ua_index[req.session]),
        "sid": pick(sid, req.session),
    }
