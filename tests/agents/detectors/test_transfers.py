"""Story 3, transfers: a customer passed from agent to agent in one contact, or handed over cold.

Events run through the shared desk in ``drive``: the journey tracker first, then the detector. Day 0 is
Monday 5 January 2026, 10:00 UTC (11:00 in Berlin, the built-in calendars' zone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from hypothesis import given, settings

from agents.detectors.base import Detector
from agents.detectors.registry import build_detectors
from agents.detectors.transfers import MAX_CONTACTS, TYPE, ExcessiveTransfers
from agents.domain.alert import CRITICAL, WARNING, make_alert_id
from agents.domain.state import CustomerState
from tests.agents.detectors import drive
from tests.agents.detectors.drive import CONFIG, MINUTE, context_for, located
from tests.agents.journey.histories import histories
from tests.agents.journey.touchpoints import instant, touchpoint

pytestmark = pytest.mark.unit


@dataclass
class Desk(drive.Desk):
    """The shared desk with ExcessiveTransfers as its detector by default."""

    detector: Detector = field(default_factory=lambda: ExcessiveTransfers({}))


def transfer(
    minute: float, kind: str = "warm", conversation: str | None = "call-311", **kw: Any
) -> dict[str, Any]:
    """An agent transfers the customer's phone call *minute* minutes after day 0."""
    return located(
        touchpoint(
            "transfer",
            minute * MINUTE,
            channel=kw.pop("channel", "phone"),
            actor="agent",
            conversation=conversation,
            transfer_kind=kind,
            **kw,
        ),
        "team-support",
    )


def call(minute: float, kind: str, conversation: str = "call-311", **attributes: Any) -> dict[str, Any]:
    """Another event of the phone call (call_started, queue_wait, call_ended …)."""
    return located(
        touchpoint(
            kind, minute * MINUTE, channel="phone", actor="system", conversation=conversation, **attributes
        ),
        "team-support",
    )


# --- the story ---------------------------------------------------------------------------------------------


def test_story_3_a_second_transfer_in_one_call_warns_that_the_customer_went_through_three_agents() -> None:
    desk = Desk()
    first, second = transfer(3), transfer(8)
    assert desk.send(call(0, "call_started"), call(1, "queue_wait", wait_seconds=15), first) == []

    [finding] = desk.send(second)

    assert finding.severity == WARNING
    assert finding.reasons == ("transfers_in_one_contact",)
    assert finding.evidence == (second["event_id"],)
    assert finding.occurred_at == finding.detected_at == instant(8 * MINUTE)
    assert (finding.channel, finding.location) == ("phone", "team-support")
    assert "3 agents" in finding.summary
    assert "2 transfers" in finding.summary
    assert "11:08 CET" in finding.summary  # the event's time on the channel calendar's clock
    assert "warm" in finding.suggested_action
    assert "call" in finding.suggested_action
    assert "repeat" in finding.suggested_action
    assert finding.details == {
        "contact": "call-311",
        "transfers": 2,
        "agents": 3,
        "threshold": 2,
        "transfer_kind": "warm",
    }
    assert desk.send(call(15, "call_ended")) == []


def test_a_cold_transfer_warns_even_when_it_is_the_first() -> None:
    desk = Desk()
    cold = transfer(3, "cold")
    [finding] = desk.send(call(0, "call_started"), cold)
    assert finding.severity == WARNING
    assert finding.reasons == ("cold_transfer",)
    assert finding.evidence == (cold["event_id"],)
    assert "transferred cold" in finding.summary
    assert "hand over warm" in finding.suggested_action


def test_a_cold_transfer_that_reaches_the_threshold_raises_one_alert_with_both_reasons() -> None:
    desk = Desk()
    assert desk.send(transfer(3, "warm")) == []
    [finding] = desk.send(transfer(8, "cold"))
    assert finding.severity == WARNING
    assert finding.reasons == ("transfers_in_one_contact", "cold_transfer")
    assert "the latest cold" in finding.summary


def test_a_cold_first_transfer_then_the_threshold_raise_two_different_alerts() -> None:
    desk = Desk()
    first, second = transfer(3, "cold"), transfer(8, "cold")
    [cold] = desk.send(first)
    [threshold] = desk.send(second)
    assert cold.evidence != threshold.evidence
    assert threshold.reasons == ("transfers_in_one_contact", "cold_transfer")


