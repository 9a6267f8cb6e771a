"""Hand-made normalised touchpoints and a small driver for the journey tracker, shared by the journey tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from agents.config import Config, default_config
from agents.domain.outputs import Transition
from agents.domain.state import CustomerState
from agents.journey.track import JourneyTracker, Step

SALT = b"test-salt"
#: Day 0 of every story: Monday 5 January 2026, 10:00 UTC.
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)

_ids = itertools.count(1)


def instant(day: float) -> int:
    """Epoch seconds of *day* days after T0."""
    return int((T0 + timedelta(days=day)).timestamp())


def touchpoint(
    kind: str,
    day: float,
    *,
    customer: str = "cust-1",
    channel: str = "web",
    actor: str = "customer",
    event_id: str | None = None,
    conversation: str | None = None,
    occurred_at: str | None = None,
    utc_offset_hours: float = 0,
    identifiers: dict[str, str] | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    """A normalised touchpoint (customer_id always present), *day* days after T0 unless *occurred_at* is given."""
    if occurred_at is None:
        zone = timezone(timedelta(hours=utc_offset_hours))
        occurred_at = (T0 + timedelta(days=day)).astimezone(zone).isoformat()
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_id": event_id or f"ev-{next(_ids)}",
        "occurred_at": occurred_at,
        "customer_id": customer,
        "channel": channel,
        "type": kind,
        "actor": actor,
    }
    if conversation is not None:
        event["conversation_id"] = conversation
    if identifiers is not None:
        event["identifiers"] = identifiers
    if attributes:
        event["attributes"] = attributes
    return event


def visit(day: float, **kw: Any) -> dict[str, Any]:
    return touchpoint("visit", day, **kw)


def purchase(day: float, amount: float = 100.0, currency: str = "EUR", **kw: Any) -> dict[str, Any]:
    return touchpoint(
        "purchase", day, channel=kw.pop("channel", "store"), amount=amount, currency=currency, **kw
    )


def refund(day: float, amount: float, currency: str = "EUR", **kw: Any) -> dict[str, Any]:
    return touchpoint(
        "refund",
        day,
        channel=kw.pop("channel", "store"),
        actor="agent",
        amount=amount,
        currency=currency,
        **kw,
    )


def complaint(day: float, issue: str = "issue-1", **kw: Any) -> dict[str, Any]:
    return touchpoint("complaint", day, channel=kw.pop("channel", "email"), issue_id=issue, **kw)


def resolution(day: float, issue: str = "issue-1", **kw: Any) -> dict[str, Any]:
    return touchpoint(
        "resolution", day, channel=kw.pop("channel", "email"), actor="agent", issue_id=issue, **kw
    )


def feedback(day: float, *, csat: int | None = None, nps: int | None = None, **kw: Any) -> dict[str, Any]:
    event = touchpoint("feedback", day, channel=kw.pop("channel", "email"), **kw)
    event["attributes"] = {name: score for name, score in (("csat", csat), ("nps", nps)) if score is not None}
    return event


def inquiry(day: float, conversation: str | None = "conv-1", **kw: Any) -> dict[str, Any]:
    return touchpoint("inquiry", day, channel=kw.pop("channel", "chat"), conversation=conversation, **kw)


def reply(day: float, conversation: str | None = "conv-1", actor: str = "agent", **kw: Any) -> dict[str, Any]:
    return touchpoint(
        "reply", day, channel=kw.pop("channel", "chat"), actor=actor, conversation=conversation, **kw
    )


def referral(day: float, **kw: Any) -> dict[str, Any]:
    return touchpoint("referral", day, channel=kw.pop("channel", "social"), **kw)


@dataclass
class Journey:
    """One customer fed through a tracker, the way the agent does it; keeps every transition."""

    config: Config = field(default_factory=default_config)
    customer_id: str = "cust-1"
    state: CustomerState | None = None
    transitions: list[Transition] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tracker = JourneyTracker(self.config, SALT)
        # These tests are about the SLA and lifecycle rules alone; the detectors have their own suite.
        self.tracker.detection.detectors = []

    def send(self, *events: dict[str, Any]) -> list[Step]:
        steps = []
        for event in events:
            step = self.tracker.track(self.state, self.customer_id, event, 3)
            self.state = step.state
            self.transitions.extend(step.transitions)
            steps.append(step)
        return steps

    def advance(self, until: int) -> list[Transition]:
        assert self.state is not None, "advance before any event"
        fired = self.tracker.advance(self.state, self.customer_id, until).transitions
        self.transitions.extend(fired)
        return fired

    @property
    def current(self) -> CustomerState:
        assert self.state is not None, "no event tracked yet"
        return self.state

    @property
    def stage(self) -> str:
        return self.current.stage
