"""Story 5, apology is never enough: a failure needs the recovery playbook, and escalates if not recovered.

Events run through the shared desk in ``drive``: the journey tracker first, then the detector. Day 0 is
Monday 5 January 2026, 10:00 UTC (11:00 in Berlin, the built-in calendars' zone): the default calendar
opens 09:00-17:30 on weekdays, the stores' 09:00-20:00 Monday to Saturday.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings

from agents.config import config_from_mapping
from agents.detectors.base import Detector
from agents.detectors.registry import build_detectors
from agents.detectors.service_recovery import MAX_CASES, PLAYBOOK, TYPE, ServiceRecovery
from agents.domain.alert import CRITICAL, WARNING, make_alert_id
from agents.domain.state import CustomerState
from tests.agents.detectors import drive
from tests.agents.detectors.drive import CONFIG, at, clearing, located
from tests.agents.journey.histories import histories
from tests.agents.journey.touchpoints import (
    complaint,
    feedback,
    instant,
    purchase,
    refund,
    resolution,
    touchpoint,
)

pytestmark = pytest.mark.unit

#: The kinds of event that open a case (a refund needs a complaint): a history without them raises nothing.
SIGNAL_KINDS = ("complaint", "feedback")


@dataclass
class Desk(drive.Desk):
    """The shared desk with ServiceRecovery as its detector by default."""

    detector: Detector = field(default_factory=lambda: ServiceRecovery(CONFIG.detectors[TYPE]))


# --- the story ---------------------------------------------------------------------------------------------

#: 24 business hours from Monday 11:00 on the default calendar (8.5 open hours a weekday): Thursday 09:30.
THURSDAY_0930 = at("2026-01-08T09:30:00+01:00")


def test_story_5_a_complaint_raises_a_warning_with_the_recovery_playbook() -> None:
    desk = Desk()
    failure = complaint(0, "tv-1", conversation="mail-58")

    [finding] = desk.send(purchase(-30), failure)

    assert finding.severity == WARNING
    assert finding.reasons == ("complaint",)
    assert finding.evidence == (failure["event_id"],)
    assert finding.occurred_at == finding.detected_at == instant(0)
    assert finding.channel == "email"
    assert finding.summary == (
        "Customer cust-1 complained about issue tv-1 by email on Mon 05 Jan 11:00 CET. Unless it is "
        "resolved by Thu 08 Jan 09:30 CET (24 business hours), it escalates."
    )
    assert finding.suggested_action == PLAYBOOK
    for step in ("acknowledge", "apologise", "propose a remedy", "carry it out at once", "what will change"):
        assert step in finding.suggested_action
    assert finding.details == {"issue_id": "tv-1", "escalates_at": "2026-01-08T08:30:00+00:00"}
    assert desk.due == THURSDAY_0930


def test_story_5_not_resolved_within_24_business_hours_it_escalates_to_critical() -> None:
    desk = Desk()
    failure = complaint(0, "tv-1")
    [warning] = desk.send(failure)

    assert desk.advance(THURSDAY_0930 - 1) == []
    [critical] = desk.advance(THURSDAY_0930)

    assert critical.severity == CRITICAL
    assert critical.evidence == (failure["event_id"], "escalated")
    assert make_alert_id(TYPE, "cust-1", critical.evidence) != make_alert_id(TYPE, "cust-1", warning.evidence)
    assert critical.reasons == ("complaint", "not_recovered_in_time")
    assert (critical.occurred_at, critical.detected_at) == (instant(0), THURSDAY_0930)
    assert critical.summary == (
        "Customer cust-1 complained about issue tv-1 by email 3 days ago, and it is still not resolved "
        "after 24 business hours."
    )
    assert critical.suggested_action.startswith("Escalate to a team lead now")
    assert critical.details == {
        "opened_at": "2026-01-05T10:00:00+00:00",
        "business_hours": 24,
        "issue_id": "tv-1",
    }
    assert desk.memory["c"]["tv-1"][1] == 0, "kept as escalated, so it escalates once"
    assert desk.due is None
    assert desk.advance(instant(20)) == []


def test_business_hours_are_counted_on_the_calendar_of_the_complaints_channel() -> None:
    desk = Desk()
    desk.send(located(complaint(0, "tv-1", channel="store"), "store-berlin-mitte"))
    # Stores open 09:00-20:00: Monday 9 h, Tuesday 11 h, then 4 h on Wednesday.
    assert desk.due == at("2026-01-07T13:00:00+01:00")


def test_business_hours_are_counted_on_the_calendar_of_the_complaints_location() -> None:
    config = config_from_mapping({"calendar_selection": {"locations": {"night-desk": "stores"}}})
    desk = Desk(config=config, detector=ServiceRecovery(config.detectors[TYPE]))
    desk.send(located(complaint(0, "tv-1", channel="phone"), "night-desk"))
    assert desk.due == at("2026-01-07T13:00:00+01:00")


def test_a_calendar_that_never_opens_escalates_after_wall_clock_hours() -> None:
    config = config_from_mapping(
        {
            "calendars": {"default": {"timezone": "UTC", "hours": {}}},
            "calendar_selection": {"channels": {}},
        }
    )
    desk = Desk(config=config, detector=ServiceRecovery(config.detectors[TYPE]))
    desk.send(complaint(0, "tv-1"))
    assert desk.due == instant(1)


def test_the_escalation_threshold_comes_from_the_rules_file() -> None:
    desk = Desk(detector=ServiceRecovery({"escalate_after_business_hours": 2}))
    [finding] = desk.send(complaint(0, "tv-1"))
    assert desk.due == instant(0) + 2 * 3600
    assert "(2 business hours)" in finding.summary


@pytest.mark.parametrize(
    ("scores", "reasons", "gave"),
    [
        ({"csat": 2}, ("low_csat",), "CSAT 2"),
        ({"nps": 6}, ("low_nps",), "NPS 6"),
        ({"csat": 1, "nps": 0}, ("low_csat", "low_nps"), "CSAT 1, NPS 0"),
        ({"csat": 5, "nps": 3}, ("low_nps",), "NPS 3"),
    ],
)
def test_a_low_csat_or_nps_needs_recovery_too(
    scores: dict[str, int], reasons: tuple[str, ...], gave: str
) -> None:
    desk = Desk()
    [finding] = desk.send(feedback(0, **scores))
    assert finding.reasons == reasons
    assert finding.summary == (
        f"Customer cust-1 gave {gave} by email on Mon 05 Jan 11:00 CET. Unless it is resolved by "
        "Thu 08 Jan 09:30 CET (24 business hours), it escalates."
    )
    assert finding.details == {**scores, "escalates_at": "2026-01-08T08:30:00+00:00"}
    assert desk.due == THURSDAY_0930


def test_a_good_csat_given_with_a_low_nps_does_not_cancel_its_own_escalation() -> None:
    desk = Desk()
    desk.send(feedback(0, csat=5, nps=3))
    [critical] = desk.advance(THURSDAY_0930)
    assert critical.reasons == ("low_nps", "not_recovered_in_time")
    assert critical.summary.startswith("Customer cust-1 gave NPS 3 by email 3 days ago")


def test_a_second_low_score_joins_the_open_case_silently() -> None:
    desk = Desk()
    assert len(desk.send(feedback(0, csat=2), feedback(1, nps=6))) == 1
    assert desk.due == THURSDAY_0930, "the first signal's clock keeps running"


def test_low_feedback_naming_an_issue_belongs_to_that_issue() -> None:
    desk = Desk()
    rated = feedback(1, csat=1)
    rated["attributes"]["issue_id"] = "tv-1"
    desk.send(complaint(0, "tv-1"), rated)
    assert list(desk.memory["c"]) == ["tv-1"]


def test_a_refund_while_the_complaint_is_open_needs_recovery_and_names_both_events() -> None:
    desk = Desk()
    failure, money_back = complaint(0, "tv-1"), located(refund(1, 249.0), "store-berlin-mitte")

    desk.send(failure)
    [finding] = desk.send(money_back)

    assert finding.reasons == ("refund_after_complaint",)
    assert finding.evidence == (failure["event_id"], money_back["event_id"])
    assert finding.summary == (
        "Customer cust-1 was refunded 249.00 EUR by store on Tue 06 Jan 11:00 CET while their complaint "
        "about issue tv-1 is still open. Unless it is resolved by Thu 08 Jan 09:30 CET (24 business "
        "hours), it escalates."
    )
    assert finding.location == "store-berlin-mitte"
    assert desk.due == THURSDAY_0930, "the complaint's clock keeps running"


def test_near_miss_a_refund_after_the_complaint_was_resolved_is_the_remedy_and_raises_nothing() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"), resolution(1, "tv-1"))
    assert desk.send(refund(4, 249.0)) == []
    assert desk.due is None, "the issue is resolved: nothing left to escalate"


def test_a_second_complaint_about_the_same_issue_raises_nothing_more_and_keeps_the_first_clock() -> None:
    desk = Desk()
    assert len(desk.send(complaint(0, "tv-1"), complaint(1, "tv-1"))) == 1
    assert desk.due == THURSDAY_0930


def test_an_earlier_complaint_delivered_late_moves_the_clock_back_silently() -> None:
    desk = Desk()
    desk.send(complaint(7, "tv-1"))
    assert desk.send(complaint(0, "tv-1", event_id="ev-first")) == []
    assert desk.due == THURSDAY_0930
    [critical] = desk.advance(THURSDAY_0930)
    assert critical.evidence == ("ev-first", "escalated")


def test_after_the_escalation_further_complaints_raise_nothing_until_the_case_is_forgotten() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"), complaint(4, "tv-1"), complaint(20, "tv-1"))
    assert [f.severity for f in desk.findings] == [WARNING, CRITICAL]
    [fresh] = desk.send(complaint(31, "tv-1"))
    assert fresh.severity == WARNING, "an escalated case is forgotten 30 days after it opened"


def test_each_case_escalates_once_even_when_another_cases_escalation_fires_later() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"), feedback(1, csat=1))
    desk.advance(instant(10))
    assert [(f.severity, f.reasons) for f in desk.findings] == [
        (WARNING, ("complaint",)),
        (WARNING, ("low_csat",)),
        (CRITICAL, ("complaint", "not_recovered_in_time")),
        (CRITICAL, ("low_csat", "not_recovered_in_time")),
    ]
    _, again = desk.detector.fire(desk.memory, "cust-1", instant(20), desk.states["cust-1"])
    assert again == []


def test_a_resolution_after_the_escalation_closes_the_case_and_the_next_complaint_is_a_new_one() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"), resolution(4, "tv-1"))
    assert desk.memory == {"l": [instant(0), "tv-1"]}
    assert len(desk.send(complaint(5, "tv-1"))) == 1


def test_a_refund_after_the_escalation_says_the_case_is_escalated_already() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"), touchpoint("visit", 4))
    [finding] = desk.send(refund(5, 249.0))
    assert finding.summary.endswith("is still open. The case has already been escalated.")
    assert "escalates_at" not in finding.details


def test_an_escalation_fires_before_a_later_event_as_the_tracker_fires_it() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"))
    [critical] = desk.send(touchpoint("visit", 10))
    assert critical.severity == CRITICAL


def test_the_escalation_checks_the_state_for_a_recovery_it_did_not_see() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"))
    memory = desk.memory
    desk.send(resolution(1, "tv-1"))  # the detector forgets the case; the state remembers the resolution
    later, findings = desk.detector.fire(memory, "cust-1", THURSDAY_0930, desk.states["cust-1"])
    assert findings == []
    assert later == {"l": [instant(0), "tv-1"]}, "the case is closed; the complaint is kept for a refund"


def test_fire_before_the_instant_changes_nothing() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"))
    memory, findings = desk.detector.fire(desk.memory, "cust-1", THURSDAY_0930 - 1, desk.states["cust-1"])
    assert findings == []
    assert memory == desk.memory


def test_the_registry_builds_it_from_the_rules_file() -> None:
    [detector] = [d for d in build_detectors(CONFIG.detectors) if d.type == TYPE]
    assert isinstance(detector, ServiceRecovery)


# --- near misses -------------------------------------------------------------------------------------------


def test_near_miss_csat_3_and_nps_7_need_no_recovery() -> None:
    desk = Desk()
    assert desk.send(feedback(0, csat=3), feedback(1, nps=7), feedback(2, csat=3, nps=7)) == []
    assert desk.memory is None


def test_near_miss_a_refund_with_no_complaint_needs_no_recovery() -> None:
    assert Desk().send(purchase(0), refund(3, 100.0)) == []


def test_near_miss_a_refund_weeks_after_the_complaint_was_resolved_needs_no_recovery() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"), resolution(1, "tv-1"))
    assert desk.send(refund(20, 100.0)) == []


def test_near_miss_resolved_before_the_escalation_instant_never_escalates() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"), resolution(2, "tv-1"))
    assert desk.due is None
    assert desk.advance(instant(30)) == []
    assert [f.severity for f in desk.findings] == [WARNING]


def test_near_miss_a_later_csat_of_4_means_recovered() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"), feedback(0.5, nps=2), feedback(1, csat=4))
    assert desk.due is None
    assert desk.advance(instant(30)) == []


def test_near_miss_a_resolution_of_another_issue_leaves_the_case_open() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"), complaint(0.1, "oven-2"), resolution(1, "oven-2"))
    assert list(desk.memory["c"]) == ["tv-1"]
    assert desk.due == THURSDAY_0930


def test_near_miss_a_late_complaint_about_an_issue_resolved_after_it_needs_no_recovery() -> None:
    desk = Desk()
    desk.send(resolution(2, "tv-1"))
    assert desk.send(complaint(1, "tv-1")) == []


def test_near_miss_a_resolution_delivered_late_from_before_the_complaint_does_not_recover_it() -> None:
    desk = Desk()
    desk.send(complaint(2, "tv-1"), resolution(1, "tv-1"))
    assert desk.due is not None


# --- memory ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fire", [True, False], ids=["escalating", "never_fired"])
def test_memory_stays_bounded_over_a_thousand_events(fire: bool) -> None:
    rng = random.Random(5)
    desk = Desk(fire=fire)
    largest = 0
    for number in range(1000):
        day = number * 0.2
        issue = f"issue-{rng.randrange(20)}"
        event = rng.choice(
            (
                complaint(day, issue),
                resolution(day, issue),
                feedback(day, csat=rng.randint(1, 5)),
                feedback(day, nps=rng.randint(0, 10)),
                refund(day, 10.0),
                touchpoint("visit", day),
            )
        )
        desk.send(event)
        memory = desk.memory or {}
        assert len(memory.get("c", {})) <= MAX_CASES
        largest = max(largest, len(orjson.dumps(memory)))
    assert largest < 400
    assert any(f.severity == CRITICAL for f in desk.findings) is fire


def test_a_typical_memory_is_a_few_dozen_bytes() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"))
    assert len(orjson.dumps(desk.memory)) < 110
    desk.send(resolution(1, "tv-1"))
    assert len(orjson.dumps(desk.memory)) < 30
    desk.send(touchpoint("visit", 15))
    assert desk.memory is None


@settings(max_examples=100, deadline=None)
@given(histories().map(lambda events: [e for e in events if e["type"] not in SIGNAL_KINDS]))
def test_a_history_without_complaints_or_feedback_raises_nothing(events: list[dict[str, Any]]) -> None:
    desk = Desk()
    assert desk.send(*events) == []
    assert all(memory is None for memory in desk.memories.values())
    assert desk.advance(int(datetime(2027, 1, 1, tzinfo=UTC).timestamp())) == []


# --- clearing ----------------------------------------------------------------------------------------------


def test_a_resolution_of_the_cases_issue_at_or_after_the_complaint_clears_its_alert() -> None:
    desk = Desk()
    [finding] = desk.send(complaint(0, "tv-1"))
    assert clearing(desk, finding, resolution(-0.5, "tv-1")) is None, "delivered late: older than the signal"
    assert clearing(desk, finding, resolution(0.5, "oven-2")) is None
    assert clearing(desk, finding, resolution(0, "tv-1")) == "resolution"


def test_any_resolution_clears_a_case_tied_to_no_issue() -> None:
    desk = Desk()
    [finding] = desk.send(feedback(0, csat=1))
    assert clearing(desk, finding, resolution(1, "whatever-9")) == "resolution"


def test_a_csat_of_4_after_the_signal_recovers_the_case_and_one_given_with_it_does_not() -> None:
    desk = Desk()
    [finding] = desk.send(feedback(0, nps=2))
    assert clearing(desk, finding, feedback(0, csat=5)) is None, "given with the low score"
    assert clearing(desk, finding, feedback(0.5, csat=3)) is None
    assert clearing(desk, finding, feedback(1, csat=4)) == "recovered"


# --- merging -----------------------------------------------------------------------------------------------


def merged(mine: Any, theirs: Any) -> Any:
    return ServiceRecovery({}).merge(mine, theirs, CustomerState())


def case(opened: int, event_id: str, escalates: int | None = None) -> list[Any]:
    return [opened, escalates or opened + 1000, event_id, "email", None, "complaint"]


def test_a_merge_with_a_profile_that_remembers_nothing_keeps_the_other_memory() -> None:
    memory = {"c": {"tv-1": case(100, "ev-1")}, "l": [100, "tv-1"]}
    assert merged(memory, None) == memory
    assert merged(None, memory) == memory
    assert merged(None, None) is None


def test_a_merge_keeps_the_later_complaint_for_a_refund_after_it() -> None:
    assert merged({"l": [100, "tv-1"]}, {"l": [200, "oven-2"]}) == {"l": [200, "oven-2"]}
    assert merged({"l": [200, "tv-1"]}, {"l": [100, "oven-2"]}) == {"l": [200, "tv-1"]}


def test_a_merge_keeps_both_sides_cases_up_to_the_most_recent_four() -> None:
    # The case opened longest ago goes, whenever it escalates.
    mine = {"c": {"a": case(300, "ev-a"), "b": case(100, "ev-b", 9000), "c": case(500, "ev-c")}}
    theirs = {"c": {"d": case(400, "ev-d"), "e": case(200, "ev-e", 800), "a": case(350, "ev-a2")}}
    result = merged(mine, theirs)
    assert result["c"] == {
        "a": case(300, "ev-a"),
        "c": case(500, "ev-c"),
        "d": case(400, "ev-d"),
        "e": case(200, "ev-e", 800),
    }


def test_a_merge_of_signals_from_the_same_instant_keeps_the_customers_own() -> None:
    mine = {"c": {"tv-1": case(100, "ev-mine")}, "l": [100, "tv-1"]}
    theirs = {"c": {"tv-1": case(100, "ev-theirs")}, "l": [100, "oven-2"]}
    assert merged(mine, theirs) == mine


# --- refunds, escalations, recoveries the detector did not see ------------------------------------------------


def test_a_refund_names_the_complaint_opened_last() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"), complaint(1, "b-oven"))
    [finding] = desk.send(refund(2, 100.0))
    assert "while their complaint about issue b-oven is still open" in finding.summary
    assert finding.details["issue_id"] == "b-oven"


def test_a_refund_on_an_open_complaint_whose_case_was_forgotten_opens_a_case_of_its_own() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"))
    desk.send(touchpoint("visit", 31))  # escalated, then forgotten 30 days after it opened
    assert desk.memory is None
    assert "tv-1" in desk.state.complaints_open
    money_back = located(refund(31.1, 100.0), "store-berlin-mitte")
    [warning] = desk.send(money_back)
    assert warning.evidence == (money_back["event_id"],)
    assert warning.details["issue_id"] == "tv-1"
    assert "escalates_at" in warning.details
    [critical] = desk.advance(instant(40))
    assert critical.reasons == ("refund_after_complaint", "not_recovered_in_time")
    assert critical.summary.startswith("Customer cust-1 was refunded by store over issue tv-1 ")
    assert (critical.channel, critical.location) == ("store", "store-berlin-mitte")


def test_a_refund_delivered_late_from_before_the_resolution_still_needs_recovery() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"), resolution(5, "tv-1"))
    money_back = refund(3, 100.0)
    [finding] = desk.send(money_back)
    assert finding.summary == (
        "Customer cust-1 was refunded 100.00 EUR by store on Thu 08 Jan 11:00 CET, 3 days after complaining "
        "about issue tv-1."
    )
    assert finding.evidence == (money_back["event_id"],)
    assert finding.reasons == ("refund_after_complaint",)
    assert finding.details == {"issue_id": "tv-1", "amount": 100.0, "currency": "EUR"}


def test_a_late_refund_names_the_issues_case_when_one_is_open() -> None:
    desk = Desk()
    rated = feedback(6, csat=1)
    rated["attributes"]["issue_id"] = "tv-1"
    desk.send(complaint(0, "tv-1"), resolution(5, "tv-1"), rated)
    [finding] = desk.send(refund(3, 100.0))
    assert finding.evidence[0] == rated["event_id"]


@pytest.mark.parametrize(
    ("refunded", "raised"),
    [
        pytest.param(0.5, False, id="before the complaint"),
        pytest.param(1, True, id="at the complaint's instant"),
    ],
)
def test_a_late_refund_counts_from_the_complaints_instant(refunded: float, raised: bool) -> None:
    desk = Desk()
    desk.send(complaint(1, "tv-1"), resolution(2, "tv-1"))
    assert bool(desk.send(refund(refunded, 100.0))) is raised


def test_near_miss_a_refund_after_a_resolution_at_the_complaints_instant_or_its_own_is_the_remedy() -> None:
    desk = Desk()
    desk.send(complaint(1, "tv-1"), resolution(1, "tv-1"))
    assert desk.send(refund(2, 100.0)) == []
    other = Desk()
    other.send(complaint(0, "tv-1"), resolution(1, "tv-1"))
    assert other.send(refund(1, 100.0)) == []


def test_cases_falling_due_at_one_wake_up_escalate_in_the_order_they_fell_due() -> None:
    desk = Desk()
    desk.send(complaint(0, "z-tv", event_id="ev-2"), complaint(0.1, "a-oven", event_id="ev-1"))
    _, findings = desk.detector.fire(desk.memory, "cust-1", instant(10), desk.state)
    assert [f.details["issue_id"] for f in findings] == ["z-tv", "a-oven"]


def test_an_escalation_carries_the_signals_channel_and_location() -> None:
    desk = Desk()
    desk.send(located(complaint(0, "tv-1", channel="phone"), "team-support"))
    [critical] = desk.advance(instant(10))
    assert (critical.channel, critical.location) == ("phone", "team-support")


@pytest.mark.parametrize(
    ("signal", "recovery", "recovered"),
    [
        pytest.param(complaint(0, "tv-1"), feedback(1, csat=4), True, id="a CSAT of 4 after it"),
        pytest.param(complaint(0, "tv-1"), feedback(1, csat=3), False, id="a CSAT of 3"),
        pytest.param(complaint(0, "tv-1"), resolution(0, "tv-1"), True, id="resolved at its instant"),
        pytest.param(feedback(0, nps=2), resolution(0, "tv-9"), True, id="no issue: any resolution"),
        pytest.param(feedback(0, nps=2), feedback(0, csat=5), False, id="a good CSAT at its instant"),
        pytest.param(complaint(0, "tv-1"), resolution(1, "oven-2"), False, id="another issue resolved"),
    ],
)
def test_the_escalation_sees_a_recovery_the_detector_missed(
    signal: dict[str, Any], recovery: dict[str, Any], recovered: bool
) -> None:
    desk = Desk()
    desk.send(dict(signal))
    memory = desk.memory
    desk.send(dict(recovery))  # folded into the state; the detector's own memory is the one from before
    _, findings = desk.detector.fire(memory, "cust-1", instant(10), desk.state)
    assert (findings == []) is recovered


def test_near_miss_events_that_are_no_failure_raise_nothing_keep_nothing_and_never_escalate() -> None:
    desk = Desk()
    for day in range(3):
        desk.send(purchase(day), refund(day + 0.1, 10.0), resolution(day + 0.2, "tv-1"))
        desk.send(feedback(day + 0.3, csat=4, nps=8))
        for kind in ("visit", "page_view", "inquiry", "reply", "call_started", "offer", "referral"):
            desk.send(touchpoint(kind, day + 0.4, channel="phone", issue_id="tv-1", offer_id="o-1"))
    assert desk.findings == []
    assert desk.memory is None
    assert desk.advance(instant(400)) == []


def test_a_recovered_case_does_not_hold_back_the_next_ones_escalation() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"), complaint(0.1, "oven-2"))
    memory = desk.memory
    desk.send(resolution(1, "tv-1"))
    _, findings = desk.detector.fire(memory, "cust-1", instant(10), desk.state)
    assert [f.details["issue_id"] for f in findings] == ["oven-2"]


def test_low_feedback_on_an_escalated_case_warns_again_naming_the_case() -> None:
    desk = Desk()
    failure = complaint(0, "tv-1")
    desk.send(failure)
    desk.advance(instant(10))
    rated = feedback(11, csat=1)
    rated["attributes"]["issue_id"] = "tv-1"
    [warning] = desk.send(rated)
    assert warning.evidence == (failure["event_id"], rated["event_id"])
    assert warning.summary.startswith("Customer cust-1 gave CSAT 1 about issue tv-1 by email on ")
    assert warning.summary.endswith("The case has already been escalated.")
    assert warning.details == {"issue_id": "tv-1", "csat": 1}


def test_signals_delivered_late_about_an_escalated_case_change_nothing() -> None:
    desk = Desk()
    desk.send(complaint(1, "tv-1"))
    desk.advance(instant(10))
    escalated = desk.memory
    for day in (0, 1):
        rated = feedback(day, csat=1)
        rated["attributes"]["issue_id"] = "tv-1"
        assert desk.send(rated, complaint(day, "tv-1")) == []
    assert desk.memory == escalated
    assert desk.due is None


def test_a_second_signal_at_the_same_instant_keeps_the_first_ones_case() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1", event_id="ev-first"), complaint(0, "tv-1", event_id="ev-second"))
    [critical] = desk.advance(instant(10))
    assert critical.evidence == ("ev-first", "escalated")


@pytest.mark.parametrize(("after_days", "raised"), [(14, True), (14 + 1 / 86_400, False)])
def test_a_refund_belongs_to_the_latest_complaint_for_exactly_fourteen_days(
    after_days: float, raised: bool
) -> None:
    # With no resolutions remembered, nothing tells the refund is the remedy: only the window decides.
    config = config_from_mapping({"state": {"answered_memory": 0}})
    desk = Desk(config=config, detector=ServiceRecovery(config.detectors[TYPE]))
    desk.send(complaint(0, "tv-1"), resolution(1, "tv-1"))
    assert bool(desk.send(refund(after_days, 100.0))) is raised


def test_a_refund_belongs_to_the_latest_complaint_even_after_an_event_exactly_fourteen_days_later() -> None:
    config = config_from_mapping({"state": {"answered_memory": 0}})
    desk = Desk(config=config, detector=ServiceRecovery(config.detectors[TYPE]))
    desk.send(complaint(0, "tv-1"), resolution(1, "tv-1"), touchpoint("visit", 14))
    assert len(desk.send(refund(14, 100.0))) == 1


def test_a_refund_after_two_complaints_at_one_instant_names_the_one_told_last() -> None:
    config = config_from_mapping({"state": {"answered_memory": 0}})
    desk = Desk(config=config, detector=ServiceRecovery(config.detectors[TYPE]))
    desk.send(complaint(0, "tv-1"), complaint(0, "oven-2"), resolution(1, "tv-1"), resolution(1, "oven-2"))
    [finding] = desk.send(refund(2, 100.0))
    assert finding.details["issue_id"] == "oven-2"


def test_beyond_four_cases_the_one_opened_first_is_forgotten_whenever_it_would_escalate() -> None:
    desk = Desk()
    # The first, by email, escalates on Thursday; the second, in a store, on Wednesday.
    desk.send(complaint(0, "z-tv"), located(complaint(0.01, "y-oven", channel="store"), "store-berlin-mitte"))
    desk.send(*(complaint(0.02 + n / 100, issue) for n, issue in enumerate(("a-1", "b-2", "c-3"))))
    assert sorted(desk.memory["c"]) == ["a-1", "b-2", "c-3", "y-oven"]


def test_an_escalated_case_is_kept_for_exactly_thirty_days() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"))
    desk.advance(instant(10))
    assert desk.send(complaint(30, "tv-1")) == []
    assert len(desk.send(complaint(30 + 1 / 86_400, "tv-1"))) == 1


@pytest.mark.parametrize(
    "recovery",
    [
        pytest.param(resolution(0, "tv-1"), id="resolved at its instant"),
        pytest.param(feedback(0, csat=4), id="a CSAT of 4 at its instant"),
    ],
)
def test_a_recovery_at_the_instant_of_the_complaint_closes_its_case(recovery: dict[str, Any]) -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"), dict(recovery))
    assert desk.due is None


def test_near_miss_a_late_complaint_at_the_instant_its_issue_was_resolved_needs_no_recovery() -> None:
    desk = Desk()
    desk.send(resolution(2, "tv-1"))
    assert desk.send(complaint(2, "tv-1")) == []


def test_a_memory_of_another_shape_is_read_as_empty() -> None:
    detector = ServiceRecovery({})
    assert detector.due({"c": {"tv-1": [100, 200, "ev-1"]}, "l": [100, "tv-1", 0]}) is None
    assert detector.due({"c": {"tv-1": "ev-1"}}) is None
