"""Random sequences of ingest / open hold / release / nightly run / missed nights keep P1-P4, H2 and H4.

A Hypothesis state machine keeps its own model of the holds and of every line
it wrote, and after each step compares the lake with that model, without the
package's SQL or policy code:

* after ``anonymize`` at ``now``: no personal data past the deadline outside
  an active hold (P1, also by the audit), and the run did exactly what the
  rules say to each row that was there before (H2, H4, A1-A3, P2);
* after ``ingest``: lines already past ``anonymize_after`` were anonymised or
  held before they were written (P3);
* always: main + held rows = parsed lines ingested, each row once (P4).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from retention_kit import (
    ORIGIN,
    PERSONAL,
    Hit,
    held_rows,
    ingest_hits,
    ip_like,
    leftovers,
    main_rows,
    open_hold,
    reject_rows,
)

from accesslake import holds
from accesslake import retention as anonymizer
from accesslake import storage as lakefs
from accesslake.audit import run_audit
from accesslake.config import Settings
from accesslake.storage import Layout

START = datetime(2026, 11, 1, tzinfo=UTC)
AFTER = timedelta(hours=120)
SUSPECTS = ("203.0.113.1", "203.0.113.2", "2001:db8::7")
TRAFFIC = (*SUSPECTS, "::ffff:203.0.113.2", "198.51.100.4", "198.51.100.5", "2001:db8:1::9", "crawler.example.org")


# Every write is fsynced; on a RAM disk the ~300 steps take a third of the time (durability: test_faults).
FAST_TMP = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
AGES = st.lists(st.integers(0, 36), min_size=1, max_size=8)  # hours, added to a base age per file
IPS = st.lists(st.sampled_from(TRAFFIC), min_size=1, max_size=8)


def normal(ip: str | None) -> str | None:
    try:
        parsed = ipaddress.ip_address(ip or "")
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return str(parsed)


@dataclass
class ModelHold:
    id: str
    ip: str
    start: datetime
    end: datetime
    review_at: datetime
    released: bool = False

    def active(self, now: datetime) -> bool:
        return not self.released and now < self.review_at

    def covers(self, row: dict[str, object]) -> bool:
        ts = row["ts"]
        in_window = isinstance(ts, datetime) and self.start <= ts < self.end
        return in_window and normal(row["client_ip"]) == self.ip  # type: ignore[arg-type]


def rows_by_id(frame: pl.DataFrame) -> dict[str, dict[str, object]]:
    return {r["row_id"]: r for r in frame.drop("_file").iter_rows(named=True)}  # type: ignore[misc]


def same_except_personal(before: dict[str, object], after: dict[str, object]) -> bool:
    skip = {*PERSONAL, "query", "referrer", "user_agent", "anonymized_at", "incident"}
    return all(before[k] == after[k] for k in before if k not in skip)


class LakeMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="accesslake-stateful-", dir=FAST_TMP))
        self.lake = self.root / "lake"
        self.lake.mkdir()
        self.settings = Settings(lake=self.lake)
        self.now = START
        self.holds: list[ModelHold] = []
        self.parsed = 0
        self.rejected = 0
        self.files = 0

    def teardown(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def active(self) -> list[ModelHold]:
        return [h for h in self.holds if h.active(self.now)]

    def covering(self, row: dict[str, object]) -> list[str]:
        return [h.id for h in self.active() if h.covers(row)]

    # ------------------------------------------------------------ steps

    @initialize(base=st.integers(0, 100), ages=AGES, ips=IPS, junk=st.booleans())
    def first_ingest(self, base: int, ages: list[int], ips: list[str], junk: bool) -> None:
        """Every example starts with fresh traffic and, if an address is in it, a hold on that address."""
        self.ingest(base, ages, ips, junk, investigate=True)

    @rule(base=st.integers(0, 250), ages=AGES, ips=IPS, junk=st.booleans(), investigate=st.booleans())
    def ingest(self, base: int, ages: list[int], ips: list[str], junk: bool, investigate: bool) -> None:
        """Ingest a small file of requests ``base + age`` hours old; with ``investigate``, then open a
        hold on its first address still personal."""
        self.files += 1
        hits = [
            Hit(self.now - timedelta(hours=base + age, minutes=i), ip=ips[i % len(ips)],
                session=f"s{self.files}-{i}", path=f"/p/{i}")
            for i, age in enumerate(ages)
        ]
        name = f"f{self.files}.log"
        lines = ["10.0.0.9 not a request"] if junk else []
        result = ingest_hits(self.settings, self.root / name, hits, self.now, junk=lines)
        assert result.rows + result.held + result.rejects == result.lines_read == len(hits) + len(lines)
        assert result.rejects == len(lines)
        self.parsed += result.rows + result.held
        self.rejected += result.rejects
        # P3: what was already due is anonymised (or held intact) in the very first write
        source = str(self.root / name)
        main = main_rows(self.lake).filter(pl.col("source_file") == source)
        held = held_rows(self.lake).filter(pl.col("source_file") == source)
        for row in main.iter_rows(named=True):
            hit = hits[row["source_line"] - 1]
            due = hit.ts + AFTER <= self.now
            assert not (due and self.covering(row | {"client_ip": hit.ip})), row
            if due:
                assert row["client_ip"] is None and row["anonymized_at"] == self.now, row
            else:
                assert row["client_ip"] == hit.ip and row["anonymized_at"] is None, row
        for row in held.iter_rows(named=True):
            hit = hits[row["source_line"] - 1]
            assert hit.ts + AFTER <= self.now and row["incident"] in self.covering(row)
            assert (row["client_ip"], row["session_id"], row["query"]) == (hit.ip, hit.session, hit.query)
        suspects = [h for h in hits if normal(h.ip) and h.ts + AFTER > self.now]
        if investigate and suspects:
            start = min(h.ts for h in hits if h.ip == suspects[0].ip) - timedelta(minutes=1)
            hold = open_hold(self.lake, self.now, ips=(suspects[0].ip,), start=start,
                             end=start + timedelta(days=31), review_days=30)
            self.holds.append(ModelHold(hold.id, normal(suspects[0].ip) or "", hold.scope.start, hold.scope.end,
                                        hold.review_at))

    @rule(ip=st.sampled_from(SUSPECTS), back=st.integers(0, 400), span=st.integers(1, 744),
          review=st.integers(1, 30))
    def open_hold(self, ip: str, back: int, span: int, review: int) -> None:
        """A hold on an address that may or may not be in the logs; three windows in four reach now."""
        start = self.now - timedelta(hours=back)
        end = start + timedelta(hours=max(span, back + 1) if span % 4 else span)  # at most 744 h = 31 days
        hold = open_hold(self.lake, self.now, ips=(ip,), start=start, end=end, review_days=review)
        self.holds.append(ModelHold(hold.id, ip, hold.scope.start, hold.scope.end, hold.review_at))

    @precondition(lambda self: bool(self.active()))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        hold = data.draw(st.sampled_from(self.active()))
        holds.release_hold(self.lake, hold.id, by="dpo@example.org", now=self.now)
        hold.released = True

    @rule(hours=st.integers(0, 24))
    def nightly(self, hours: int) -> None:
        """The next nightly run (or a second run at the same time)."""
        self.now += timedelta(hours=hours)
        self.anonymize()

    @rule(hours=st.integers(25, 200))
    def catch_up(self, hours: int) -> None:
        """Nightly runs were missed: one run must clear the whole backlog (P2)."""
        self.now += timedelta(hours=hours)
        self.anonymize()

    def anonymize(self) -> None:
        """Run the backlog rewrite at ``now`` and check what it did to every row."""
        now = self.now
        before_main = rows_by_id(main_rows(self.lake))
        before_held = rows_by_id(held_rows(self.lake))
        anonymizer.run_retention(self.settings, now)
        after_main = rows_by_id(main_rows(self.lake))
        after_held = rows_by_id(held_rows(self.lake))
        active = {h.id for h in self.active()}

        def due(row: dict[str, object]) -> bool:
            times = [t for t in (row["ts"], row["received_at"]) if isinstance(t, datetime)]
            return min(times) + AFTER <= now

        def anonymised_now(row_id: str, before: dict[str, object]) -> None:
            after = after_main[row_id]
            assert same_except_personal(before, after)
            assert all(after[c] is None for c in (*PERSONAL, "query", "user_agent")), after
            assert after["referrer"] is None or ORIGIN.match(str(after["referrer"]))
            assert after["anonymized_at"] == (before["anonymized_at"] or now)

        for row_id, row in before_main.items():
            if row["anonymized_at"] is not None or not due(row):
                assert after_main[row_id] == row  # nothing to do yet
            elif self.covering(row):  # H2: moved intact
                assert after_held[row_id] == row | {"incident": after_held[row_id]["incident"]}
                assert after_held[row_id]["incident"] in self.covering(row)
            else:
                anonymised_now(row_id, row)
        for row_id, row in before_held.items():
            if row["incident"] in active:
                assert after_held[row_id] == row  # still exempt
            elif self.covering(row):  # released, but another active hold covers it
                assert after_held[row_id]["incident"] in self.covering(row)
                assert {**after_held[row_id], "incident": None} == {**row, "incident": None}
            else:  # H4: returned anonymised
                assert row_id not in after_held
                anonymised_now(row_id, row)
        assert set(after_main) | set(after_held) == set(before_main) | set(before_held)
        event(f"anonymize: rows held {'yes' if set(after_held) - set(before_held) else 'no'}, "
              f"returned {'yes' if set(before_held) - set(after_held) else 'no'}")

        # P1, by the audit and by an independent reading of every file
        report = run_audit(self.settings, now, record=False)
        assert report.ok, report.lines()
        for row in [*after_main.values(), *after_held.values()]:  # P1 (and P2: already at 120 h), independently
            if row.get("incident") in active or not due(row):
                continue
            assert all(row[c] is None for c in (*PERSONAL, "query", "user_agent")), row
        for row in reject_rows(self.lake).iter_rows(named=True):
            if row["received_at"] + AFTER <= now:
                assert row["scrubbed_at"] is not None and not ip_like(row["line"]), row
        assert not leftovers(self.lake)

    # ------------------------------------------------------------ always

    @invariant()
    def nothing_lost_nothing_doubled(self) -> None:
        """P4: main + held = parsed lines ingested, each row once; rejects = rejected lines."""
        files = lakefs.list_files(Layout(self.lake).requests) + lakefs.list_files(Layout(self.lake).held)
        ids = pl.concat([pl.read_parquet(f, columns=["row_id"])["row_id"] for f in files]) if files else pl.Series([])
        assert ids.len() == self.parsed and ids.n_unique() == self.parsed
        rejects = lakefs.list_files(Layout(self.lake).rejects)
        assert sum(pq.ParquetFile(f).metadata.num_rows for f in rejects) == self.rejected
        incidents = {p.incident for p in lakefs.list_partitions(Layout(self.lake).held)}
        assert incidents <= {h.id for h in self.holds}


LakeMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=12, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestLakeMachine = LakeMachine.TestCase
