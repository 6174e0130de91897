"""The incident timeline (``incident_timeline(hold_id)`` in sql/forensics/views.sql, forensics.timeline).

Per client in an active hold's scope: its requests in time order (held rows and rows of
requests/ not yet moved), the gap to its previous request, status and bytes.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from retention_kit import Hit, ingest_hits, open_hold

from accesslake import holds
from accesslake import retention as anonymizer
from accesslake.cli import main as cli_main
from accesslake.config import Settings
from accesslake.errors import HoldError, NotFoundError
from accesslake.forensics.timeline import format_gap, incident_timeline
from accesslake.storage.auditlog import read_events

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # the first day of the incident
LATER = T0 + timedelta(days=4)  # its last day
NOW = T0 + timedelta(hours=121)  # the first day is past anonymize_after, the last is not
SUSPECT, OTHER = "198.51.100.1", "198.51.100.2"
WINDOW = (T0 - timedelta(hours=8), LATER + timedelta(hours=16))


def hits() -> list[Hit]:
    """The suspect's requests on two days (gaps 0, 2, 5, then 4 days, then 1 s), a neighbour's,
    and one of the suspect's outside the hold's window."""
    suspect = [Hit(T0, SUSPECT, "/login", status=200),
               Hit(T0 + timedelta(seconds=2), SUSPECT, "/login", status=401),
               Hit(T0 + timedelta(seconds=7), SUSPECT, "/login", status=401),
               Hit(LATER, SUSPECT, "/admin", status=403),
               Hit(LATER + timedelta(seconds=1), SUSPECT, "/admin/", status=200)]
    return [*suspect, Hit(T0 + timedelta(seconds=3), OTHER, "/"), Hit(LATER, OTHER, "/login"),
            Hit(T0 - timedelta(days=1), SUSPECT, "/before")]


@pytest.fixture
def incident(settings: Settings, tmp_path: Path) -> holds.Hold:
    """The log ingested as it came in; a hold on the suspect; the nightly run of NOW moved its first day."""
    ingest_hits(settings, tmp_path / "a.log", [h for h in hits() if h.ts < LATER], T0 + timedelta(hours=1))
    ingest_hits(settings, tmp_path / "b.log", [h for h in hits() if h.ts >= LATER], LATER + timedelta(hours=1))
    hold = open_hold(settings.lake, LATER, ips=(SUSPECT,), start=WINDOW[0], end=WINDOW[1])
    result = anonymizer.run_retention(settings, NOW)
    assert result.rows_held == 3  # the first day's three requests are in held/ now, the last day's are not
    return hold


@pytest.mark.both_storages
def test_timeline_lists_the_hold_s_requests_per_client_in_time_order(
    settings: Settings, incident: holds.Hold
) -> None:
    timeline = incident_timeline(settings.lake, incident.id, NOW)

    rows = timeline.rows.to_dicts()
    assert [(r["client_ip"], r["request_number"], r["path"], r["status"], r["gap_seconds"], r["source"])
            for r in rows] == [
        (SUSPECT, 1, "/login", 200, None, "held"),
        (SUSPECT, 2, "/login", 401, 2.0, "held"),
        (SUSPECT, 3, "/login", 401, 5.0, "held"),
        (SUSPECT, 4, "/admin", 403, (LATER - T0 - timedelta(seconds=7)).total_seconds(), "requests"),
        (SUSPECT, 5, "/admin/", 200, 1.0, "requests"),
    ]
    assert {r["bytes"] for r in rows} == {512}
    assert {(r["hold_id"], r["case_reference"]) for r in rows} == {(incident.id, "CASE-1")}
    text = "\n".join(timeline.lines())
    assert f"client {SUSPECT}: 5 requests" in text and "+3d23h" in text and OTHER not in text
    (event,) = read_events(settings.lake, "incident.timeline")
    assert (event["hold_id"], event["clients"], event["rows"]) == (incident.id, 1, 5)
    assert SUSPECT not in str(event)


def test_a_path_scope_takes_every_client_that_matched_it(settings: Settings, tmp_path: Path) -> None:
    ingest_hits(settings, tmp_path / "a.log", hits(), LATER + timedelta(hours=1))
    hold = open_hold(settings.lake, LATER + timedelta(hours=1), paths=("/login*",), start=WINDOW[0], end=WINDOW[1])

    rows = incident_timeline(settings.lake, hold.id, LATER + timedelta(hours=2)).rows

    assert rows.select("client_ip", "path", "gap_seconds").rows() == [
        (SUSPECT, "/login", None), (SUSPECT, "/login", 2.0), (SUSPECT, "/login", 5.0), (OTHER, "/login", None)]


def test_an_unknown_or_released_hold_has_no_timeline(settings: Settings, incident: holds.Hold) -> None:
    with pytest.raises(NotFoundError, match="unknown incident hold 'INC-20990101-0000'"):
        incident_timeline(settings.lake, "INC-20990101-0000", NOW)
    holds.release_hold(settings.lake, incident.id, by="dpo@example.org", now=NOW)
    with pytest.raises(HoldError, match=f"hold {incident.id} is not active"):
        incident_timeline(settings.lake, incident.id, NOW + timedelta(minutes=1))


@pytest.mark.parametrize(("seconds", "text"), [(None, "-"), (0, "+0s"), (2.5, "+2.5s"), (59, "+59s"),
                                               (125, "+2m05s"), (3720, "+1h02m"), (3 * 86400 + 4 * 3600, "+3d04h")])
def test_gaps_read_at_a_glance(seconds: float | None, text: str) -> None:
    assert format_gap(seconds) == text


def test_the_command_prints_the_table_or_json(
    settings: Settings, incident: holds.Hold, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--lake", str(settings.lake), "--now", NOW.isoformat()]
    assert cli_main([*base, "incident", "timeline", incident.id]) == 0
    out = capsys.readouterr().out
    assert f"client {SUSPECT}: 5 requests" in out
    assert re.search(r"^ +2  2026-11-20 08:00:02 +\+2s +401 +512  GET /login", out, re.M), out
    assert cli_main([*base, "--json", "incident", "timeline", incident.id]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["hold_id"], data["clients"], len(data["requests"])) == (incident.id, 1, 5)
    assert cli_main([*base, "incident", "timeline", "INC-20990101-0000"]) == 2
    assert "unknown incident hold" in capsys.readouterr().err
