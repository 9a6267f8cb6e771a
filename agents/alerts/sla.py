"""First-response SLAs: an inquiry opens a case for its conversation; the first reply closes it.

Story 1 of the domain brief: a customer asks at 19:30 about a discount, support
left at 17:30, nobody answers, and a competitor who follows up at 20:00 wins the
sale. Per channel, an inquiry that arrives while the channel's calendar is open
must be answered within a target of business time; one that arrives after
hours either within an on-call target (wall time) or within a target counted
from the next opening. Pure functions; agents/alerts/sla_cases.py keeps the cases in the
customer's state and turns due deadlines into alerts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Final

from agents.calendar import BusinessCalendar, Calendars
from agents.config import SlaConfig
from agents.domain.alert import (
    AFTER_HOURS_UNANSWERED,
    CRITICAL,
    FIRST_RESPONSE_BREACH,
    FIRST_RESPONSE_DUE_SOON,
    INFO,
    WARNING,
    Alert,
    make_alert_id,
)
from agents.domain.instants import local_time

# Case flags (a bit set keeps the state small).
AFTER_HOURS: Final = 1
INTENT: Final = 2
WARNED: Final = 4
BREACHED: Final = 8
SUPPRESSED: Final = 16
HANDLED: Final = 32  # an operator acknowledged or resolved one of its alerts: raise nothing more for it


@dataclass(slots=True)
class Case:
    """One open first-response case (a list in the state: see ``to_list``)."""

    opened_at: int
    deadline: int
    warn_at: int
    event_id: str
    flags: int
    channel: str
    location: str | None
    topic: str | None

    # Written out for the compiled core, as Outputs' (agents/domain/outputs.py): a case is read
    # back from its list for every touchpoint of a customer with one open.
    def __init__(
        self,
        opened_at: int,
        deadline: int,
        warn_at: int,
        event_id: str,
        flags: int,
        channel: str,
        location: str | None,
        topic: str | None,
    ) -> None:
        self.opened_at = opened_at
        self.deadline = deadline
        self.warn_at = warn_at
        self.event_id = event_id
        self.flags = flags
        self.channel = channel
        self.location = location
        self.topic = topic

    def to_list(self) -> list[Any]:
        return [
            self.opened_at,
            self.deadline,
            self.warn_at,
            self.event_id,
            self.flags,
            self.channel,
            self.location,
            self.topic,
        ]

    @classmethod
    def from_list(cls, data: list[Any]) -> Case:
        return cls(*data)

    def next_due(self) -> int | None:
        """The next instant this case needs attention, if any."""
        return _next_due(self.deadline, self.warn_at, self.flags)

    @property
    def breach_type(self) -> str:
        return AFTER_HOURS_UNANSWERED if self.flags & AFTER_HOURS else FIRST_RESPONSE_BREACH


def next_due(data: list[Any]) -> int | None:
    """``Case.next_due`` of a case in its list form (``Case.to_list``), without making the case."""
    return _next_due(data[1], data[2], data[4])


def _next_due(deadline: int, warn_at: int, flags: int) -> int | None:
    if flags & (BREACHED | HANDLED):
        return None
    if warn_at and not flags & WARNED:
        return warn_at
    return deadline


def open_case(
    event: dict[str, Any], instant: int, calendars: Calendars, config: SlaConfig, intent: bool
) -> Case | None:
    """A new case for a customer inquiry, or None when its channel has no first-response SLA."""
    channel = event["channel"]
    policy = config.channels.get(channel)
    if policy is None:
        return None
    location = event.get("location")
    calendar = calendars.for_touchpoint(channel, location)
    asked = datetime.fromtimestamp(instant, UTC)
    flags = INTENT if intent else 0
    if calendar.is_open(asked):
        due = calendar.add_business_time(asked, policy.target_minutes * 60)
    else:
        flags |= AFTER_HOURS
        if policy.after_hours == "on_call":
            due = None
            deadline = instant + round(policy.on_call_minutes * 60)
        else:
            due = calendar.add_business_time(asked, policy.after_hours_target_minutes * 60)
    if not flags & AFTER_HOURS or policy.after_hours != "on_call":
        # A calendar that never opens: fall back to wall time rather than never alerting.
        minutes = policy.after_hours_target_minutes if flags & AFTER_HOURS else policy.target_minutes
        deadline = int(due.timestamp()) if due is not None else instant + round(minutes * 60)
    warn_at = _warning_time(calendar, instant, deadline, round(config.warn_before_minutes * 60))
    attributes = event.get("attributes") or {}
    topic = attributes.get("topic")
    return Case(instant, deadline, warn_at, event["event_id"], flags, channel, location, topic)


def _warning_time(calendar: BusinessCalendar, asked: int, deadline: int, before: int) -> int:
    """When to warn that a deadline is near (0: never): *before* it, while the channel is staffed.

    A warning only helps if someone can still answer: at a moment the channel's calendar is closed
    it waits for the next opening, and if that is not before the deadline there is no warning.
    """
    if not before or deadline - before <= asked:
        return 0
    moment = datetime.fromtimestamp(deadline - before, UTC)
    if calendar.is_open(moment):
        return deadline - before
    opening = calendar.next_opening(moment)
    if opening is None or opening.timestamp() >= deadline:
        return 0
    return math.ceil(opening.timestamp())


def has_intent(event: dict[str, Any], viewed_today: bool, config: SlaConfig) -> bool:
    """Purchase intent: asking about price, discount, stock or availability, or about a product (``sku``).

    A question with no topic counts as shopping when the customer viewed products the same day. A
    question whose topic says otherwise (a delivery, a repair, an order placed) is service, whatever
    the customer looked at earlier that day.
    """
    attributes = event.get("attributes") or {}
    topic = attributes.get("topic")
    if isinstance(topic, str) and topic.lower() in config.intent_topics:
        return True
    if attributes.get("sku"):
        return True
    return viewed_today and not (isinstance(topic, str) and topic.strip())


def case_alert(
    alert_type: str,
    customer_id: str,
    case: Case,
    detected_at: int,
    stage: str,
    value_tier: str,
    top_tier: bool,
    zone: tzinfo = UTC,
    best_customer: bool = False,
) -> Alert:
    """The alert for a case whose warning time or deadline has come; times in *zone* (the channel's calendar).

    A missed deadline is a warning; it is critical (someone on call should act tonight) only for
    purchase intent from a customer who matters most: the top value tier or a best customer. The
    early warning is info, a warning with purchase intent, never critical.
    """
    reasons = ["no_first_response"]
    if case.flags & AFTER_HOURS:
        reasons.append("after_hours")
    intent = bool(case.flags & INTENT)
    if intent:
        reasons.append("purchase_intent")
    if top_tier:
        reasons.append("top_value_tier")
    if best_customer:
        reasons.append("best_customer")
    if alert_type == FIRST_RESPONSE_DUE_SOON:
        severity = WARNING if intent else INFO
    else:
        severity = CRITICAL if intent and (top_tier or best_customer) else WARNING
    details: dict[str, Any] = {"deadline": datetime.fromtimestamp(case.deadline, UTC).isoformat()}
    if case.topic:
        details["topic"] = case.topic
    # The text made here, not by describe(): one Alert made, not a second one by dataclasses.replace.
    summary, action = _texts(
        alert_type,
        customer_id,
        case.channel,
        case.opened_at,
        detected_at,
        case.deadline,
        case.topic,
        reasons,
        zone,
    )
    return Alert(
        alert_id=make_alert_id(alert_type, customer_id, (case.event_id,)),
        type=alert_type,
        severity=severity,
        customer_id=customer_id,
        occurred_at=case.opened_at,
        detected_at=detected_at,
        summary=summary,
        reasons=tuple(reasons),
        evidence=(case.event_id,),
        stage=stage,
        value_tier=value_tier,
        suggested_action=action,
        channel=case.channel,
        location=case.location,
        details=details,
    )


def describe(alert: Alert, zone: tzinfo = UTC) -> Alert:
    """Fill in the summary and suggested action from the alert's facts.

    The customer's state keeps only the facts of an open alert; the text is
    rebuilt here when a status change republishes it, byte for byte the same.
    """
    deadline = int(datetime.fromisoformat(alert.details["deadline"]).timestamp())
    summary, action = _texts(
        alert.type,
        alert.customer_id,
        alert.channel,
        alert.occurred_at,
        alert.detected_at,
        deadline,
        alert.details.get("topic"),
        alert.reasons,
        zone,
    )
    return alert.with_text(summary, action)


def _texts(
    alert_type: str,
    customer_id: str,
    channel: str | None,
    occurred_at: int,
    detected_at: int,
    deadline: int,
    topic: str | None,
    reasons: Sequence[str],
    zone: tzinfo,
) -> tuple[str, str]:
    """A first-response alert's summary and suggested action, from its facts."""
    local = local_time(occurred_at, zone)
    about = f" about {topic}" if topic else ""
    asked = f"Customer {customer_id} asked on {channel} at {local}{about}"
    if alert_type == FIRST_RESPONSE_DUE_SOON:
        summary = f"{asked}; the first-response deadline is in {round((deadline - detected_at) / 60)} min."
        action = "Answer now to stay within the first-response target."
    elif alert_type == AFTER_HOURS_UNANSWERED:
        summary = (
            f"{asked}, after hours, and has had no reply for {round((deadline - occurred_at) / 60)} min."
        )
        action = (
            "Reply now, even briefly; if nobody can, contact the customer first thing at opening. "
            "Competitors answer evenings: say what you can offer."
        )
    else:
        summary = f"{asked} and has had no reply for {round((deadline - occurred_at) / 60)} min."
        action = "Reply now and apologise for the wait; check the queue for others waiting as long."
    if "purchase_intent" in reasons:
        summary += " They showed purchase intent."
    if "best_customer" in reasons:
        summary += " A best customer (top decile by value)."
    elif "top_value_tier" in reasons:
        summary += " Top-tier customer."
    return summary, action


def revive(alert_id: str, customer_id: str, data: list[Any], calendars: Calendars) -> Alert:
    """An open alert back from the customer's state (``Alert.compact``), with its text.

    A detector's alert keeps its text; a first-response alert rebuilds its text from its facts,
    its times read on the calendar of its channel and location.
    """
    alert = Alert.from_compact(alert_id, customer_id, data)
    if alert.keeps_text:
        if alert.summary:
            return alert
        # Kept by an earlier version, which stored an acknowledged detector alert without its text.
        return alert.with_text(
            f"{alert.type.replace('_', ' ').capitalize()} for customer {customer_id}.",
            "See the alert as it was first raised.",
        )
    zone = calendars.for_touchpoint(alert.channel or "web", alert.location).zone
    return describe(alert, zone)
