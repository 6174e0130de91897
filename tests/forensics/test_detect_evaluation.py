"""The form_abuse and credential_probe families on the real logs, against the judged clients.

``tests/data/forensics-labels.json`` holds, per real log, the clients judged abusive or benign for
each family by reading their lines (with the reason). Each log is ingested at one hour after its
last line with ``anonymize_after`` raised to 168 h, so every line of the six-day logs keeps its IP;
detection runs with the default thresholds. The precision and recall computed here must be the
ones documented in ``docs/forensics.md`` ("Evaluation on the real logs"), and no declared crawler
may be flagged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from conftest import REPO, real_log

from accesslake.config import Settings
from accesslake.forensics import candidates
from accesslake.ingest import ingest_file
from accesslake.policy import policy_from_mapping
from accesslake.storage import Layout

LABELS: dict[str, dict[str, dict[str, object]]] = json.loads(
    (REPO / "tests" / "data" / "forensics-labels.json").read_text(encoding="utf-8"))["labels"]
DOC = (REPO / "docs" / "forensics.md").read_text(encoding="utf-8")
FAMILIES = ("form_abuse", "credential_probe")
#: one hour or more after each log's last line (UTC)
LOGS = {
    "basjes_hackers_combined_ipv6.log": datetime(2015, 10, 30, 16, tzinfo=UTC),
    "basjes_small_malformed.log.gz": datetime(2013, 4, 7, 16, tzinfo=UTC),
    "elastic_apache_combined.log": datetime(2015, 5, 20, 22, tzinfo=UTC),
    "nasa_aug95_common.log": datetime(1995, 8, 1, 16, tzinfo=UTC),
    "secrepo_2018-12-15_combined.log": datetime(2018, 12, 16, 12, tzinfo=UTC),
    "secrepo_2021_combined.log": datetime(2021, 10, 27, 12, tzinfo=UTC),
    "secrepo_2022-12-22_combined.log": datetime(2022, 12, 23, 12, tzinfo=UTC),
    "zanbil_nginx_combined_xff.log": datetime(2019, 1, 22, 2, tzinfo=UTC),
}
CRAWLERS = re.compile(r"(?i)googlebot|bingbot|yandex(bot|images)|baiduspider|duckduckbot|applebot|seznambot|slurp"
                      r"|mj12bot|ahrefsbot|semrushbot|dotbot|petalbot|qwantify|facebookexternalhit")


class Detected:
    """One real log after ingest and detection: its candidates and its requests."""

    def __init__(self, lake: Path, name: str) -> None:
        now = LOGS[name]
        policy = policy_from_mapping({"retention": {"max_age_hours": 168, "anonymize_after_hours": 168}})
        settings = Settings(lake=lake, policy=policy)
        ingest_file(real_log(name), settings, now, site="real")
        candidates.detect(settings, now)
        self.candidates = candidates.read_candidates(lake)
        self.requests = pl.read_parquet(Layout(lake).requests / "**" / "*.parquet",
                                        columns=["client_ip", "user_agent"])

    def flagged(self, family: str) -> set[str]:
        return set(self.candidates.filter(pl.col("kinds").list.contains(family))["client_ip"].to_list())


@pytest.fixture(scope="module")
def detected(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Detected]:
    """Each log ingested and detected once for the module, when a test first asks for it."""
    done: dict[str, Detected] = {}

    def get(name: str) -> Detected:
        if name not in done:
            done[name] = Detected(tmp_path_factory.mktemp("lake"), name)
        return done[name]

    return get


def judged(name: str, family: str, value: bool = True) -> set[str]:
    return {ip for ip, label in LABELS.get(name, {}).items() if label[family] is value}


def documented() -> dict[tuple[str, str], list[str]]:
    """The rows of the evaluation table in docs/forensics.md: (log, family) -> the five figures."""
    section = DOC.split("## Evaluation on the real logs", 1)[1]
    rows = re.findall(r"^\| (\S+\.log(?:\.gz)?) \| (form_abuse|credential_probe) \| (.+) \|$", section, re.M)
    return {(log, family): [cell.strip() for cell in rest.split("|")] for log, family, rest in rows}


def figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("name", list(LOGS))
def test_documented_precision_and_recall_are_the_computed_ones(
    detected: Callable[[str], Detected], name: str, family: str
) -> None:
    flagged, truth = detected(name).flagged(family), judged(name, family)
    right = flagged & truth
    computed = [str(len(truth)), str(len(flagged)), str(len(right)),
                figure(len(right) / len(flagged) if flagged else None),
                figure(len(right) / len(truth) if truth else None)]
    assert documented().get((name, family), ["0", "0", "0", "-", "-"]) == computed
    assert not flagged & judged(name, family, False), "a client judged benign is flagged"
    assert flagged <= truth, f"flagged but not judged abusive: {sorted(flagged - truth)[:5]}"


@pytest.mark.parametrize("name", list(LOGS))
def test_no_declared_crawler_is_flagged(detected: Callable[[str], Detected], name: str) -> None:
    run = detected(name)
    crawlers = set(run.requests.filter(pl.col("user_agent").str.contains(CRAWLERS.pattern))["client_ip"].to_list())
    flagged = set(run.candidates["client_ip"].to_list())
    for agents in run.candidates["user_agents"].to_list():
        assert not any(CRAWLERS.search(agent) for agent in agents), agents
    assert not (crawlers & flagged), sorted(crawlers & flagged)


def test_the_issue_s_24_basjes_repeaters_are_all_found(detected: Callable[[str], Detected]) -> None:
    name = "basjes_hackers_combined_ipv6.log"
    repeaters = {ip for ip, label in LABELS[name].items() if label.get("tier") == "repeat"}
    assert len(repeaters) == 24  # "24 clients POST to these forms five times or more"
    run = detected(name)
    assert repeaters <= run.flagged("form_abuse")
    busiest = run.candidates.filter((pl.col("client_ip") == "216.244.81.34") & (pl.col("day") == datetime(
        2015, 10, 26).date())).row(0, named=True)
    assert busiest["count_form_posts"] == 38  # floor max(5, 2.5 x median 2): strength 7.6
    assert busiest["kinds"] == ["bruteforce", "form_abuse"]


@pytest.mark.parametrize("name", [n for n in LOGS if n != "basjes_hackers_combined_ipv6.log"])
def test_every_judged_client_is_named_in_the_docs(name: str) -> None:
    section = DOC.split("## Evaluation on the real logs", 1)[1].split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
    missing = sorted(ip for ip in LABELS[name] if f"`{ip}`" not in section)
    assert not missing, f"docs/forensics.md does not name these judged clients of {name}: {missing}"
