"""Which days the nightly builds again (analytics.freshness): a day whose rows were only anonymised or held
since its marts were built keeps them; a day with new rows is built; an edge day with no request is not
built at all; the response-time percentiles are quantile_cont's, within bounded memory."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import polars as pl
import pytest
from test_marts import (
    BASE_ROWS,
    BUILT,
    CHROME,
    DAY,
    LATE_ROWS,
    SITE,
    anonymize_day,
    request,
    write_rows,
)

from accesslake.analytics import marts
from accesslake.config import Settings
from accesslake.policy import policy_from_mapping
from accesslake.sqlfiles import read_sql
from accesslake.storage.local import LocalStorage


@pytest.fixture
def utc_settings(lake: object) -> Settings:
    return Settings(lake=lake, policy=policy_from_mapping({"site": {"days": "utc"}}))


def test_a_day_only_anonymised_since_its_build_keeps_its_marts(utc_settings: Settings) -> None:
    settings = utc_settings
    write_rows(settings.lake, BASE_ROWS)
    marts.build_marts(settings, BUILT)
    before = {name: marts.read_mart(settings.lake, name) for name in marts.MART_NAMES}
    anonymize_day(settings.lake, datetime(2026, 11, 26, 3, 0, tzinfo=UTC))
    assert marts.days_touched(settings.lake, settings) == [(SITE, DAY)]  # the rewritten files are newer

    result = marts.build_one_day((SITE, DAY), settings, datetime(2026, 11, 26, 4, 0, tzinfo=UTC))
    assert (result.built, result.kept) == ([], [(SITE, DAY)])
    assert "the same requests as when built (rows anonymised or held since), kept" in result.lines()[1]
    for name in marts.MART_NAMES:  # not computed again: the first build's figures and built_at
        assert marts.read_mart(settings.lake, name).equals(before[name]), name
    assert marts.days_touched(settings.lake, settings) == []  # and not stale any more


def test_a_day_with_new_rows_is_built(utc_settings: Settings) -> None:
    settings = utc_settings
    write_rows(settings.lake, BASE_ROWS)
    marts.build_marts(settings, BUILT)
    anonymize_day(settings.lake, datetime(2026, 11, 26, 3, 0, tzinfo=UTC))
    write_rows(settings.lake, LATE_ROWS, name="part-late.parquet")
    result = marts.build_one_day((SITE, DAY), settings, datetime(2026, 11, 27, 3, 0, tzinfo=UTC))
    assert (result.built, result.kept) == ([(SITE, DAY)], [])
    assert marts.read_mart(settings.lake, "daily_traffic")["count_requests"].item() == len(BASE_ROWS) + len(LATE_ROWS)


def test_a_day_with_rows_removed_is_built(utc_settings: Settings) -> None:
    """A data subject's rows erased: the count differs, the figures are computed again."""
    settings = utc_settings
    write_rows(settings.lake, BASE_ROWS)
    marts.build_marts(settings, BUILT)
    (path,) = (settings.lake / "requests").rglob("*.parquet")
    pl.read_parquet(path).head(len(BASE_ROWS) - 1).write_parquet(path)
    result = marts.build_one_day((SITE, DAY), settings, datetime(2026, 11, 27, 3, 0, tzinfo=UTC))
    assert result.built == [(SITE, DAY)]
    assert marts.read_mart(settings.lake, "daily_traffic")["count_requests"].item() == len(BASE_ROWS) - 1


def test_the_footers_of_files_older_than_their_marts_are_not_read(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_rows(settings.lake, BASE_ROWS)
    marts.build_marts(settings, BUILT)
    opened: list[str] = []
    footer = LocalStorage.parquet_metadata
    monkeypatch.setattr(LocalStorage, "parquet_metadata", lambda self, path: opened.append(str(path)) or footer(
        self, path))
    assert marts.days_touched(settings.lake, settings) == []
    assert opened == []
    write_rows(settings.lake, [request(20, "15:00:00", "10.0.0.7", CHROME, "/", 200, 1, source="late")],
               name="part-late.parquet")
    assert marts.days_touched(settings.lake, settings) == [(SITE, DAY)]  # 15:00 UTC: the 20th in Berlin only
    assert [p.rsplit("/", 1)[-1] for p in opened] == ["part-late.parquet"]


@pytest.mark.parametrize("values", [[1.0], [1.0, 2.0], [5.0, 5.0, 7.5, 0.25], [0.523, 1.2408, 1.76786, 3.1, 9.0] * 7,
                                    [float(i) * 0.37 for i in range(1001)], [None, 2.5], [None]])
def test_percentiles_are_those_of_quantile_cont(values: list[float | None]) -> None:
    con = duckdb.connect()
    con.execute(read_sql("staging/percentiles"))
    con.execute("create table timed as select 'g' as percentile_group, unnest($v::double[]) as response_time_ms",
                {"v": values})
    (expected,) = con.execute("select quantile_cont(response_time_ms, 0.5), quantile_cont(response_time_ms, 0.95), "
                              "quantile_cont(response_time_ms, 0.99) from timed").fetchall()
    found = con.execute("select p50_response_ms, p95_response_ms, p99_response_ms "
                        "from response_percentiles('timed')").fetchall()
    if expected[0] is None:  # no time at all: no group (the marts join it with a left join: NULL)
        assert found == []
    else:  # to the last bit but for DuckDB's fused multiply-add (1 ulp)
        assert list(found[0]) == pytest.approx(list(expected), rel=1e-15, abs=0)
