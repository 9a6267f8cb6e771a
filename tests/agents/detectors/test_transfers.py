"""Story 3, transfers: a customer passed from agent to agent in one contact, or handed over cold.

Each event goes through the journey tracker first, then the detector, with its memory round-tripped
through JSON between events as the changelog does. Day 0 is Monday 5 January 2026, 10:00 UTC
(11:00 in Berlin, the built-in calendars' zone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings

import schemas
from agents.alerts.alert import CRITICAL, WARNING, Alert, make_alert_id
from agents.config import Config, default_config
from agents.detectors.base import Context, Detector, Finding
from agents.detectors.registry import build_detectors
from agents.detectors.transfers import MAX_CONTACTS, TYPE, ExcessiveTransfers
from agents.journey.state import CustomerState
from agents.journey.track import JourneyTracker
from tests.agents.journey.histories import histories
from tests.agents.journey.touchpoints import DAY, SALT, instant, touchpoint

pytestmark = pytest.mark.unit

CONFIG = default_config()
MINUTE = 1 / 1440


def context_for(state: CustomerState, event: dict[str, Any], config: Config = CONFIG) -> Context:
    """The context the tracker gives a detector for *event*, applied to *state*."""
    occurred = datetime.fromisoformat(event["occurred_at"])
    at = int(occurred.timestamp())
    offset = occurred.utcoffset()
    local = at + (int(offset.total_seconds()) if offset else 0)
    return Context(
        customer_id=event["customer_id"],
        event=event,
        instant=at,
        local_day=local // DAY,
        local_hour=local % DAY // 3600,
        state=state,
        calendars=config.calendars,
        zone=config.calendars.for_touchpoint(event["channel"], event.get("location")).zone,
    )


@dataclass
class Desk:
    """Customers fed through the tracker and then the detector, the way the worker will do it."""

    detector: Detector = field(default_factory=lambda: ExcessiveTransfers({}))
    tracker: JourneyTracker = field(default_factory=lambda: JourneyTracker(CONFIG, SALT))
    states: dict[str, CustomerState] = field(default_factory=dict)
    memories: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def send(self, *events: dict[str, Any]) -> list[Finding]:
        found: list[Finding] = []
        for event in events:
            schemas.validator("touchpoint")(event)
            customer = event["customer_id"]
            step = self.tracker.track(self.states.get(customer), customer, event, 0)
            self.states[customer] = step.state
            if step.duplicate:
                continue
            memory, new = self.detector.observe(self.memories.get(customer), context_for(step.state, event))
            self.memories[customer] = orjson.loads(orjson.dumps(memory))  # as the changelog keeps it
            for finding in new:
                _check_alert(customer, step.state, finding)
            found.extend(new)
        self.findings.extend(found)
        return found

    @property
    def memory(self) -> Any:
        return self.memories.get("cust-1")


def _check_alert(customer: str, state: CustomerState, finding: Finding) -> None:
    """The alert the tracker would make of *finding* satisfies the alert contract."""
    alert = Alert(
        alert_id=make_alert_id(TYPE, customer, finding.evidence),
        type=TYPE,
        severity=finding.severity,
        customer_id=customer,
        occurred_at=finding.occurred_at,
        detected_at=finding.detected_at,
        summary=finding.summary,
        reasons=finding.reasons,
        evidence=finding.evidence,
        stage=state.stage,
        value_tier=state.value_tier,
        suggested_action=finding.suggested_action,
        channel=finding.channel,
        location=finding.location,
        details=finding.details,
    )
    schemas.validator("alert")(orjson.loads(alert.encode()))


def transfer(
    minute: float, kind: str = "warm", conversation: str | None = "call-311", **kw: Any
) -> dict[str, Any]:
    """An agent transfers the customer's phone call *minute* minutes after day 0."""
    event = touchpoint(
        "transfer",
        minute * MINUTE,
        channel=kw.pop("channel", "phone"),
        actor="agent",
        conversation=conversation,
        transfer_kind=kind,
        **kw,
    )
    event["location"] = "team-support"
    return event


def call(minute: float, kind: str, conversation: str = "call-311", **attributes: Any) -> dict[str, Any]:
    """Another event of the phone call (call_started, queue_wait, call_ended …)."""
    event = touchpoint(
        kind, minute * MINUTE, channel="phone", actor="system", conversation=conversation, **attributes
    )
    event["location"] = "team-support"
    return event


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
