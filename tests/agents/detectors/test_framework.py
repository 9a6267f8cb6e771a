"""The tracker's side of detectors: alerts from findings, top-tier boost, inhibition, timed escalation."""

from __future__ import annotations

from typing import Any

import pytest

import schemas
from agents.config import config_from_mapping
from agents.detectors.base import Context, Finding
from agents.domain.alert import parse_alert_id
from agents.domain.instants import DAY
from agents.domain.state import CustomerState
from agents.journey.track import JourneyTracker

pytestmark = pytest.mark.unit

T0 = 1_767_600_000  # 2026-01-05, a Monday


def event(number: int, kind: str = "visit", at: int = T0, **extra: Any) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {
        "schema_version": 1,
        "event_id": f"ev-{number}",
        "occurred_at": datetime.fromtimestamp(at, UTC).isoformat(),
        "customer_id": "cust-1",
        "channel": "web",
        "type": kind,
        "actor": "customer",
        **extra,
    }


class Stub:
    """Finds something on every page view; escalates one day later unless a purchase came."""

    type = "advocate_opportunity"  # a real type, so inhibitions and topics apply

    def __init__(self, options: Any = None) -> None:
        self.options = options

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        if context.event["type"] == "purchase":
            return None, []
        if context.event["type"] != "page_view":
            return memory, []
        finding = Finding(
            severity="info",
            evidence=(context.event["event_id"],),
            reasons=("stub",),
            summary=f"Customer {context.customer_id} looked.",
            suggested_action="Say hello.",
            occurred_at=context.instant,
            detected_at=context.instant,
        )
        return {"escalate_at": context.instant + DAY, "evidence": context.event["event_id"]}, [finding]

    def due(self, memory: Any) -> int | None:
        return memory.get("escalate_at") if memory else None

    def fire(
        self, memory: Any, customer_id: str, now: int, state: CustomerState
    ) -> tuple[Any, list[Finding]]:
        finding = Finding(
            severity="warning",
            evidence=(memory["evidence"], "escalated"),
            reasons=("stub", "escalated"),
            summary=f"Customer {customer_id} still looking.",
            suggested_action="Call.",
            occurred_at=now,
            detected_at=now,
        )
        return None, [finding]


def tracker_with_stub(config: Any = None) -> JourneyTracker:
    tracker = JourneyTracker(
        config or config_from_mapping({"alerts": {"cooldown_minutes": {"default": 0}}}), b"salt"
    )
    tracker.detection.detectors = [Stub()]
    return tracker


def test_a_finding_becomes_a_valid_alert_with_a_deterministic_id_and_the_customer_context() -> None:
    tracker = tracker_with_stub()
    step = tracker.track(None, "cust-1", event(1, "page_view"), 0)
    [alert] = step.alerts
    schemas.validator("alert")(alert.to_dict())
    assert parse_alert_id(alert.alert_id) == ("advocate_opportunity", "cust-1")
    assert (alert.stage, alert.value_tier, alert.summary) == ("prospect", "bronze", "Customer cust-1 looked.")
    again = tracker_with_stub().track(None, "cust-1", event(1, "page_view"), 0)
    assert again.alerts[0].alert_id == alert.alert_id


def test_a_top_tier_customer_gets_one_severity_level_more_and_the_summary_says_so() -> None:
    tracker = tracker_with_stub()
    state = tracker.track(
        None, "cust-1", event(1, "purchase", attributes={"amount": 6000, "currency": "EUR"}), 0
    ).state
    [alert] = tracker.track(state, "cust-1", event(2, "page_view", at=T0 + 60), 0).alerts
    assert alert.severity == "warning"
    assert "top_value_tier" in alert.reasons
    assert alert.summary.endswith("Top-tier customer: severity raised.")


def test_the_boost_can_be_switched_off() -> None:
    tracker = tracker_with_stub(
        config_from_mapping(
            {"detectors": {"top_tier_boost": False}, "alerts": {"cooldown_minutes": {"default": 0}}}
        )
    )
    state = tracker.track(
        None, "cust-1", event(1, "purchase", attributes={"amount": 6000, "currency": "EUR"}), 0
    ).state
    [alert] = tracker.track(state, "cust-1", event(2, "page_view", at=T0 + 60), 0).alerts
    assert alert.severity == "info"


