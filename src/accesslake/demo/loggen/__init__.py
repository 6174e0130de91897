"""Synthetic web access logs for ``accesslake demo``, the tests and the benchmark.

:func:`generate_log` writes an Apache access log in :data:`DEMO_FORMAT` (the
``combined`` format plus ``%D``, the time to serve in microseconds, and the
``sid`` session cookie) for a fictitious shop with a blog at
``https://www.example.com``. No network and no external data are used; the
output is a pure function of the arguments (same ``seed`` and ``now``, same
bytes, gzip included).

What is in it
-------------
* **Background traffic** with a daily rhythm in the log's own offset (quiet
  nights, busy evenings, slightly fewer visits at weekends). Visitors come in
  sessions: the same IP, User-Agent and ``sid`` cookie (about 12% of browsers
  send no cookie, ``-``) make a few page views separated by think times of
  seconds to minutes, each page followed by its static assets (CSS, JS, logo,
  web font, favicon, product and blog images); returning visitors revalidate
  cached assets (``304``, size ``-``). About 8% of sessions are returning
  visitors (same IP and User-Agent as an earlier session, new ``sid``); the
  number of distinct client addresses is roughly ``lines / 6`` (about
  165,000 for a million lines).
* Pages from a catalogue that grows with ``lines`` (home, static pages,
  categories, products ``/products/<category>/<slug>-<id>``, blog posts
  ``/blog/<yyyy>/<mm>/<slug>/``, tags, search with ``?q=``, listings with
  ``?page=N``, landing pages with ``utm_*`` campaign parameters), some
  redirects (301/302), some dead links (404 reached from an internal referrer),
  a few 500s, ``POST /login``, ``POST /cart/add``.
* Referrers: ``-``, search engines (``https://www.google.com/``, ``.de``,
  Bing, DuckDuckGo, Ecosia), external sites, an Android app referrer and
  internal ``https://www.example.com/...`` referrers.
* User-Agents: current Chrome, Firefox, Safari, Edge and Samsung Internet on
  Windows, macOS, Linux, Android and iOS; Googlebot (desktop and smartphone,
  from 66.249.64.0/20), bingbot, ``curl`` (often ``HEAD``). About 4% of
  browser visitors use IPv6. A few staff members browse ``/admin/`` with HTTP
  basic auth, so ``%u`` is sometimes set.
* A few lines that are valid for the format but odd: a ``408`` with request
  ``-``, a TLS handshake sent to the plain HTTP port (request logged as
  ``\\x16\\x03\\x01...``) and a User-Agent containing an escaped quote ``\\"``.
* **Planted actors** (see :class:`Planted`), all relative to ``now``: a
  vulnerability scanner (``now - 20 h``, up to 74 probes in under 10 minutes,
  mostly 404), a password brute-forcer (``now - 16 h``, up to 400
  ``POST /login`` in under 15 minutes, 401 then 200), a request flood
  (``now - 12 h``, up to 3,000 GETs in under two minutes, 503s once the site
  struggles) and an injection attempt (``now - 8 h``, a few requests with
  ``' OR 1=1--``, ``../../etc/passwd`` and ``<script>`` percent-encoded in
  the query string) plus three planted IPv6 visitors. Attackers use the
  TEST-NET ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) and the
  planted IPv6 visitors 2001:db8::/32, which the background never uses.
* Exactly five malformed lines (``GeneratedLog.malformed``): an empty line, a
  truncated line, an Apache error-log line, a line with an ISO timestamp and
  two lines glued together. The file always ends with a newline.

Lines are written in the order a server writes them, by completion time
(request time + ``%D``), so a small fraction is slightly out of order; slow
responses are the usual cause. ``%t`` has one-second resolution and every
timestamp lies in ``[now - days, now]``.

Speed: everything is vectorised (NumPy draws, Polars string building) and
written in chunks of 250,000 lines (each chunk one slice of the time window),
so memory stays flat at about 0.6 GB; about 3 s per million lines (plain) or
5 s (gzip, level 1) on two cores. ``python -m accesslake.demo.loggen OUT [LINES]``
writes a log ending now.

Layout
------
* :mod:`.generate`: :func:`generate_log` and :class:`GeneratedLog`;
* :mod:`.tables`: the data drawn from (words, networks, User-Agents, referrers,
  fixed pages, attack payloads);
* :mod:`.catalog`: the site's pages; :mod:`.timeline`: the window and its
  daily rhythm;
* :mod:`.visitors`, :mod:`.sessions`, :mod:`.urls`, :mod:`.background`: the
  background traffic, one time slice at a time;
* :mod:`.planted`: planted actors, odd and malformed lines (:class:`Planted`);
* :mod:`.render`: rows to lines (:data:`DEMO_FORMAT`);
* :mod:`.hashing`, :mod:`.arrays`: deterministic hashing and array helpers.
"""

from __future__ import annotations

from accesslake.demo.loggen.generate import GeneratedLog, generate_log
from accesslake.demo.loggen.planted import Planted
from accesslake.demo.loggen.render import DEMO_COOKIE, DEMO_FORMAT

__all__ = ["DEMO_COOKIE", "DEMO_FORMAT", "GeneratedLog", "Planted", "generate_log"]
