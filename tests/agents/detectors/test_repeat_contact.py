"""Story 2, the television that kept breaking: the same issue comes back again and again, unresolved.

Events run through the shared desk in ``drive``: the journey tracker first, then the detector. Day 0 is
Monday 5 January 2026, 10:00 UTC (11:00 in Berlin, the built-in calendars' zone).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.config import config_from_mapping
from agents.detectors.base import Detector
from agents.detectors.registry import build_detectors
from agents.detectors.repeat_contact import EXTRA_CONTACTS, MAX_ISSUES, TYPE, RepeatContactUnresolved
from agents.domain.alert import CRITICAL, WARNING
from agents.journey.track import JourneyTracker
from tests.agents.detectors import drive
from tests.agents.detectors.drive import CONFIG, clearing, context_for, located
from tests.agents.journey.histories import histories
from tests.agents.journey.touchpoints import (
    SALT,
    complaint,
    feedback,
    inquiry,
    instant,
    purchase,
    refund,
    resolution,
    touchpoint,
)

pytestmark = pytest.mark.unit

#: The kinds of event that can be a contact; a history without them must raise nothing.
CONTACT_KINDS = ("complaint", "inquiry", "call_started")


@dataclass
class Desk(drive.Desk):
    """The shared desk with RepeatContactUnresolved as its detector by default."""

    detector: Detector = field(default_factory=lambda: RepeatContactUnresolved(CONFIG.detectors[TYPE]))


def call(day: float, issue: str = "tv-1", **kw: Any) -> dict[str, Any]:
    """The customer phones about *issue*: a complaint logged in a call of its own."""
    return located(complaint(day, issue, channel="phone", conversation=f"call-{day}", **kw), "team-support")


def asks(day: float, topic: str, conversation: str, **kw: Any) -> dict[str, Any]:
    """The customer writes in chat about *topic* (no issue id)."""
    return inquiry(day, conversation=conversation, topic=topic, **kw)


# --- the story ---------------------------------------------------------------------------------------------


def test_story_2_the_third_call_about_the_broken_tv_within_two_weeks_raises_a_warning() -> None:
    desk = Desk()
    first, second, third = call(0), call(4), complaint(9, "tv-1", conversation="mail-58")

    assert desk.send(first, second) == []
    [finding] = desk.send(third)

    assert finding.severity == WARNING
    assert finding.reasons == ("repeated_contacts", "unresolved_issue")
    assert finding.evidence == (first["event_id"], second["event_id"], third["event_id"])
    assert finding.occurred_at == finding.detected_at == instant(9)
    assert (finding.channel, finding.location) == ("email", None)
    assert finding.summary == (
        "Customer cust-1 has contacted us 3 times in 9 days about issue tv-1 and it is still not "
        "resolved (this time a complaint by email on Wed 14 Jan 11:00 CET)."
    )
    assert finding.suggested_action.startswith("Give issue tv-1 one owner who calls the customer back today")
    assert finding.details == {
        "contacts": 3,
        "window_days": 14,
        "first_contact_at": "2026-01-05T10:00:00+00:00",
        "issue_id": "tv-1",
    }


def test_each_further_contact_escalates_to_critical_with_new_evidence() -> None:
    desk = Desk()
    desk.send(call(0), call(1), call(2))
    fourth, fifth = call(3), call(4)

    [critical] = desk.send(fourth)
    [again] = desk.send(fifth)

    assert [f.severity for f in desk.findings] == [WARNING, CRITICAL, CRITICAL]
    assert critical.reasons == ("repeated_contacts", "unresolved_issue", "escalated")
    assert (critical.channel, critical.location) == ("phone", "team-support")
    assert critical.evidence[-1] == fourth["event_id"]
    assert again.evidence[-1] == fifth["event_id"]
    assert len({f.evidence for f in desk.findings}) == 3, "every escalation is a new alert"
    assert "contacted us 5 times in 4 days" in again.summary
    assert again.suggested_action.startswith("Escalate to a team lead today.")


def test_without_escalation_only_the_contact_that_reaches_the_threshold_raises() -> None:
    desk = Desk(detector=RepeatContactUnresolved({"escalate_each_contact": False}))
    assert len(desk.send(call(0), call(1), call(2), call(3), call(4))) == 1
    assert desk.findings[0].severity == WARNING


def test_the_threshold_comes_from_the_rules_file() -> None:
    config = config_from_mapping({"detectors": {TYPE: {"contacts": 2, "window_days": 3}}})
    desk = Desk(detector=RepeatContactUnresolved(config.detectors[TYPE]))
    [finding] = desk.send(call(0), call(2.5))
    assert finding.details["contacts"] == 2
    assert desk.send(call(6)) == [], "the first two calls are more than three days before it"


def test_three_contacts_exactly_fourteen_days_apart_end_to_end_still_count() -> None:
    assert len(Desk().send(call(0), call(7), call(14))) == 1


def test_repeated_questions_about_one_topic_in_separate_chats_count_as_contacts() -> None:
    desk = Desk()
    [finding] = desk.send(
        asks(0, "Repair", "chat-1"),
        asks(1, "repair", "chat-2"),
        asks(1.5, "repair ", "chat-3"),
        asks(2, "repair", "chat-4"),
    )
    assert finding.details["contacts"] == 4
    assert finding.details["topic"] == "repair"
    assert "about 'repair'" in finding.summary
    assert "this time a message by chat" in finding.summary


def test_an_inquiry_or_call_naming_the_issue_counts_with_the_complaints() -> None:
    desk = Desk()
    started = touchpoint(
        "call_started", 2, channel="phone", conversation="call-9", issue_id="tv-1", topic="repair"
    )
    [finding] = desk.send(
        call(0), asks(1, "anything", "chat-1") | {"attributes": {"issue_id": "tv-1"}}, started
    )
    assert "this time a call by phone" in finding.summary
    assert finding.details["issue_id"] == "tv-1"


def test_a_resolution_after_the_third_contact_clears_the_count_for_the_next_ones() -> None:
    desk = Desk()
    desk.send(call(0), call(1), call(2), resolution(2.5, "tv-1"))
    assert desk.memory is None
    assert desk.send(call(3), call(4)) == []
    assert len(desk.send(call(5))) == 1


def test_a_resolution_with_a_topic_clears_that_topic_too() -> None:
    desk = Desk()
    desk.send(asks(0, "repair", "chat-1"), asks(1, "repair", "chat-2"), asks(1.2, "repair", "chat-3"))
    desk.send(resolution(1.5, "case-7", topic=" Repair "))
    assert desk.send(asks(2, "repair", "chat-4")) == [], "the fourth question, but the first since"
    assert [entry[0] for entry in desk.memory["topic:repair"]] == [instant(2)]


def test_a_resolution_delivered_late_clears_the_contacts_up_to_its_instant_and_keeps_the_later_ones() -> None:
    desk = Desk()
    later = call(2)
    desk.send(call(0), call(1), later)
    desk.findings.clear()
    desk.send(resolution(1, "tv-1"))
    assert [entry[1] for entry in desk.memory["tv-1"]] == [later["event_id"]]
    assert desk.send(call(3)) == []
    assert len(desk.send(call(4))) == 1


def test_a_contact_delivered_late_at_the_instant_of_the_resolution_is_settled_by_it() -> None:
    desk = Desk()
    desk.send(call(3), call(4), resolution(5, "tv-1"))
    assert desk.send(call(5)) == []
    assert desk.memory is None


def test_a_contact_delivered_late_exactly_the_window_before_the_latest_counts() -> None:
    desk = Desk()
    desk.send(call(7), call(14))
    assert len(desk.send(call(0))) == 1


def test_beyond_four_issues_the_one_contacted_least_recently_is_forgotten() -> None:
    desk = Desk()
    issues = ("tv-1", "oven-2", "fridge-3", "blender-4", "lamp-5")
    for day, issue in enumerate(issues):
        desk.send(call(day, issue, event_id=f"ev-{9 - day}"))
    assert sorted(desk.memory) == ["blender-4", "fridge-3", "lamp-5", "oven-2"]


def test_without_escalation_an_issue_keeps_only_the_contacts_that_make_the_repetition() -> None:
    desk = Desk(detector=RepeatContactUnresolved({"escalate_each_contact": False}))
    desk.send(*(call(day) for day in range(6)))
    assert [entry[0] for entry in desk.memory["tv-1"]] == [instant(3), instant(4), instant(5)]


def test_contacts_at_the_same_instant_are_remembered_alike_whichever_arrives_first() -> None:
    first, second = Desk(), Desk()
    one, other = complaint(0, "tv-1", event_id="ev-b"), complaint(0, "tv-1", event_id="ev-a")
    first.send(dict(one), dict(other))
    second.send(dict(other), dict(one))
    assert first.memory == second.memory


def test_a_late_contact_from_before_the_issue_was_resolved_is_not_counted() -> None:
    desk = Desk()
    desk.send(call(3), call(4), resolution(5, "tv-1"), call(6), call(7))
    assert desk.send(call(4.5)) == [], "delivered late: it happened before the resolution"
    assert [entry[0] for entry in desk.memory["tv-1"]] == [instant(6), instant(7)]


def test_a_late_contact_within_the_window_counts_and_is_in_the_evidence() -> None:
    desk = Desk()
    late = call(1)
    desk.send(call(0), call(2))
    [finding] = desk.send(late)
    assert late["event_id"] in finding.evidence
    assert "3 times in 2 days" in finding.summary


def test_the_same_contact_outside_any_conversation_observed_twice_counts_once() -> None:
    detector = RepeatContactUnresolved({})
    event = complaint(0, "tv-1", event_id="ev-same")
    state = JourneyTracker(CONFIG, SALT).track(None, "cust-1", event, 0).state
    memory, _ = detector.observe(None, context_for(state, event))
    again, findings = detector.observe(memory, context_for(state, event))
    assert findings == []
    assert again == memory


def test_the_same_contact_observed_twice_counts_once() -> None:
    detector = RepeatContactUnresolved({})
    state = JourneyTracker(CONFIG, SALT).track(None, "cust-1", call(0), 0).state
    context = context_for(state, call(0, event_id="ev-same"))
    memory, _ = detector.observe(None, context)
    again, findings = detector.observe(memory, context)
    assert findings == []
    assert again == memory


def test_the_action_gives_the_issue_one_owner_and_asks_to_fix_the_cause() -> None:
    [finding] = Desk().send(call(0), call(1), call(2))
    assert finding.suggested_action == (
        "Give issue tv-1 one owner who calls the customer back today with the whole history, so they need "
        "not explain it again; fix the cause rather than the symptom (replace instead of repairing again if "
        "it keeps failing) and record the resolution."
    )


def test_past_the_contacts_it_keeps_the_summary_says_at_least() -> None:
    desk = Desk()
    # Three contacts make the repetition; three more are kept to escalate: the seventh is counted as six.
    desk.send(*(call(day) for day in range(6)))
    assert "contacted us 6 times" in desk.findings[-1].summary
    [seventh] = desk.send(call(6))
    assert "contacted us at least 6 times in 5 days" in seventh.summary
    assert seventh.details["contacts"] == 6


def test_the_evidence_lists_the_contacts_oldest_first() -> None:
    desk = Desk()
    [finding] = desk.send(call(0, event_id="ev-30"), call(1, event_id="ev-200"), call(2, event_id="ev-1000"))
    assert finding.evidence == ("ev-30", "ev-200", "ev-1000")


# --- clearing ----------------------------------------------------------------------------------------------


def test_a_resolution_of_the_issue_clears_the_alert_and_one_of_another_issue_does_not() -> None:
    desk = Desk()
    [finding] = desk.send(call(0), call(1), call(2))
    assert clearing(desk, finding, resolution(3, "oven-2")) is None
    assert clearing(desk, finding, resolution(3, "tv-1")) == "resolution"


def test_a_resolution_at_the_instant_of_the_alert_clears_it_and_one_from_before_does_not() -> None:
    desk = Desk()
    [finding] = desk.send(call(0), call(1), call(2))
    assert clearing(desk, finding, resolution(1.5, "tv-1")) is None, "delivered late: older than the alert"
    assert clearing(desk, finding, resolution(2, "tv-1")) == "resolution"


def test_a_resolution_naming_the_topic_in_any_case_clears_a_topic_alert() -> None:
    desk = Desk()
    [finding] = desk.send(*(asks(day, "repair", f"chat-{day}") for day in range(4)))
    assert clearing(desk, finding, resolution(4, "case-7", topic="delivery")) is None
    assert clearing(desk, finding, resolution(4, "case-7")) is None, "an issue id is not the topic"
    assert clearing(desk, finding, resolution(4, "case-7", topic=" Repair ")) == "resolution"


# --- merging -----------------------------------------------------------------------------------------------


def merged(mine: Any, theirs: Any) -> Any:
    return RepeatContactUnresolved({}).merge(mine, theirs, Desk().tracker.track(None, "c", call(0), 0).state)


def test_a_merge_with_a_profile_that_remembers_nothing_keeps_the_other_memory() -> None:
    contacts = {"tv-1": [[100, "ev-1", 0], [200, "ev-2", 0]]}
    assert merged(contacts, None) == contacts
    assert merged(None, contacts) == contacts
    assert merged(None, None) is None


def test_a_merge_orders_each_issues_contacts_by_time_whichever_side_they_came_from() -> None:
    mine = {"tv-1": [[100, "ev-9", 0], [300, "ev-b", 0]]}
    theirs = {"tv-1": [[200, "ev-10", 0], [300, "ev-a", 0]]}
    expected = {"tv-1": [[100, "ev-9", 0], [200, "ev-10", 0], [300, "ev-a", 0], [300, "ev-b", 0]]}
    assert merged(mine, theirs) == expected
    assert merged(theirs, mine) == expected


def test_a_merge_keeps_the_newest_contacts_of_an_issue_and_forgets_the_issue_contacted_least_recently() -> (
    None
):
    mine = {
        "tv-1": [[day, f"ev-{day}", 0] for day in (1000, 1200, 1300, 1400)],
        "blender-0": [[900, "ev-a", 0]],
        "oven-2": [[150, "ev-z", 0], [550, "ev-y", 0]],
    }
    theirs = {
        "tv-1": [[day, f"ev-{day}", 0] for day in (1100, 1250, 1350, 1450)],
        "fridge-3": [[50, "ev-x", 0], [500, "ev-b", 0]],
        "kettle-4": [[600, "ev-c", 0], [700, "ev-d", 0]],
    }
    result = merged(mine, theirs)
    assert [entry[0] for entry in result["tv-1"]] == [1200, 1250, 1300, 1350, 1400, 1450]
    assert sorted(result) == ["blender-0", "kettle-4", "oven-2", "tv-1"], "fridge-3's last contact is oldest"


def test_the_registry_builds_it_from_the_rules_file() -> None:
    [detector] = [d for d in build_detectors(CONFIG.detectors) if d.type == TYPE]
    assert isinstance(detector, RepeatContactUnresolved)


# --- near misses -------------------------------------------------------------------------------------------


def test_near_miss_two_contacts_raise_nothing() -> None:
    desk = Desk()
    assert desk.send(call(0), call(1)) == []
    assert len(desk.memory["tv-1"]) == 2


def test_near_miss_three_contacts_spread_over_more_than_fourteen_days_raise_nothing() -> None:
    desk = Desk()
    assert desk.send(call(0), call(7), call(14.5)) == []
    assert len(desk.memory["tv-1"]) == 2, "the first call has left the window"


def test_near_miss_resolved_in_between_raises_nothing() -> None:
    assert Desk().send(call(0), call(1), resolution(1.5, "tv-1"), call(2)) == []


def test_near_miss_three_contacts_about_three_issues_raise_nothing() -> None:
    assert Desk().send(call(0, "tv-1"), call(1, "oven-2"), call(2, "fridge-3")) == []


def test_near_miss_messages_of_one_chat_are_one_contact() -> None:
    desk = Desk()
    assert desk.send(*(asks(n / 24, "repair", "chat-1") for n in range(5))) == []
    assert len(desk.memory["topic:repair"]) == 1


def test_near_miss_asking_about_a_discount_again_and_again_is_shopping_not_an_unresolved_issue() -> None:
    desk = Desk()
    assert desk.send(*(asks(n, "discount", f"chat-{n}") for n in range(4))) == []
    assert desk.memory is None


def test_near_miss_agent_messages_and_inquiries_about_nothing_in_particular_are_not_contacts() -> None:
    desk = Desk()
    agent = [asks(n, "repair", f"chat-{n}", actor="agent") for n in range(3)]
    vague = [inquiry(n, conversation=f"web-{n}", channel="web") for n in range(3)]
    assert desk.send(*agent, *vague) == []
    assert desk.memory is None


def test_near_miss_events_that_are_not_contacts_raise_nothing_and_keep_nothing_even_naming_an_issue() -> None:
    desk = Desk()
    kinds = ("visit", "page_view", "reply", "call_ended", "queue_wait", "transfer", "offer", "referral")
    for day in range(4):
        for kind in kinds:
            named: dict[str, Any] = {
                "issue_id": "tv-1",
                "topic": "repair",
                "wait_seconds": 600,
                "transfer_kind": "cold",
            }
            assert desk.send(touchpoint(kind, day, channel="phone", offer_id="o-1", **named)) == []
        desk.send(purchase(day), refund(day + 0.5, 10.0), feedback(day + 0.6, csat=1, nps=0))
    assert desk.findings == []
    assert desk.memory is None


# --- memory ------------------------------------------------------------------------------------------------


def test_memory_stays_bounded_over_a_thousand_contacts_and_empties_once_the_window_passes() -> None:
    rng = random.Random(2)
    desk = Desk()
    largest = 0
    for number in range(1000):
        day = number * 0.3
        kind = rng.choice(("complaint", "inquiry", "call_started", "resolution", "visit"))
        issue = f"issue-{rng.randrange(12)}"
        if kind == "visit":
            event = touchpoint("visit", day)
        elif kind == "inquiry":
            event = asks(day, f"topic-{rng.randrange(6)}", f"chat-{rng.randrange(40)}")
        elif kind == "resolution":
            event = resolution(day, issue)
        else:
            event = touchpoint(kind, day, channel="phone", conversation=f"call-{number}", issue_id=issue)
        desk.send(event)
        memory = desk.memory or {}
        assert len(memory) <= MAX_ISSUES
        assert all(len(entries) <= 3 + EXTRA_CONTACTS for entries in memory.values())
        largest = max(largest, len(orjson.dumps(memory)))
    assert largest < 1024
    assert desk.findings, "the history is dense enough to raise"
    desk.send(touchpoint("visit", 300 + 15))
    assert desk.memory is None, "every contact has left the window"


def test_a_typical_memory_is_a_few_dozen_bytes() -> None:
    desk = Desk()
    desk.send(call(0))
    assert len(orjson.dumps(desk.memory)) < 50


@settings(max_examples=100, deadline=None)
@given(histories().map(lambda events: [e for e in events if e["type"] not in CONTACT_KINDS]))
def test_a_history_without_contacts_raises_nothing_and_keeps_nothing(events: list[dict[str, Any]]) -> None:
    desk = Desk()
    assert desk.send(*events) == []
    assert all(memory is None for memory in desk.memories.values())


@settings(max_examples=100, deadline=None)
@given(histories(dense=True), st.integers(2, 5))
def test_no_issue_raises_before_it_has_the_threshold_of_contacts(
    events: list[dict[str, Any]], contacts: int
) -> None:
    desk = Desk(detector=RepeatContactUnresolved({"contacts": contacts}))
    for finding in desk.send(*events):
        assert len(finding.evidence) == contacts
        assert finding.details["contacts"] >= contacts


def test_near_miss_three_questions_about_one_topic_are_not_yet_a_repetition() -> None:
    # A topic is a weaker sign of one issue than an issue id: three questions about repairs may be three repairs.
    desk = Desk()
    assert (
        desk.send(asks(0, "repair", "chat-1"), asks(1, "repair", "chat-2"), asks(1.5, "repair", "chat-3"))
        == []
    )
    # With an issue id, three contacts are enough.
    assert len(Desk().send(call(0), call(1), call(1.5))) == 1
