"""The detector contract: pure rules over one customer's state and one touchpoint.

A detector keeps its own small, bounded memory in the customer's state (JSON-ready
data under its type), sees each touchpoint after the journey has applied it, and
returns findings. The tracker turns findings into alerts: it adds the
deterministic id, the customer context, the top-tier boost, inhibition and the
cooldown, so a detector only says what it saw and why it matters.

A detector that escalates with time (service recovery not resolved within 24
business hours) returns ``due`` instants; the tracker calls ``fire`` when one
comes, on the same durable per-customer timers as SLA deadlines.

Every alert ends (agents/alerts/closing.py). A detector whose alerts have a natural clearing
event (a resolution, a purchase) says so with ``cleared_by`` and ``clears`` (``Clears``); a
finding that escalates an earlier one names it in ``supersedes``; the rest expire after their
type's ``alerts.expire_after_hours``.

When an anonymous profile is merged into its customer (agents/identity/), each detector's two
memories become one. A detector may define ``merge(memory, other, state) -> memory`` for that
(*state* is the merged customer's); without it, the customer's own memory is kept, or the
profile's when the customer has none. One side's touchpoint may have cleared the other side's
alert before the merge: a detector that can tell from the merged state defines
``settled(alert, state) -> reason`` (``Settles``), and the alert closes with the merge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, NamedTuple, Protocol

from mypy_extensions import mypyc_attr

from agents.calendar import Calendars
from agents.domain.alert import Alert
from agents.domain.instants import DAY
from agents.domain.state import CustomerState


def describe_span(seconds: int) -> str:
    """A time between two events, readably: ``under a minute``, ``40 minutes``, ``5 hours``, ``3 days``."""
    if seconds < 60:
        return "under a minute"
    if seconds >= DAY:
        amount, unit = round(seconds / DAY), "day"
    elif seconds >= 3600:
        amount, unit = round(seconds / 3600), "hour"
    else:
        amount, unit = round(seconds / 60), "minute"
    return f"{amount} {unit}{'' if amount == 1 else 's'}"


class Context(NamedTuple):
    """What a detector may look at for one touchpoint (read only).

    A named tuple: one is made for every touchpoint, and a frozen dataclass costs four times as much to make.
    """

    customer_id: str
    #: The normalised touchpoint (schemas/touchpoint.v1.json), customer_id always present.
    event: dict[str, Any]
    #: The event's instant, epoch seconds.
    instant: int
    #: The event's local calendar day (days since 1970-01-01 in its own UTC offset) and hour 0-23.
    local_day: int
    local_hour: int
    #: The customer's state after the event was applied.
    state: CustomerState
    calendars: Calendars
    #: Zone of the calendar for the event's channel and location, for readable times.
    zone: tzinfo


@dataclass(frozen=True, slots=True)
class Finding:
    """Something a detector found; the tracker makes it an alert of the detector's type."""

    severity: str
    #: Event ids that triggered it; with the type and customer they make the alert id.
    evidence: tuple[str, ...]
    reasons: tuple[str, ...]
    summary: str
    suggested_action: str
    #: When the triggering touchpoint happened, and when the rule fired (event time).
    occurred_at: int
    detected_at: int
    details: dict[str, Any] = field(default_factory=dict)
    channel: str | None = None
    location: str | None = None
    #: The evidence of earlier findings of this detector that this one replaces (an escalation): their
    #: alerts, if open, are resolved as ``auto:superseded``.
    supersedes: tuple[tuple[str, ...], ...] = ()

    # Written out for the compiled core, as Outputs' (agents/domain/outputs.py): compiled, this runs
    # natively, where the frozen dataclass's generated one runs interpreted.
    def __init__(
        self,
        severity: str,
        evidence: tuple[str, ...],
        reasons: tuple[str, ...],
        summary: str,
        suggested_action: str,
        occurred_at: int,
        detected_at: int,
        details: dict[str, Any] | None = None,
        channel: str | None = None,
        location: str | None = None,
        supersedes: tuple[tuple[str, ...], ...] = (),
    ) -> None:
        object.__setattr__(self, "severity", severity)
        object.__setattr__(self, "evidence", evidence)
        object.__setattr__(self, "reasons", reasons)
        object.__setattr__(self, "summary", summary)
        object.__setattr__(self, "suggested_action", suggested_action)
        object.__setattr__(self, "occurred_at", occurred_at)
        object.__setattr__(self, "detected_at", detected_at)
        object.__setattr__(self, "details", {} if details is None else details)
        object.__setattr__(self, "channel", channel)
        object.__setattr__(self, "location", location)
        object.__setattr__(self, "supersedes", supersedes)


class Detector(Protocol):
    """One rule. Implementations are plain classes built from their config section."""

    #: The alert type, also the topic suffix (alerts.<type>) and the config key (detectors.<type>).
    type: str

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        """Update this detector's memory for one touchpoint; return (new memory, findings).

        *memory* is whatever this detector returned last time for the customer (None at
        first). It must stay small and bounded: it is part of every changelog record.
        Return None as memory to keep nothing. Never change *memory* itself: return a new one
        to change it; the same object back is taken to mean nothing changed.
        """
        ...

    def due(self, memory: Any) -> int | None:
        """The next instant at which time alone may produce a finding (None: never)."""
        ...

    def fire(
        self, memory: Any, customer_id: str, now: int, state: CustomerState
    ) -> tuple[Any, list[Finding]]:
        """Called once the instant from ``due`` has come (now >= it); same return as observe."""
        ...


class Clears(Protocol):
    """A detector whose alerts clear on a touchpoint: the cause went away (the issue was resolved …)."""

    type: str
    #: Touchpoint types that can clear this detector's alerts; no other touchpoint is looked at.
    cleared_by: frozenset[str]

    def clears(self, alert: Alert, context: Context) -> str | None:
        """Why this touchpoint (already applied to ``context.state``) clears the open *alert*, or None.

        The reason becomes ``status_changed_by: "auto:<reason>"``, e.g. ``resolution``.
        """
        ...


class Settles(Protocol):
    """A detector whose open alerts a merged customer's history can show cleared already."""

    type: str

    def settled(self, alert: Alert, state: CustomerState) -> str | None:
        """Why *state* (just merged) shows the open *alert*'s cause gone, or None; as ``Clears.clears``."""
        ...


@mypyc_attr(allow_interpreted_subclasses=True)  # plug-ins subclass it
class EventOnly:
    """Base for detectors with no time-based escalation."""

    def due(self, memory: Any) -> int | None:
        return None

    def fire(
        self, memory: Any, customer_id: str, now: int, state: CustomerState
    ) -> tuple[Any, list[Finding]]:
        return memory, []
