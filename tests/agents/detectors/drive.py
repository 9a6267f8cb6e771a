"""The harness the detector stories share: events go through the journey tracker, then the detector.

Each module subclasses ``Desk`` to give it its detector by default. The detector's memory is
round-tripped through JSON between events as the changelog does, due escalations fire before the next
event as the tracker fires them, and every finding is checked as the alert the tracker makes of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import orjson

import schemas
from agents.config import Config, default_config
from agents.detectors.base import Clears, Context, Detector, Finding
from agents.domain.instants import DAY
from agents.domain.state import CustomerState
from agents.journey.track import JourneyTracker
from tests.agents.journey.touchpoints import SALT

CONFIG = default_config()
#: One minute, in the days the touchpoint helpers count in.
MINUTE = 1 / 1440


def at(text: str) -> int:
    """Epoch seconds of an RFC 3339 time."""
    return int(datetime.fromisoformat(text).timestamp())


def located(event: dict[str, Any], location: str) -> dict[str, Any]:
    """*event* at a store or team (the touchpoint helpers put unknown keywords in attributes)."""
    event["location"] = location
    return event


def context_for(state: CustomerState, event: dict[str, Any], config: Config = CONFIG) -> Context:
    """The context the tracker gives a detector for *event*, applied to *state*."""
    occurred = datetime.fromisoformat(event["occurred_at"])
    instant_ = int(occurred.timestamp())
    offset = occurred.utcoffset()
    local = instant_ + (int(offset.total_seconds()) if offset else 0)
    return Context(
        customer_id=event["customer_id"],
        event=event,
        instant=instant_,
        local_day=local // DAY,
        local_hour=local % DAY // 3600,
        state=state,
        calendars=config.calendars,
        zone=config.calendars.for_touchpoint(event["channel"], event.get("location")).zone,
    )


@dataclass
class Desk:
    """Customers fed through the tracker and then the detector, the way the worker will do it."""

    detector: Detector
    config: Config = CONFIG
    states: dict[str, CustomerState] = field(default_factory=dict)
    memories: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    #: Fire due escalations before each event and on ``advance`` (off: observe only).
    fire: bool = True
    #: Off for a rule that must keep no memory at all.
    keeps_memory: bool = True

    def __post_init__(self) -> None:
        self.tracker = JourneyTracker(self.config, SALT)

    def send(self, *events: dict[str, Any]) -> list[Finding]:
        found: list[Finding] = []
        for event in events:
            schemas.validator("touchpoint")(event)
            customer = event["customer_id"]
            if customer in self.states and self.fire:
                found.extend(self._advance(customer, at(event["occurred_at"])))
            step = self.tracker.track(self.states.get(customer), customer, event, 0)
            self.states[customer] = step.state
            if step.duplicate:
                continue
            context = context_for(step.state, event, self.config)
            memory, new = self.detector.observe(self.memories.get(customer), context)
            self._keep(customer, memory, new)
            found.extend(new)
        self.findings.extend(found)
        return found

    def advance(self, until: int, customer: str = "cust-1") -> list[Finding]:
        found = self._advance(customer, until)
        self.findings.extend(found)
        return found

    def _advance(self, customer: str, until: int) -> list[Finding]:
        found: list[Finding] = []
        while (due := self.detector.due(self.memories.get(customer))) is not None and due <= until:
            memory, new = self.detector.fire(
                self.memories.get(customer), customer, due, self.states[customer]
            )
            self._keep(customer, memory, new)
            found.extend(new)
        return found

    def _keep(self, customer: str, memory: Any, findings: list[Finding]) -> None:
        if not self.keeps_memory:
            assert memory is None, "this rule keeps no memory"
        self.memories[customer] = orjson.loads(orjson.dumps(memory))  # as the changelog keeps it
        for finding in findings:
            # The alert the tracker makes of the finding satisfies the alert contract.
            alert = self.tracker.detection.alert(self.detector.type, customer, finding, self.states[customer])
            schemas.validator("alert")(orjson.loads(alert.encode()))

    @property
    def memory(self) -> Any:
        return self.memories.get("cust-1")

    @property
    def state(self) -> CustomerState:
        return self.states["cust-1"]

    @property
    def due(self) -> int | None:
        return self.detector.due(self.memory)


def clearing(desk: Desk, finding: Finding, event: dict[str, Any]) -> str | None:
    """How *event*, the customer's next, clears the alert *finding* became (None: it does not)."""
    customer = event["customer_id"]
    alert = desk.tracker.detection.alert(desk.detector.type, customer, finding, desk.states[customer])
    step = desk.tracker.track(desk.states[customer], customer, event, 0)
    desk.states[customer] = step.state
    return cast(Clears, desk.detector).clears(alert, context_for(step.state, event, desk.config))
