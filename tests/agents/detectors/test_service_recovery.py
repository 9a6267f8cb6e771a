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
from tests.agents.detectors import drive
from tests.agents.detectors.drive import CONFIG, at, located
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
