"""Analytics: statistics marts per site and day, the IP-free analyst views, headline figures, the HTML report.

- :mod:`.marts`: the models of ``sql/marts/`` built per site and day, before anonymisation;
- :mod:`.views`: a DuckDB connection with the analyst views (``sql/views.sql``), and ``stats``;
- :mod:`.report`: one self-contained HTML file from the marts.
"""

from __future__ import annotations

from accesslake.analytics.marts import MART_NAMES, MartsResult, build_marts, days_touched, read_mart
from accesslake.analytics.report import ReportResult, write_report
from accesslake.analytics.stats import headline_stats
from accesslake.analytics.views import connect, run_sql

__all__ = ["MART_NAMES", "MartsResult", "ReportResult", "build_marts", "connect", "days_touched", "headline_stats",
           "read_mart", "run_sql", "write_report"]
