"""Story 7, twenty seconds: reaching a live agent should take under 20 s; a longer queue wait is an alert.

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
from agents.detectors.long_wait import MAX_WAITS, TYPE, LongWait
from agents.detectors.registry import build_detectors
from agents.domain.alert import CRITICAL, WARNING, make_alert_id
from tests.agents.detectors import drive
from tests.agents.detectors.drive import CONFIG, located
from tests.agents.journey.histories import histories
from tests.agents.journey.touchpoints import instant, touchpoint

pytestmark = pytest.mark.unit


@dataclass
class Desk(drive.Desk):
    """The shared desk with LongWait as its detector by default."""

    detector: Detector = field(default_factory=lambda: LongWait({}))


def waits(day: float, seconds: float, channel: str = "phone", **kw: Any) -> dict[str, Any]:
    """The customer waited *seconds* in the *channel* queue, *day* days after day 0."""
    return located(
        touchpoint(
            "queue_wait",
            day,
            channel=channel,
            actor="system",
            conversation=kw.pop("conversation", "call-1"),
            wait_seconds=seconds,
            **kw,
        ),
        "team-support",
    )


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


# --- what the alert says -----------------------------------------------------------------------------------


def test_a_first_long_wait_says_what_happened_and_what_to_do() -> None:
    [finding] = Desk().send(waits(0, 45, channel="chat"))
    assert finding.summary == (
        "Customer cust-1 waited 45 s in the chat queue at Mon 05 Jan 11:00 CET, over the 20 s standard."
    )
    assert finding.suggested_action == (
        "Call the customer back promptly and apologise for the wait; check the chat queue's staffing at this hour."
    )


def test_a_repeated_long_wait_says_how_soon_it_came_and_asks_for_a_senior_agent() -> None:
    desk = Desk()
    desk.send(waits(0, 45))
    [finding] = desk.send(waits(0 + 40 / 1440, 150))
    assert finding.summary == (
        "Customer cust-1 waited 2 min in the phone queue at Mon 05 Jan 11:40 CET, over the 20 s standard, "
        "only 40 min after another long wait."
    )
    assert finding.suggested_action == (
        "Call the customer back today with a senior agent, apologise for the repeated waits and give them a "
        "direct line or a callback slot; review the phone queue's staffing at these hours."
    )


def test_two_long_waits_in_the_same_second_make_the_second_a_repeat() -> None:
    desk = Desk()
    desk.send(waits(0, 45, conversation="call-1"))
    [finding] = desk.send(waits(0, 50, conversation="call-2"))
    assert finding.severity == CRITICAL
    assert "only 0 min after another long wait" in finding.summary


@pytest.mark.parametrize(
    ("hours", "said"),
    [
        pytest.param(1.5, "90 min", id="under two hours: minutes"),
        pytest.param(2, "2 h", id="exactly two hours: hours"),
        pytest.param(47, "47 h", id="under two days: hours"),
        pytest.param(48, "2 days", id="exactly two days: days"),
        pytest.param(6 * 24 + 13, "7 days", id="days, rounded"),
    ],
)
def test_the_gap_to_the_previous_long_wait_reads_in_minutes_hours_or_days(hours: float, said: str) -> None:
    desk = Desk()
    desk.send(waits(0, 45))
    [finding] = desk.send(waits(hours / 24, 45))
    assert finding.summary.endswith(f", only {said} after another long wait.")


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        pytest.param(119.5, "119.5 s", id="under two minutes: seconds as given"),
        pytest.param(120, "2 min", id="exactly two minutes: minutes"),
        pytest.param(150, "2 min", id="minutes, rounded half to even"),
        pytest.param(1530, "26 min", id="minutes, rounded"),
    ],
)
def test_a_wait_reads_in_seconds_up_to_two_minutes_then_in_minutes(seconds: float, said: str) -> None:
    [finding] = Desk().send(waits(0, seconds))
    assert f"waited {said} in the phone queue" in finding.summary