def test_a_third_transfer_escalates_to_critical_once_and_later_ones_raise_nothing_more() -> None:
    desk = Desk()
    desk.send(transfer(3), transfer(8))
    third = transfer(12)
    [critical] = desk.send(third)
    assert critical.severity == CRITICAL
    assert critical.reasons == ("transfers_in_one_contact", "escalated")
    assert critical.evidence == (third["event_id"],)
    assert "now been passed through 4 agents" in critical.summary
    assert desk.send(transfer(15), transfer(19, "cold")) == []
    assert [f.severity for f in desk.findings] == [WARNING, CRITICAL]


def test_a_redelivered_transfer_is_not_counted_again() -> None:
    desk = Desk()
    first = transfer(3)
    assert desk.send(first, first, first) == []
    assert desk.memory == [["call-311", 1, 0, instant(3 * MINUTE)]]


def test_a_second_cold_transfer_below_a_higher_threshold_does_not_warn_again() -> None:
    desk = Desk(detector=ExcessiveTransfers({"transfers": 3}))
    assert len(desk.send(transfer(3, "cold"))) == 1
    assert desk.send(transfer(8, "cold")) == []
    [threshold] = desk.send(transfer(12, "warm"))
    assert threshold.reasons == ("transfers_in_one_contact",)
    assert "4 agents" in threshold.summary


def test_with_a_threshold_of_one_the_first_transfer_warns_and_the_second_is_critical() -> None:
    desk = Desk(detector=ExcessiveTransfers({"transfers": 1}))
    [first] = desk.send(transfer(3, "cold"))
    assert first.reasons == ("transfers_in_one_contact", "cold_transfer")
    assert "2 agents in one phone contact (1 transfer, the latest cold" in first.summary
    [second] = desk.send(transfer(8))
    assert second.severity == CRITICAL


def test_transfers_without_a_conversation_id_count_per_channel_and_local_day() -> None:
    desk = Desk()
    assert desk.send(transfer(3, conversation=None)) == []
    assert desk.send(transfer(3 + 1440, conversation=None)) == [], "the next day is another contact"
    assert desk.send(transfer(3 + 1440, conversation=None, channel="chat")) == [], "so is another channel"
    [finding] = desk.send(transfer(20 + 1440, conversation=None))
    assert finding.details["contact"].startswith("phone@")


# --- near misses -------------------------------------------------------------------------------------------


def test_near_miss_one_warm_transfer_raises_nothing() -> None:
    desk = Desk()
    assert desk.send(call(0, "call_started"), transfer(3), call(9, "call_ended")) == []


def test_near_miss_two_warm_transfers_in_different_conversations_raise_nothing() -> None:
    desk = Desk()
    assert desk.send(transfer(3, conversation="call-1"), transfer(60, conversation="call-2")) == []


def test_near_miss_a_cold_transfer_raises_nothing_when_cold_transfer_alerts_are_off() -> None:
    desk = Desk(detector=ExcessiveTransfers({"cold_transfer_alerts": False}))
    assert desk.send(transfer(3, "cold")) == []
    [finding] = desk.send(transfer(8, "cold"))
    assert finding.reasons == ("transfers_in_one_contact", "cold_transfer")


def test_near_miss_another_customers_transfer_does_not_count_towards_this_one() -> None:
    desk = Desk()
    assert desk.send(transfer(3), transfer(8, customer="cust-2")) == []


# --- configuration, determinism, memory --------------------------------------------------------------------


def test_the_registry_builds_it_from_the_rules_file_with_the_schema_defaults() -> None:
    [built] = [d for d in build_detectors(CONFIG.detectors) if d.type == TYPE]
    assert isinstance(built, ExcessiveTransfers)
    assert (built.threshold, built.cold_alerts) == (2, True)
    empty = ExcessiveTransfers({})
    assert (empty.threshold, empty.cold_alerts) == (2, True)


def test_a_replay_gives_the_same_findings_and_so_the_same_alert_ids() -> None:
    events = [transfer(3, "cold"), transfer(8), transfer(12), transfer(30, conversation="call-2")]
    first, second = Desk(), Desk()
    first.send(*events)
    second.send(*events)
    assert first.findings == second.findings
    assert len({make_alert_id(TYPE, "cust-1", f.evidence) for f in first.findings}) == 3


def test_memory_keeps_only_the_last_few_contacts_after_1000_transfers() -> None:
    desk = Desk()
    for n in range(1000):
        desk.send(transfer(n, conversation=f"call-{n}"))
    assert len(desk.memory) == MAX_CONTACTS
    assert [entry[0] for entry in desk.memory] == [f"call-{n}" for n in range(996, 1000)]
    assert len(orjson.dumps(desk.memory)) < 200


def test_memory_is_small_and_forgets_a_contact_a_week_after_its_last_transfer() -> None:
    desk = Desk()
    desk.send(transfer(3), transfer(8))
    assert len(orjson.dumps(desk.memory)) <= 40
    desk.send(call(6 * 1440, "call_started", conversation="call-9"))
    assert desk.memory is not None
    desk.send(call(7 * 1440 + 8, "call_started", conversation="call-9"))
    assert desk.memory is None


