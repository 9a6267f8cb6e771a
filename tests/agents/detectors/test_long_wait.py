"""Story 7, twenty seconds: reaching a live agent should take under 20 s; a longer queue wait is an alert.

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
from agents.detectors.long_wait import MAX_WAITS, TYPE, LongWait
from agents.detectors.registry import build_detectors
from agents.journey.state import CustomerState
from agents.journey.track import JourneyTracker
from tests.agents.journey.histories import histories
from tests.agents.journey.touchpoints import DAY, SALT, instant, touchpoint

pytestmark = pytest.mark.unit

CONFIG = default_config()


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

    detector: Detector = field(default_factory=lambda: LongWait({}))
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


def waits(day: float, seconds: float, channel: str = "phone", **kw: Any) -> dict[str, Any]:
    """The customer waited *seconds* in the *channel* queue, *day* days after day 0."""
    event = touchpoint(
        "queue_wait",
        day,
        channel=channel,
        actor="system",
        conversation=kw.pop("conversation", "call-1"),
        wait_seconds=seconds,
        **kw,
    )
    event["location"] = "team-support"
    return event


# --- the story ---------------------------------------------------------------------------------------------


def test_story_7_a_45_second_wait_on_the_phone_misses_the_twenty_second_standard() -> None:
    desk = Desk()
    wait = waits(0, 45)
    started = touchpoint("call_started", 0, channel="phone", conversation="call-1")

    [finding] = desk.send(started, wait)

    assert finding.severity == WARNING
    assert finding.reasons == ("long_wait",)
    assert finding.evidence == (wait["event_id"],)
    assert finding.occurred_at == finding.detected_at == instant(0)
    assert (finding.channel, finding.location) == ("phone", "team-support")
    assert finding.summary == (
        "Customer cust-1 waited 45 s in the phone queue at Mon 05 Jan 11:00 CET, over the 20 s standard."
    )
    assert "call the customer back" in finding.suggested_action.lower()
    assert finding.details == {
        "wait_seconds": 45,
        "standard_seconds": 20,
        "long_waits_in_window": 1,
        "window_days": 7,
        "conversation_id": "call-1",
    }


def test_a_long_wait_on_chat_counts_too_and_long_ones_read_in_minutes() -> None:
    [finding] = Desk().send(waits(0, 750.5, channel="chat"))
    assert "waited 13 min in the chat queue" in finding.summary


def test_another_long_wait_within_seven_days_is_critical_and_names_the_gap() -> None:
    desk = Desk()
    first, second = waits(0, 45), waits(3, 30, channel="chat", conversation="chat-9")
    desk.send(first)
    [critical] = desk.send(second)
    assert critical.severity == CRITICAL
    assert critical.reasons == ("long_wait", "repeated_long_wait")
    assert critical.evidence == (second["event_id"],)
    assert critical.details["previous_long_wait_at"] == "2026-01-05T10:00:00+00:00"
    assert critical.details["long_waits_in_window"] == 2
    assert "only 3 days after another long wait" in critical.summary
    assert "senior agent" in critical.suggested_action


def test_a_long_wait_exactly_seven_days_later_is_still_a_repeat() -> None:
    desk = Desk()
    desk.send(waits(0, 45))
    [finding] = desk.send(waits(7, 45))
    assert finding.severity == CRITICAL


def test_a_late_earlier_long_wait_is_judged_as_the_ordered_history_would_judge_it() -> None:
    desk = Desk()
    desk.send(waits(5, 45))
    [late] = desk.send(waits(4, 45))
    assert late.severity == WARNING, "no long wait came before it"


# --- near misses -------------------------------------------------------------------------------------------


def test_near_miss_a_wait_of_exactly_twenty_seconds_raises_nothing() -> None:
    desk = Desk()
    assert desk.send(waits(0, 20), waits(0.1, 20.0), waits(0.2, 3)) == []
    assert desk.memory is None


def test_near_miss_a_long_wait_on_email_raises_nothing() -> None:
    assert Desk().send(waits(0, 3600, channel="email")) == []


def test_near_miss_two_long_waits_eight_days_apart_are_two_warnings() -> None:
    desk = Desk()
    desk.send(waits(0, 45))
    [second] = desk.send(waits(8, 45))
    assert second.severity == WARNING
    assert [f.severity for f in desk.findings] == [WARNING, WARNING]


def test_near_miss_a_short_wait_between_does_not_make_the_next_long_one_a_repeat() -> None:
    desk = Desk()
    desk.send(waits(0, 10), waits(1, 19))
    [finding] = desk.send(waits(2, 21))
    assert finding.severity == WARNING


# --- configuration, determinism, memory --------------------------------------------------------------------


def test_the_registry_builds_it_from_the_rules_file_with_the_schema_defaults() -> None:
    [built] = [d for d in build_detectors(CONFIG.detectors) if d.type == TYPE]
    assert isinstance(built, LongWait)
    assert (built.standard, built.channels, built.window_days) == (20, frozenset({"phone", "chat"}), 7)


def test_the_rules_file_sets_the_standard_the_channels_and_the_window() -> None:
    desk = Desk(detector=LongWait({"wait_seconds": 60, "channels": ["store"], "repeat_within_days": 1}))
    assert desk.send(waits(0, 45, channel="store"), waits(0.1, 600, channel="phone")) == []
    [first] = desk.send(waits(0.2, 61, channel="store"))
    [second] = desk.send(waits(1.5, 61, channel="store"))
    assert (first.severity, second.severity) == (WARNING, WARNING)
    assert "over the 60 s standard" in first.summary


def test_a_replay_gives_the_same_findings_and_so_the_same_alert_ids() -> None:
    events = [waits(0, 45), waits(1, 50), waits(9, 25), waits(9.5, 5)]
    first, second = Desk(), Desk()
    first.send(*events)
    second.send(*events)
    assert first.findings == second.findings
    assert len({make_alert_id(TYPE, "cust-1", f.evidence) for f in first.findings}) == 3


def test_memory_keeps_a_few_recent_instants_after_1000_long_waits() -> None:
    desk = Desk()
    for n in range(1000):
        desk.send(waits(n / 24, 30 + n))
    assert desk.memory == sorted(desk.memory)
    assert len(desk.memory) == MAX_WAITS
    assert desk.memory[-1] == instant(999 / 24)
    assert len(orjson.dumps(desk.memory)) < 60
    assert all(f.severity == CRITICAL for f in desk.findings[1:])


def test_memory_is_forgotten_once_the_window_after_the_last_long_wait_has_passed() -> None:
    desk = Desk()
    desk.send(waits(0, 45))
    assert desk.memory == [instant(0)]
    desk.send(touchpoint("visit", 7))
    assert desk.memory == [instant(0)]
    desk.send(touchpoint("visit", 7.01))
    assert desk.memory is None


@settings(max_examples=100, deadline=None)
@given(histories())
def test_nothing_is_raised_on_any_history_without_a_queue_wait(events: list[dict[str, Any]]) -> None:
    desk = Desk()
    desk.send(*(event for event in events if event["type"] != "queue_wait"))
    assert desk.findings == []
    assert all(memory is None for memory in desk.memories.values())


@settings(max_examples=100, deadline=None)
@given(histories())
def test_memory_stays_within_its_bound_on_any_history(events: list[dict[str, Any]]) -> None:
    desk = Desk()
    desk.send(*events)
    for memory in desk.memories.values():
        assert memory is None or 1 <= len(memory) <= MAX_WAITS