def test_an_open_complaint_inhibits_an_advocate_opportunity_and_says_why() -> None:
    tracker = tracker_with_stub()
    state = tracker.track(None, "cust-1", event(1, "complaint", attributes={"issue_id": "tv"}), 0).state
    step = tracker.track(state, "cust-1", event(2, "page_view", at=T0 + 60), 0)
    assert step.alerts == []
    assert step.suppressed == [("advocate_opportunity", "inhibited")]
    resolved = tracker.track(
        step.state, "cust-1", event(3, "resolution", at=T0 + 120, attributes={"issue_id": "tv"}), 0
    )
    assert len(tracker.track(resolved.state, "cust-1", event(4, "page_view", at=T0 + 180), 0).alerts) == 1


def test_a_detector_deadline_fires_through_advance_at_its_instant_with_new_evidence() -> None:
    tracker = tracker_with_stub()
    step = tracker.track(None, "cust-1", event(1, "page_view"), 0)
    state = step.state
    assert state.wake_at == T0 + DAY
    assert tracker.advance(state, "cust-1", T0 + DAY - 1).alerts == []
    [escalation] = tracker.advance(state, "cust-1", T0 + DAY).alerts
    assert escalation.detected_at == T0 + DAY
    assert escalation.alert_id != step.alerts[0].alert_id
    assert "advocate_opportunity" not in state.detector_memory, "memory None is dropped"


def test_a_detector_alert_keeps_its_text_through_an_acknowledgement() -> None:
    tracker = tracker_with_stub()
    step = tracker.track(None, "cust-1", event(1, "page_view"), 0)
    [alert] = step.alerts
    action = {
        "schema_version": 1,
        "alert_id": alert.alert_id,
        "action": "acknowledge",
        "by": "anna",
        "at": "2026-01-05T09:00:00Z",
    }
    [acknowledged] = tracker.act(step.state, "cust-1", action).alerts
    assert (acknowledged.status, acknowledged.summary) == ("acknowledged", alert.summary)


def test_a_detector_alert_within_its_cooldown_is_suppressed_and_after_it_raised_again() -> None:
    tracker = tracker_with_stub(
        config_from_mapping({"alerts": {"cooldown_minutes": {"advocate_opportunity": 30}}})
    )
    step = tracker.track(None, "cust-1", event(1, "page_view"), 0)
    assert len(step.alerts) == 1
    within = tracker.track(step.state, "cust-1", event(2, "page_view", at=T0 + 29 * 60), 0)
    assert within.alerts == []
    assert within.suppressed == [("advocate_opportunity", "cooldown")]
    after = tracker.track(within.state, "cust-1", event(3, "page_view", at=T0 + 31 * 60), 0)
    assert len(after.alerts) == 1


def test_an_escalation_to_critical_is_never_held_back_by_the_cooldown() -> None:
    tracker = tracker_with_stub(
        config_from_mapping({"alerts": {"cooldown_minutes": {"default": 2 * 24 * 60}}})
    )
    state = tracker.track(
        None, "cust-1", event(1, "purchase", attributes={"amount": 6000, "currency": "EUR"}), 0
    ).state
    first = tracker.track(state, "cust-1", event(2, "page_view", at=T0 + 60), 0)
    assert [a.severity for a in first.alerts] == ["warning"]  # boosted from info
    escalated = tracker.advance(first.state, "cust-1", T0 + 60 + DAY)
    assert [a.severity for a in escalated.alerts] == ["critical"], (
        "warning boosted to critical passes the cooldown"
    )


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0, "under a minute"),
        (59, "under a minute"),
        (60, "1 minute"),
        (89, "1 minute"),
        (150, "2 minutes"),
        (3599, "60 minutes"),
        (3600, "1 hour"),
        (5400, "2 hours"),
        (86_399, "24 hours"),
        (86_400, "1 day"),
        (3 * 86_400 + 3600, "3 days"),
    ],
)
def test_a_span_between_two_events_reads_in_the_largest_whole_unit(seconds: int, said: str) -> None:
    from agents.detectors.base import describe_span

    assert describe_span(seconds) == said


def test_an_event_only_detector_never_schedules_and_fires_nothing() -> None:
    from agents.detectors.base import EventOnly

    rule = EventOnly()
    assert rule.due({"anything": 1}) is None
    state = CustomerState()
    assert rule.fire({"kept": True}, "cust-1", T0, state) == ({"kept": True}, [])
