"""What the pure core asks to publish: lifecycle transitions and alerts, and what to count about them.

One call of the journey (a touchpoint, a deadline, an operator's action) fills one ``Outputs``;
the live agent sends and counts it, the offline replay writes it to files, in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from agents.domain.alert import Alert
from agents.domain.identity import Conflict, Forward, Merge
from agents.domain.instants import iso
from agents.domain.refusal import Rejected

__all__ = ["Outputs", "Transition"]


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
    #: An action named an alert this customer has no record of (already resolved or never raised).
    unknown_alert: bool = False
    #: Why the input was refused instead of applied, if it was: it belongs in the dead-letter topic.
    refused: Rejected | None = None
    #: Identity: merges and splits (identity.merges), conflicts (identity.conflicts), and records to send
    #: on to another key (a touchpoint routed to its customer, a profile on its way into one).
    merges: list[Merge] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    forwards: list[Forward] = field(default_factory=list)

    def extend(self, other: Outputs) -> None:
        self.transitions.extend(other.transitions)
        self.alerts.extend(other.alerts)
        self.suppressed.extend(other.suppressed)
        self.acknowledged.extend(other.acknowledged)
        self.resolved.extend(other.resolved)
        self.merges.extend(other.merges)
        self.conflicts.extend(other.conflicts)
        self.forwards.extend(other.forwards)