def test_unreadable_memory_counts_as_nothing_remembered() -> None:
    detector = ExcessiveTransfers({})
    state = CustomerState(stage="prospect")
    event = transfer(3, "cold")
    for memory in ({"x": 1}, "junk", [["call-311", 1]], 7):
        remembered, [finding] = detector.observe(memory, context_for(state, event))
        assert remembered == [["call-311", 1, 1, instant(3 * MINUTE)]]
        assert finding.reasons == ("cold_transfer",)


@settings(max_examples=100, deadline=None)
@given(histories())
def test_nothing_is_raised_on_any_history_without_a_transfer(events: list[dict[str, Any]]) -> None:
    desk = Desk()
    desk.send(*(event for event in events if event["type"] != "transfer"))
    assert desk.findings == []
    assert all(memory is None for memory in desk.memories.values())


@settings(max_examples=100, deadline=None)
@given(histories())
def test_memory_stays_within_its_bound_on_any_history(events: list[dict[str, Any]]) -> None:
    desk = Desk()
    desk.send(*events)
    for memory in desk.memories.values():
        assert memory is None or 1 <= len(memory) <= MAX_CONTACTS


# --- what the alerts say, word for word -------------------------------------------------------------------

STOP_TRANSFERRING = (
    "Stop transferring: have one owner (a team lead if need be) take the case and call the customer back with "
    "its full history, so they repeat nothing; any further hand-off must be warm, the current agent briefing "
    "the next on the line."
)


def test_a_cold_transfer_says_the_customer_had_to_explain_again_and_how_to_hand_over() -> None:
    [finding] = Desk().send(transfer(1, "cold"))
    assert finding.summary == (
        "Customer cust-1 was transferred cold on phone at Mon 05 Jan 11:01 CET: the next agent had no "
        "hand-over, so the customer had to explain the case again."
    )
    assert finding.suggested_action == (
        "Brief the receiving agent on the case now so the customer repeats nothing, and have one agent own it "
        "to the end, calling the customer back if the call drops; hand over warm from now on: stay on the line "
        "and explain the case to the next agent."
    )
    assert finding.reasons == ("cold_transfer",)
    assert finding.details == {
        "contact": "call-311",
        "transfers": 1,
        "agents": 2,
        "threshold": 2,
        "transfer_kind": "cold",
    }


def test_too_many_transfers_count_the_agents_and_escalate_with_now() -> None:
    desk = Desk()
    desk.send(transfer(1))
    [warning] = desk.send(transfer(2))
    [critical] = desk.send(transfer(3, "cold"))
    assert warning.summary == (
        "Customer cust-1 has been passed through 3 agents in one phone contact "
        "(2 transfers, the latest warm at Mon 05 Jan 11:02 CET)."
    )
    assert critical.summary == (
        "Customer cust-1 has now been passed through 4 agents in one phone contact "
        "(3 transfers, the latest cold at Mon 05 Jan 11:03 CET)."
    )
    assert warning.suggested_action == critical.suggested_action == STOP_TRANSFERRING
    assert critical.reasons == ("transfers_in_one_contact", "escalated", "cold_transfer")
    assert desk.send(transfer(4)) == [], "beyond the escalation nothing more"


def test_a_single_transfer_threshold_says_one_transfer() -> None:
    [finding] = Desk(detector=ExcessiveTransfers({"transfers": 1})).send(transfer(1))
    assert finding.summary == (
        "Customer cust-1 has been passed through 2 agents in one phone contact "
        "(1 transfer, the latest warm at Mon 05 Jan 11:01 CET)."
    )


def test_merged_memories_keep_the_contacts_transferred_last() -> None:
    detector = ExcessiveTransfers({})
    mine = [["call-1", 1, 1, 100], ["call-2", 1, 0, 400], ["chat-7", 2, 1, 300]]
    theirs = [["call-3", 1, 0, 200], ["call-4", 1, 0, 500], ["call-1", 1, 0, 600]]
    merged = detector.merge(mine, theirs, CustomerState())
    # call-1 is in both: its transfers add up, its cold warning stays raised, and it was transferred last
    # (600); call-3 (200) is the oldest.
    assert merged == [
        ["chat-7", 2, 1, 300],
        ["call-2", 1, 0, 400],
        ["call-4", 1, 0, 500],
        ["call-1", 2, 1, 600],
    ]
    assert len(merged) == MAX_CONTACTS
    assert detector.merge(None, [], CustomerState()) is None
