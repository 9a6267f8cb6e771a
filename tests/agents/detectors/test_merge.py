"""Each detector's two memories become one when an anonymous profile merges into its customer."""

from __future__ import annotations

from typing import Any

import pytest

from agents.config import default_config
from agents.detectors.base import Detector
from agents.domain.alert import Alert
from agents.domain.state import CustomerState
from agents.journey.track import JourneyTracker

pytestmark = pytest.mark.unit

DETECTORS: dict[str, Detector] = {
    detector.type: detector for detector in JourneyTracker(default_config(), b"merge").detection.detectors
}
STATE = CustomerState(purchase_count=3, purchase_days=[20458, 20460, 20470], last_purchase=1768000000)


def merged(alert_type: str, mine: Any, theirs: Any) -> Any:
    return DETECTORS[alert_type].merge(mine, theirs, STATE)  # type: ignore[attr-defined]


def test_every_built_in_detector_that_keeps_a_memory_merges_it() -> None:
    keeping = set(DETECTORS) - {"sales_in_service"}
    assert all(hasattr(DETECTORS[kind], "merge") for kind in keeping)


def test_long_waits_of_both_count_together() -> None:
    assert merged("long_wait", [100, 300], [200]) == [100, 200, 300]
    assert merged("long_wait", None, [200]) == [200]


def test_repeat_contacts_of_both_add_up_per_issue_once_each() -> None:
    mine = {"tv-1": [[100, "ev-1", 0], [300, "ev-3", 0]]}
    theirs = {"tv-1": [[200, "ev-2", 7], [300, "ev-3", 0]], "topic:order": [[50, "ev-0", 0]]}
    result = merged("repeat_contact_unresolved", mine, theirs)
    assert [entry[1] for entry in result["tv-1"]] == ["ev-1", "ev-2", "ev-3"]
    assert result["topic:order"] == [[50, "ev-0", 0]]


def test_transfers_in_one_contact_seen_on_both_sides_add_up() -> None:
    result = merged(
        "excessive_transfers", [["call-1", 1, 0, 100]], [["call-1", 1, 1, 150], ["call-2", 1, 0, 90]]
    )
    assert ["call-1", 2, 1, 150] in result
    assert ["call-2", 1, 0, 90] in result


def test_a_recovery_case_open_on_both_sides_keeps_its_first_signal() -> None:
    early = [100, 500, "ev-1", "email", None, "complaint"]
    late = [200, 600, "ev-2", "chat", None, "complaint"]
    result = merged("service_recovery", {"c": {"tv-1": late}, "l": [200, "tv-1"]}, {"c": {"tv-1": early}})
    assert result == {"c": {"tv-1": early}, "l": [200, "tv-1"]}


def test_usage_baselines_add_their_counts() -> None:
    mine = [{"store": 10}, {"6": 10}, {"store-mitte": 10}, 0, "EUR", [40.0, 42.0]]
    theirs = [{"app": 3}, {"7": 3}, {}, 0, "EUR", [39.0]]
    channels, bands, locations, other, currency, amounts = merged("usage_pattern_change", mine, theirs)
    assert channels == {"store": 10, "app": 3}
    assert bands == {"6": 10, "7": 3}
    assert (locations, other, currency) == ({"store-mitte": 10}, 0, "EUR")
    assert amounts == [39.0, 40.0, 42.0]


def test_the_advocate_quiet_period_runs_from_the_later_finding() -> None:
    assert merged("advocate_opportunity", 100, 200) == 200
    assert merged("advocate_opportunity", None, 200) == 200


def test_the_churn_episode_is_the_later_purchases_due_again_from_the_merged_history() -> None:
    older, newer = [1767000000, 1, 1770000000, "ev-a"], [1768000000, 2, 1771000000, "ev-b"]
    result = merged("churn_risk", older, newer)
    assert result[0] == 1768000000
    assert result[3] == "ev-b"
    assert result[1] == STATE.distinct_purchase_days


def test_a_recovery_case_the_merged_history_shows_recovered_ends_with_the_merge() -> None:
    # The complaint on one side, a good CSAT (or the issue's resolution) after it on the other.
    case = [100, 500, "ev-1", "phone", None, "complaint"]
    recovery = DETECTORS["service_recovery"]
    for state in (CustomerState(csat=[4, 150]), CustomerState(recently_resolved={"tv-1": 120})):
        assert recovery.merge(None, {"c": {"tv-1": case}}, state) is None  # type: ignore[attr-defined]
    # A CSAT before the complaint, or another issue's resolution, recovers nothing.
    for state in (CustomerState(csat=[5, 90]), CustomerState(recently_resolved={"tv-2": 120})):
        kept = recovery.merge(None, {"c": {"tv-1": case}}, state)  # type: ignore[attr-defined]
        assert kept == {"c": {"tv-1": case}}


def test_a_merged_in_recovery_alert_the_merged_history_shows_recovered_is_settled() -> None:
    recovery = DETECTORS["service_recovery"]
    alert = Alert(
        alert_id="service_recovery/c-1/abc",
        type="service_recovery",
        severity="critical",
        customer_id="c-1",
        occurred_at=100,
        detected_at=500,
        summary="s",
        reasons=("complaint",),
        evidence=("ev-1",),
        stage="first_time",
        value_tier="standard",
        suggested_action="a",
        details={"issue_id": "tv-1"},
    )
    assert recovery.settled(alert, CustomerState(csat=[4, 150])) == "recovered"  # type: ignore[attr-defined]
    assert recovery.settled(alert, CustomerState(csat=[4, 100])) is None  # type: ignore[attr-defined]
    assert recovery.settled(alert, CustomerState(recently_resolved={"tv-1": 100})) == "resolution"  # type: ignore[attr-defined]
    assert recovery.settled(alert, CustomerState(recently_resolved={"tv-2": 300})) is None  # type: ignore[attr-defined]
