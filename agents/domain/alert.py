"""Alerts: what a rule found, about whom, with the evidence and the next step (schemas/alert.v1.json).

An alert id is deterministic — rule, customer and triggering evidence — so a
redelivery or a replay never yields a second, different alert. It reads
``<type>/<customer id>/<digest>``: operations can see what it is about, and an
action on it can be routed to the customer's partition without a lookup.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from agents.domain.instants import iso

INFO: Final = "info"
WARNING: Final = "warning"
CRITICAL: Final = "critical"
SEVERITIES: Final = (INFO, WARNING, CRITICAL)

#: The alert types the journey raises itself, for first-response SLAs (agents/alerts/sla.py); the
#: detectors' types are their own (agents/catalogue.py).
AFTER_HOURS_UNANSWERED: Final = "after_hours_unanswered"
FIRST_RESPONSE_BREACH: Final = "first_response_breach"
FIRST_RESPONSE_DUE_SOON: Final = "first_response_due_soon"
SLA_ALERT_TYPES: Final = (AFTER_HOURS_UNANSWERED, FIRST_RESPONSE_BREACH, FIRST_RESPONSE_DUE_SOON)

OPEN: Final = "open"
ACKNOWLEDGED: Final = "acknowledged"
RESOLVED: Final = "resolved"
STATUSES: Final = (OPEN, ACKNOWLEDGED, RESOLVED)


def raise_severity(severity: str, steps: int = 1) -> str:
    """*severity* raised by *steps* levels, at most critical."""
    return SEVERITIES[min(SEVERITIES.index(severity) + steps, len(SEVERITIES) - 1)]


def make_alert_id(alert_type: str, customer_id: str, evidence: Sequence[str]) -> str:
    digest = hashlib.blake2b(
        "|".join((alert_type, customer_id, *evidence)).encode(), digest_size=6
    ).hexdigest()
    return f"{alert_type}/{customer_id}/{digest}"


def parse_alert_id(alert_id: str) -> tuple[str, str]:
    """(type, customer id) of an alert id; ValueError if it is not one of ours."""
    alert_type, _, rest = alert_id.partition("/")
    customer_id, _, digest = rest.rpartition("/")
    if not alert_type or not customer_id or len(digest) != 12:
        raise ValueError(f"not an alert id: {alert_id!r} (expected <type>/<customer id>/<12 hex digits>)")
    return alert_type, customer_id


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as published on ``alerts.<type>``; a status change republishes it with the new status."""

    alert_id: str
    type: str
    severity: str
    customer_id: str
    #: When the triggering touchpoint happened (epoch seconds).
    occurred_at: int
    #: When the rule fired, in event time: the deadline's instant for a timer, the event's for an event.
    detected_at: int
    summary: str
    reasons: tuple[str, ...]
    evidence: tuple[str, ...]
    stage: str
    value_tier: str
    suggested_action: str
    channel: str | None = None
    location: str | None = None
    status: str = OPEN
    status_changed_at: int | None = None
    status_changed_by: str | None = None
    #: Rule-specific facts (deadline, response time …), JSON-ready.
    details: dict[str, Any] = field(default_factory=dict)

    # Written out for the compiled core, as Outputs' (agents/domain/outputs.py): compiled, this runs
    # natively, where the frozen dataclass's generated one runs interpreted (docs/development.md).
    def __init__(
        self,
        alert_id: str,
        type: str,
        severity: str,
        customer_id: str,
        occurred_at: int,
        detected_at: int,
        summary: str,
        reasons: tuple[str, ...],
        evidence: tuple[str, ...],
        stage: str,
        value_tier: str,
        suggested_action: str,
        channel: str | None = None,
        location: str | None = None,
        status: str = OPEN,
        status_changed_at: int | None = None,
        status_changed_by: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        object.__setattr__(self, "alert_id", alert_id)
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "severity", severity)
        object.__setattr__(self, "customer_id", customer_id)
        object.__setattr__(self, "occurred_at", occurred_at)
        object.__setattr__(self, "detected_at", detected_at)
        object.__setattr__(self, "summary", summary)
        object.__setattr__(self, "reasons", reasons)
        object.__setattr__(self, "evidence", evidence)
        object.__setattr__(self, "stage", stage)
        object.__setattr__(self, "value_tier", value_tier)
        object.__setattr__(self, "suggested_action", suggested_action)
        object.__setattr__(self, "channel", channel)
        object.__setattr__(self, "location", location)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "status_changed_at", status_changed_at)
        object.__setattr__(self, "status_changed_by", status_changed_by)
        object.__setattr__(self, "details", {} if details is None else details)

    def with_status(self, status: str, at: int, by: str, **details: Any) -> Alert:
        # Every field by position, not dataclasses.replace: that walks the fields by name each call, and
        # every resolved alert comes through here.
        return Alert(
            self.alert_id,
            self.type,
            self.severity,
            self.customer_id,
            self.occurred_at,
            self.detected_at,
            self.summary,
            self.reasons,
            self.evidence,
            self.stage,
            self.value_tier,
            self.suggested_action,
            self.channel,
            self.location,
            status,
            at,
            by,
            {**self.details, **details},
        )

    def with_text(self, summary: str, suggested_action: str) -> Alert:
        """This alert with *summary* and *suggested_action*: by position, as ``with_status``, for the same
        reason (a first-response alert rebuilds its text each time a status change republishes it)."""
        return Alert(
            self.alert_id,
            self.type,
            self.severity,
            self.customer_id,
            self.occurred_at,
            self.detected_at,
            summary,
            self.reasons,
            self.evidence,
            self.stage,
            self.value_tier,
            suggested_action,
            self.channel,
            self.location,
            self.status,
            self.status_changed_at,
            self.status_changed_by,
            self.details,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "alert_id": self.alert_id,
            "type": self.type,
            "severity": self.severity,
            "status": self.status,
            "customer_id": self.customer_id,
            "occurred_at": iso(self.occurred_at),
            "detected_at": iso(self.detected_at),
            "summary": self.summary,
            "reasons": list(self.reasons),
            "evidence": list(self.evidence),
            "customer": {"stage": self.stage, "value_tier": self.value_tier},
            "suggested_action": self.suggested_action,
            "channel": self.channel,
            "location": self.location,
            "status_changed_at": None if self.status_changed_at is None else iso(self.status_changed_at),
            "status_changed_by": self.status_changed_by,
            "details": self.details,
        }

    def encode(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @property
    def keeps_text(self) -> bool:
        """Whether the customer's state keeps this alert's text: a first-response alert's is rebuilt from its facts."""
        return self.type not in SLA_ALERT_TYPES

    def compact(self) -> list[Any]:
        """The facts the customer's state keeps of an open alert, so a status change republishes it whole.

        A detector's alert keeps its summary and suggested action (its rule cannot rebuild them); a
        first-response alert keeps only its facts, and agents/alerts/sla.py rebuilds the text.
        """
        return [
            self.severity,
            self.occurred_at,
            self.detected_at,
            list(self.reasons),
            list(self.evidence),
            self.stage,
            self.value_tier,
            self.channel,
            self.location,
            self.status,
            self.details,
            *((self.summary, self.suggested_action) if self.keeps_text else ()),
        ]

    @classmethod
    def from_compact(cls, alert_id: str, customer_id: str, data: list[Any]) -> Alert:
        severity, occurred, detected, reasons, evidence, stage, tier, channel, location, status, details = (
            data[:11]
        )
        summary, action = data[11:13] if len(data) >= 13 else ("", "")
        kind = alert_id.partition("/")[0]
        return cls(
            alert_id=alert_id,
            type=kind,
            severity=severity,
            customer_id=customer_id,
            occurred_at=occurred,
            detected_at=detected,
            summary=summary,
            reasons=tuple(reasons),
            evidence=tuple(evidence),
            stage=stage,
            value_tier=tier,
            suggested_action=action,
            channel=channel,
            location=location,
            status=status,
            details=details,
        )


def queue_of(channel: str, location: str | None) -> str:
    """The queue an inquiry waits in: its channel and team (``chat:team-sales``; ``chat:-`` for none)."""
    return f"{channel}:{location or '-'}"


@dataclass(frozen=True, slots=True)
class DueSoon:
    """One inquiry whose first answer is due soon while its channel is staffed: an item of a digest."""

    #: The inquiry's own warning id (``first_response_due_soon/<customer>/<digest>``): stable, unique.
    item_id: str
    customer_id: str
    channel: str
    location: str | None
    #: The inquiry's event id.
    evidence: str
    asked_at: int
    warn_at: int
    deadline: int
    severity: str
    reasons: tuple[str, ...]
    topic: str | None
    stage: str
    value_tier: str

    @property
    def queue(self) -> str:
        return queue_of(self.channel, self.location)

    def to_json(self) -> dict[str, Any]:
        # Field by field, not dataclasses.asdict: the coordinator keeps every pending item and stores
        # them all on each record it applies, and asdict's recursive copy was a sixth of a worker's CPU.
        return {
            "item_id": self.item_id,
            "customer_id": self.customer_id,
            "channel": self.channel,
            "location": self.location,
            "evidence": self.evidence,
            "asked_at": self.asked_at,
            "warn_at": self.warn_at,
            "deadline": self.deadline,
            "severity": self.severity,
            "reasons": list(self.reasons),
            "topic": self.topic,
            "stage": self.stage,
            "value_tier": self.value_tier,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> DueSoon:
        return cls(**{**document, "reasons": tuple(document["reasons"])})
