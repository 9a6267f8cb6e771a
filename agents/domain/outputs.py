"""What the pure core asks to publish: lifecycle transitions and alerts, and what to count about them.

One call of the journey (a touchpoint, a deadline, an operator's action) fills one ``Outputs``;
the live agent sends and counts it, the offline replay writes it to files, in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from agents.domain.alert import Alert, DueSoon
from agents.domain.identity import Conflict, Forward, Merge
from agents.domain.instants import iso
from agents.domain.refusal import Rejected

__all__ = ["Erasure", "Outputs", "Transition"]


@dataclass(frozen=True, slots=True)
class Transition:
    """A customer moved from one lifecycle stage to another."""

    customer_id: str
    from_stage: str | None
    to_stage: str
    at: int
    #: The event type that caused it, ``win_back``, or ``inactivity`` when time alone did.
    cause: str
    event_id: str | None

    # Written out for the compiled core, as Outputs' below: compiled, this runs natively, where the
    # frozen dataclass's generated one runs interpreted.
    def __init__(
        self,
        customer_id: str,
        from_stage: str | None,
        to_stage: str,
        at: int,
        cause: str,
        event_id: str | None,
    ) -> None:
        object.__setattr__(self, "customer_id", customer_id)
        object.__setattr__(self, "from_stage", from_stage)
        object.__setattr__(self, "to_stage", to_stage)
        object.__setattr__(self, "at", at)
        object.__setattr__(self, "cause", cause)
        object.__setattr__(self, "event_id", event_id)

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "schema_version": 1,
                "customer_id": self.customer_id,
                "from": self.from_stage,
                "to": self.to_stage,
                "at": iso(self.at),
                "cause": self.cause,
                "event_id": self.event_id,
            }
        )


@dataclass(frozen=True, slots=True)
class Erasure:
    """A customer forgotten on request: the confirmation on ``privacy.erasures`` (schemas/erasure.v1.json)."""

    request_id: str
    customer_id: str
    #: As the request gave it (RFC 3339), and as an instant.
    requested_at: str
    erased_at: float
    by: str
    reason: str
    #: Whether there was any state of the customer to delete.
    found: bool
    alerts_resolved: int

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "schema_version": 1,
                "request_id": self.request_id,
                "customer_id": self.customer_id,
                "requested_at": self.requested_at,
                "erased_at": datetime.fromtimestamp(self.erased_at, UTC).isoformat(),
                "by": self.by,
                "reason": self.reason,
                "found": self.found,
                "alerts_resolved": self.alerts_resolved,
            }
        )


@dataclass(slots=True)
class Outputs:
    """What one call of the journey asks the agent to publish and count."""

    transitions: list[Transition] = field(default_factory=list)
    #: New alerts and status changes of existing ones, in order.
    alerts: list[Alert] = field(default_factory=list)
    #: (alert type, why) for each alert not raised: cooldown, snoozed or inhibited.
    suppressed: list[tuple[str, str]] = field(default_factory=list)
    #: (alert, seconds from detection) for each acknowledgement and each resolution.
    acknowledged: list[tuple[Alert, int]] = field(default_factory=list)
    resolved: list[tuple[Alert, int]] = field(default_factory=list)
    #: First-response warnings for the digests of their queues (sla.warning_digest_minutes), and the
    #: inquiries among those warned about that got their answer: (warning id, when).
    due_soon: list[DueSoon] = field(default_factory=list)
    answered: list[tuple[str, int]] = field(default_factory=list)
    #: An action named an alert this customer has no record of (already resolved or never raised).
    unknown_alert: bool = False
    #: Why the input was refused instead of applied, if it was: it belongs in the dead-letter topic.
    refused: Rejected | None = None
    #: The customer was forgotten on request: publish this, delete their state.
    erasure: Erasure | None = None
    #: Identity: merges and splits (identity.merges), conflicts (identity.conflicts), and records to send
    #: on to another key (a touchpoint routed to its customer, a profile on its way into one).
    merges: list[Merge] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    forwards: list[Forward] = field(default_factory=list)

    # Written out, not left to the dataclass: the compiled core runs this one natively, where the generated
    # one runs interpreted (2 µs for a Step), and the journey makes several for every touchpoint. The
    # fields and their defaults above stay the contract (tests/agents/domain/test_constructors.py).
    def __init__(
        self,
        transitions: list[Transition] | None = None,
        alerts: list[Alert] | None = None,
        suppressed: list[tuple[str, str]] | None = None,
        acknowledged: list[tuple[Alert, int]] | None = None,
        resolved: list[tuple[Alert, int]] | None = None,
        due_soon: list[DueSoon] | None = None,
        answered: list[tuple[str, int]] | None = None,
        unknown_alert: bool = False,
        refused: Rejected | None = None,
        erasure: Erasure | None = None,
        merges: list[Merge] | None = None,
        conflicts: list[Conflict] | None = None,
        forwards: list[Forward] | None = None,
    ) -> None:
        self.transitions = [] if transitions is None else transitions
        self.alerts = [] if alerts is None else alerts
        self.suppressed = [] if suppressed is None else suppressed
        self.acknowledged = [] if acknowledged is None else acknowledged
        self.resolved = [] if resolved is None else resolved
        self.due_soon = [] if due_soon is None else due_soon
        self.answered = [] if answered is None else answered
        self.unknown_alert = unknown_alert
        self.refused = refused
        self.erasure = erasure
        self.merges = [] if merges is None else merges
        self.conflicts = [] if conflicts is None else conflicts
        self.forwards = [] if forwards is None else forwards

    def extend(self, other: Outputs) -> None:
        self.transitions.extend(other.transitions)
        self.alerts.extend(other.alerts)
        self.suppressed.extend(other.suppressed)
        self.acknowledged.extend(other.acknowledged)
        self.resolved.extend(other.resolved)
        self.due_soon.extend(other.due_soon)
        self.answered.extend(other.answered)
        self.merges.extend(other.merges)
        self.conflicts.extend(other.conflicts)
        self.forwards.extend(other.forwards)
