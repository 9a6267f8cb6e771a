"""Story 9, ask for the referral: promoters and loyal, satisfied customers are asked to recommend us.

Events run through the shared desk in ``drive``: the journey tracker first, then the detector. Day 0 is
Monday 5 January 2026, 10:00 UTC (11:00 in Berlin, the built-in calendars' zone). With the default
lifecycle, purchases on days 0, 20, 40 and 61 make a customer loyal on day 61 (four purchase days over
60 days), unless unhappy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from hypothesis import given, settings

from agents import lifecycle
from agents.detectors.advocate import TYPE, AdvocateOpportunity
from agents.detectors.base import Detector, Finding
from agents.detectors.registry import build_detectors
from agents.domain.alert import INFO, make_alert_id
from agents.domain.instants import DAY
from agents.domain.state import CustomerState
from tests.agents.detectors import drive
from tests.agents.detectors.drive import CONFIG, clearing
from tests.agents.journey.histories import histories
from tests.agents.journey.touchpoints import (
    complaint,
    feedback,
    inquiry,
    instant,
    purchase,
    referral,
    reply,
    resolution,
    touchpoint,
)

pytestmark = pytest.mark.unit


@dataclass
class Desk(drive.Desk):
    """The shared desk with AdvocateOpportunity as its detector by default."""

    detector: Detector = field(default_factory=lambda: AdvocateOpportunity({}))


def a_regular(desk: Desk) -> Desk:
    """*desk*'s customer has bought on two days before day 0: a repeat customer, worth asking."""
    desk.send(purchase(-10), purchase(-5))
    return desk


def buys_for_a_while(desk: Desk, *, csat: int | None = None, nps: int | None = None) -> list[Finding]:
    """Purchases on days 0, 20, 40 and 61, with feedback on day 10: loyal on day 61 if satisfied enough."""
    desk.send(purchase(0), purchase(20))
    desk.send(feedback(10.5, csat=csat, nps=nps))
    return desk.send(purchase(40), purchase(61))


# --- the story ---------------------------------------------------------------------------------------------


def test_story_9_a_promoter_is_to_be_thanked_and_asked_for_a_referral() -> None:
    desk = a_regular(Desk())
    score = feedback(0, nps=10)
    [finding] = desk.send(score)
    assert finding.severity == INFO
    assert finding.reasons == ("promoter",)
    assert finding.evidence == (score["event_id"],)
    assert finding.occurred_at == finding.detected_at == instant(0)
    assert finding.channel == "email"
    assert finding.summary == (
        "Customer cust-1 gave an NPS of 10 on email at Mon 05 Jan 11:00 CET: "
        "a promoter, ready to be asked for a referral."
    )
    assert "Thank" in finding.suggested_action
    assert "recommend" in finding.suggested_action
    assert "review" in finding.suggested_action
    assert finding.details == {"nps": 10}
    assert desk.memory == instant(0)


def test_story_9_a_loyal_satisfied_customer_with_nothing_open_is_asked_when_loyalty_shows() -> None:
    desk = Desk()
    last = purchase(61)
    desk.send(purchase(0), purchase(20), feedback(10.5, csat=5), purchase(40))
    assert desk.findings == []
    [finding] = desk.send(last)
    assert desk.state.stage == lifecycle.LOYAL
    assert finding.reasons == ("loyal_and_satisfied",)
    assert finding.evidence == (last["event_id"],)
    assert finding.details == {"satisfaction": 1.0, "stage": "loyal"}
    assert finding.summary == (
        "Customer cust-1 is a loyal customer, 100% satisfied and with nothing open: "
        "a good moment to ask for a referral."
    )


def test_a_promoter_who_is_loyal_gives_one_finding_with_both_reasons() -> None:
    desk = Desk()
    buys_for_a_while(desk, csat=5)
    desk.memories.clear()  # as if the first opportunity had been long ago
    [finding] = desk.send(feedback(62, nps=9))
    assert desk.state.stage == lifecycle.ADVOCATE
    assert finding.reasons == ("promoter", "loyal_and_satisfied")
    assert "gave an NPS of 9" in finding.summary
    assert "is an advocate with nothing open" in finding.summary


