"""Story 4, selling during support: a customer who complains or asks for help does not want an upsell.

Events run through the shared desk in ``drive``: the journey tracker first, then the detector, as the
worker will do it. Day 0 is Monday 5 January 2026, 10:00 UTC (11:00 in Berlin, the built-in calendars'
zone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings

from agents.detectors.base import Detector
from agents.detectors.registry import build_detectors
from agents.detectors.sales_in_service import TYPE, SalesInService
from agents.domain.alert import WARNING
from tests.agents.detectors import drive
from tests.agents.detectors.drive import CONFIG, clearing
from tests.agents.journey.histories import histories
from tests.agents.journey.touchpoints import (
    complaint,
    inquiry,
    instant,
    reply,
    resolution,
    touchpoint,
)

pytestmark = pytest.mark.unit


@dataclass
class Desk(drive.Desk):
    """The shared desk with SalesInService as its detector by default."""

    detector: Detector = field(default_factory=lambda: SalesInService(CONFIG.detectors[TYPE]))
    keeps_memory: bool = False


def offer(day: float, conversation: str | None = None, channel: str = "phone", **kw: Any) -> dict[str, Any]:
    """An agent pitches *offer_id* (default ``upgrade-55``)."""
    return touchpoint(
        "offer",
        day,
        channel=channel,
        actor=kw.pop("actor", "agent"),
        conversation=conversation,
        offer_id=kw.pop("offer_id", "upgrade-55"),
        **kw,
    )


# --- the story ---------------------------------------------------------------------------------------------


def test_story_4_an_upsell_on_the_call_of_a_customer_whose_complaint_is_open_raises_a_warning() -> None:
    desk = Desk()
    pitch = offer(1, conversation="call-2")

    assert desk.send(complaint(0, "tv-1", channel="phone", conversation="call-1")) == []
    [finding] = desk.send(touchpoint("call_started", 1, channel="phone", conversation="call-2"), pitch)

    assert finding.severity == WARNING
    assert finding.reasons == ("offer_during_open_complaint",)
    assert finding.evidence == (pitch["event_id"],)
    assert finding.occurred_at == finding.detected_at == instant(1)
    assert (finding.channel, finding.location) == ("phone", None)
    assert finding.summary == (
        "Customer cust-1 was made offer upgrade-55 on phone at Tue 06 Jan 11:00 CET while their complaint "
        "about issue tv-1 is still open (raised 1 day earlier): sold to during a service contact."
    )
    assert finding.suggested_action.startswith(
        "Stop selling to this customer until the service case is closed"
    )
    assert finding.details == {"offer_id": "upgrade-55", "open_issues": ["tv-1"]}


def test_an_offer_in_the_chat_where_the_customers_question_is_unanswered_raises_a_warning() -> None:
    desk = Desk()
    [finding] = desk.send(
        inquiry(0, "chat-1", topic="repair"), offer(0.01, conversation="chat-1", channel="chat")
    )
    assert finding.reasons == ("offer_during_open_conversation", "same_conversation")
    assert (
        "while their question in this same conversation has waited 14 minutes for an answer"
        in finding.summary
    )
    assert finding.details["open_conversations"] == ["chat-1"]


def test_a_campaign_push_while_questions_wait_elsewhere_names_them_all() -> None:
    desk = Desk()
    push = offer(2, channel="app", actor="system", offer_id="winter-10")
    [finding] = desk.send(
        inquiry(0, "mail-1", channel="email"),
        inquiry(1, "web-1", channel="web"),
        complaint(1.5, "oven-2"),
        complaint(1.6, "tv-1"),
        push,
    )
    assert finding.reasons == ("offer_during_open_complaint", "offer_during_open_conversation")
    assert (
        "their complaints about issues oven-2, tv-1 are still open (the latest raised 10 hours earlier)"
        in finding.summary
    )
    assert "2 questions of theirs have waited up to 2 days for an answer" in finding.summary
    assert finding.details["open_conversations"] == ["mail-1", "web-1"]


def test_many_open_complaints_are_named_a_few_at_a_time() -> None:
    desk = Desk()
    desk.send(*(complaint(n / 10, f"issue-{n}") for n in range(5)))
    [finding] = desk.send(offer(1))
    assert "issues issue-0, issue-1, issue-2 and 2 more are still open" in finding.summary
    assert len(finding.details["open_issues"]) == 5


def test_the_registry_builds_it_from_the_rules_file() -> None:
    [detector] = [d for d in build_detectors(CONFIG.detectors) if d.type == TYPE]
    assert isinstance(detector, SalesInService)


# --- near misses -------------------------------------------------------------------------------------------


def test_near_miss_an_offer_after_the_complaint_was_resolved_raises_nothing() -> None:
    assert Desk().send(complaint(0, "tv-1"), resolution(1, "tv-1"), offer(2)) == []


def test_near_miss_an_offer_with_nothing_open_raises_nothing() -> None:
    assert Desk().send(touchpoint("visit", 0), offer(1)) == []


def test_near_miss_an_offer_after_the_question_was_answered_raises_nothing() -> None:
    desk = Desk()
    assert desk.send(inquiry(0, "chat-1"), reply(0.01, "chat-1"), offer(0.02, "chat-1", channel="chat")) == []


def test_near_miss_a_campaign_offer_weeks_after_an_unanswered_question_elsewhere_raises_nothing() -> None:
    desk = Desk()
    assert desk.send(inquiry(0, "chat-1", topic="repair"), offer(3.1, channel="app")) == []


def test_an_unanswered_question_still_counts_in_its_own_conversation_after_three_days() -> None:
    desk = Desk()
    [finding] = desk.send(inquiry(0, "chat-1", topic="repair"), offer(5, "chat-1", channel="chat"))
    assert finding.details["open_conversations"] == ["chat-1"]


def test_near_miss_an_offer_answering_a_question_about_a_discount_is_selling_not_service() -> None:
    desk = Desk()
    assert desk.send(inquiry(0, "chat-1", topic="discount"), offer(0.01, "chat-1", channel="chat")) == []


def test_near_miss_a_late_offer_from_before_the_complaint_raises_nothing() -> None:
    desk = Desk()
    assert desk.send(complaint(2, "tv-1"), offer(1)) == []


# --- properties --------------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(histories().map(lambda events: [e for e in events if e["type"] != "offer"]))
def test_a_history_without_offers_raises_nothing(events: list[dict[str, Any]]) -> None:
    assert Desk().send(*events) == []


@settings(max_examples=100, deadline=None)
@given(histories().map(lambda events: [e for e in events if e["type"] not in ("complaint", "inquiry")]))
def test_offers_to_customers_with_no_complaint_and_no_question_raise_nothing(
    events: list[dict[str, Any]],
) -> None:
    assert Desk().send(*events) == []


def test_near_miss_with_a_complaint_and_a_question_open_only_an_offer_raises() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"), inquiry(0.1, "conv-1", topic="repair"))
    kinds = ("visit", "page_view", "purchase", "refund", "feedback", "referral", "call_started", "call_ended")
    for kind in kinds:
        assert desk.send(touchpoint(kind, 0.2, amount=10.0, currency="EUR", csat=1)) == []
    assert len(desk.send(offer(0.3))) == 1


def test_the_action_is_to_stop_selling_until_the_service_case_is_closed() -> None:
    [finding] = Desk().send(complaint(0, "tv-1"), offer(1))
    assert finding.suggested_action == (
        "Stop selling to this customer until the service case is closed: resolve the complaint or answer the "
        "open question first, apologise if the offer landed badly, and keep customers with open service "
        "cases out of campaigns."
    )


def test_a_question_elsewhere_counts_for_exactly_three_days() -> None:
    desk = Desk()
    [finding] = desk.send(inquiry(0, "chat-1", topic="repair"), offer(3, channel="app"))
    assert finding.reasons == ("offer_during_open_conversation",)
    assert "while a question of theirs has waited 3 days for an answer" in finding.summary


def test_near_miss_an_offer_delivered_late_from_before_the_question_raises_nothing() -> None:
    desk = Desk()
    assert desk.send(inquiry(1, "chat-1", topic="repair"), offer(0.5, channel="app")) == []


def test_the_alert_clears_only_once_every_complaint_and_question_it_names_is_closed() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"), complaint(0.1, "oven-2"), inquiry(0.2, "chat-1", topic="repair"))
    [finding] = desk.send(offer(1))
    assert clearing(desk, finding, resolution(2, "tv-1")) is None
    assert clearing(desk, finding, resolution(3, "oven-2")) is None, "the question is still unanswered"
    assert clearing(desk, finding, reply(4, "chat-1")) == "service_closed"


def test_three_open_complaints_are_all_named() -> None:
    desk = Desk()
    desk.send(*(complaint(n / 10, f"issue-{n}") for n in range(3)))
    [finding] = desk.send(offer(1))
    assert (
        "their complaints about issues issue-0, issue-1, issue-2 are still open (the latest"
        in finding.summary
    )


def test_the_alert_carries_the_offers_channel_and_location() -> None:
    desk = Desk()
    desk.send(complaint(0, "tv-1"))
    pitch = offer(1, channel="store")
    pitch["location"] = "store-berlin-mitte"
    [finding] = desk.send(pitch)
    assert (finding.channel, finding.location) == ("store", "store-berlin-mitte")


def test_a_complaint_or_question_at_the_very_instant_of_the_offer_counts() -> None:
    desk = Desk()
    [finding] = desk.send(complaint(1, "tv-1"), inquiry(1, "chat-1", topic="repair"), offer(1, channel="app"))
    assert finding.summary == (
        "Customer cust-1 was made offer upgrade-55 on app at Tue 06 Jan 11:00 CET while their complaint about "
        "issue tv-1 is still open (raised under a minute earlier) and a question of theirs has waited under a "
        "minute for an answer: sold to during a service contact."
    )