def test_a_loyal_customer_is_asked_once_their_open_inquiry_is_answered() -> None:
    desk = Desk()
    desk.send(purchase(0), purchase(20), feedback(10.5, csat=5), purchase(40))
    desk.send(inquiry(60, "conv-7"))
    assert desk.send(purchase(61)) == [], "an unanswered question comes first"
    assert desk.state.stage == lifecycle.LOYAL
    answer = reply(61.1, "conv-7")
    [finding] = desk.send(answer)
    assert finding.evidence == (answer["event_id"],)


def test_a_promoter_is_asked_again_once_the_quiet_period_has_passed() -> None:
    desk = a_regular(Desk())
    assert len(desk.send(feedback(0, nps=10))) == 1
    assert len(desk.send(feedback(90, nps=10))) == 1


# --- near misses -------------------------------------------------------------------------------------------


def test_near_miss_an_nps_of_8_raises_nothing() -> None:
    desk = Desk()
    assert desk.send(purchase(-5), feedback(0, nps=8)) == []
    assert desk.memory is None


def test_near_miss_a_loyal_customer_with_satisfaction_0_7_raises_nothing() -> None:
    desk = Desk()
    assert buys_for_a_while(desk, nps=7) == []
    assert desk.state.stage == lifecycle.LOYAL
    assert desk.state.satisfaction == pytest.approx(0.7)
    assert desk.send(touchpoint("visit", 62)) == []


def test_near_miss_a_promoter_again_30_days_later_raises_nothing() -> None:
    desk = a_regular(Desk())
    desk.send(feedback(0, nps=10))
    assert desk.send(feedback(30, nps=10), feedback(89.9, nps=10)) == []
    assert desk.memory == instant(0)


def test_near_miss_a_promoter_with_an_open_complaint_raises_nothing_until_it_is_resolved() -> None:
    desk = a_regular(Desk())
    desk.send(complaint(0, "tv-2291"))
    assert desk.send(feedback(1, nps=10)) == []
    assert desk.send(resolution(2, "tv-2291")) == [], "no promoter score in this event"
    assert len(desk.send(feedback(3, nps=10))) == 1


def test_near_miss_a_first_time_buyers_promoter_score_is_not_yet_a_reason_to_ask() -> None:
    desk = Desk()
    assert desk.send(purchase(-5), feedback(0, nps=10)) == []
    assert desk.state.distinct_purchase_days == 1
    # The rules file can ask on the first impression.
    eager = Desk(detector=AdvocateOpportunity({"min_purchase_days": 1}))
    assert [f.reasons for f in eager.send(purchase(-5), feedback(0, nps=10))] == [("promoter",)]


def test_near_miss_a_late_old_promoter_score_does_not_count_over_a_newer_low_one() -> None:
    desk = Desk()
    desk.send(feedback(5, nps=3))
    assert desk.send(feedback(1, nps=10)) == []


def test_near_miss_a_satisfied_repeat_customer_is_not_yet_loyal() -> None:
    desk = Desk()
    assert desk.send(purchase(0), feedback(1, csat=5), purchase(20), purchase(40)) == []
    assert desk.state.stage == lifecycle.REPEAT


def test_near_miss_a_loyal_customer_who_never_gave_feedback_is_not_asked() -> None:
    desk = Desk()
    desk.send(purchase(0), purchase(20), purchase(40))
    assert desk.send(purchase(61), touchpoint("visit", 62)) == []
    assert desk.state.stage == lifecycle.LOYAL
    assert desk.memory is None


# --- configuration, determinism, memory --------------------------------------------------------------------


def test_the_registry_builds_it_from_the_rules_file_with_the_schema_defaults() -> None:
    [built] = [d for d in build_detectors(CONFIG.detectors) if d.type == TYPE]
    assert isinstance(built, AdvocateOpportunity)
    assert (built.min_nps, built.min_satisfaction, built.every) == (9, 0.8, 90 * DAY)


def test_the_rules_file_sets_the_score_the_satisfaction_and_the_period() -> None:
    desk = a_regular(
        Desk(detector=AdvocateOpportunity({"min_nps": 8, "every_days": 30, "min_satisfaction": 0.7}))
    )
    assert len(desk.send(feedback(0, nps=8))) == 1
    assert len(desk.send(feedback(30, nps=8))) == 1
    loyal = Desk(detector=AdvocateOpportunity({"min_satisfaction": 0.7}))
    [finding] = buys_for_a_while(loyal, nps=7)
    assert finding.reasons == ("loyal_and_satisfied",)


def test_a_replay_gives_the_same_findings_and_so_the_same_alert_ids() -> None:
    events = [
        purchase(-5),
        purchase(0),
        feedback(1, nps=10),
        purchase(20),
        purchase(40),
        purchase(120),
        feedback(121, nps=9),
    ]
    first, second = Desk(), Desk()
    first.send(*events)
    second.send(*events)
    assert first.findings == second.findings
    assert len({make_alert_id(TYPE, "cust-1", f.evidence) for f in first.findings}) == 2


def test_memory_is_one_instant_after_1000_promoter_scores_and_asks_once_per_90_days() -> None:
    desk = a_regular(Desk())
    for day in range(1000):
        desk.send(feedback(day, nps=10))
        assert desk.memory is None or isinstance(desk.memory, int)
    assert [f.occurred_at for f in desk.findings] == [instant(day) for day in range(0, 1000, 90)]
    assert len(orjson.dumps(desk.memory)) <= 10


@settings(max_examples=100, deadline=None)
@given(histories())
def test_nothing_is_raised_on_any_history_without_feedback(events: list[dict[str, Any]]) -> None:
    desk = Desk()
    desk.send(*(event for event in events if event["type"] != "feedback"))
    assert desk.findings == []
    assert all(memory is None for memory in desk.memories.values())


@settings(max_examples=100, deadline=None)
@given(histories())
def test_memory_is_at_most_one_instant_on_any_history(events: list[dict[str, Any]]) -> None:
    desk = Desk()
    desk.send(*events)
    assert all(memory is None or isinstance(memory, int) for memory in desk.memories.values())
    assert all(finding.severity == INFO for finding in desk.findings)


# --- clearing and merging ----------------------------------------------------------------------------------


def test_a_referral_or_complaint_from_the_moment_of_the_ask_clears_it_and_one_delivered_late_does_not() -> (
    None
):
    desk = a_regular(Desk())
    [finding] = desk.send(feedback(0, nps=10))
    assert clearing(desk, finding, referral(-0.5)) is None, "delivered late: from before the ask"
    assert clearing(desk, finding, referral(0)) == "referral"
    assert clearing(desk, finding, complaint(1, "tv-1")) == "complaint"


def test_a_merge_keeps_the_later_ask_so_the_quiet_period_runs_from_it() -> None:
    detector = AdvocateOpportunity({})
    assert detector.merge(200, 100, CustomerState()) == 200
    assert detector.merge(100, None, CustomerState()) == 100
    assert detector.merge(None, None, CustomerState()) is None


def test_the_satisfaction_is_told_to_two_places_and_in_whole_percent() -> None:
    desk = Desk()
    desk.send(purchase(0), feedback(10.5, csat=5), purchase(20), feedback(30, nps=8), purchase(40))
    [finding] = desk.send(purchase(61))
    satisfaction = desk.state.satisfaction
    assert satisfaction is not None
    assert round(satisfaction, 2) != round(satisfaction, 3)
    assert finding.details["satisfaction"] == round(satisfaction, 2)
    assert f"is a loyal customer, {round(satisfaction * 100)}% satisfied" in finding.summary


def test_near_miss_a_regulars_late_old_promoter_score_does_not_count_over_a_newer_low_one() -> None:
    desk = a_regular(Desk())
    desk.send(feedback(5, nps=3))
    assert desk.send(feedback(1, nps=10)) == []


def test_near_miss_only_feedback_gives_a_promoters_score() -> None:
    desk = a_regular(Desk())
    desk.send(feedback(0, nps=10))
    assert desk.send(touchpoint("visit", 91, nps=10)) == [], (
        "the quiet period is over, but this is no feedback"
    )


def test_the_ask_says_thank_you_and_where_the_customer_gave_the_score() -> None:
    desk = a_regular(Desk())
    score = feedback(0, nps=10, channel="store")
    score["location"] = "store-berlin-mitte"
    [finding] = desk.send(score)
    assert (finding.channel, finding.location) == ("store", "store-berlin-mitte")
    assert finding.suggested_action == (
        "Thank the customer personally for their loyalty, then ask whether they would recommend us to a friend "
        "or leave a review; mention the referral programme if there is one."
    )


def test_a_memory_of_another_shape_is_read_as_no_earlier_ask() -> None:
    desk = a_regular(Desk())
    desk.memories["cust-1"] = ["not", "an", "instant"]
    assert len(desk.send(feedback(0, nps=10))) == 1
