"""A partition of the journey, driven in memory the way the worker is: records in the order given.

Each raw record goes through ingest's decoder; its touchpoint, then its claims, go to the journey
step, and whatever the step sends on (a routed touchpoint, a profile merging into its customer) is
applied next, as the worker's round trip through ``touchpoints.by-customer`` would apply it.
Unlike replay, nothing is sorted by event time: the order is the test's to choose.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from agents.domain.identity import Control, Forward, Merge, Split
from agents.domain.outputs import Outputs
from agents.domain.state import CustomerState
from agents.ingest.decode import Accepted, TouchpointDecoder
from agents.journey.step import ROUTED, UNCHANGED, Change, JourneyStep
from agents.journey.track import JourneyTracker


@dataclass
class Partition:
    """States and everything published, for one tracker."""

    tracker: JourneyTracker
    decoder: TouchpointDecoder
    states: dict[str, CustomerState] = field(default_factory=dict)
    published: Outputs = field(default_factory=Outputs)
    refused: list[Change] = field(default_factory=list)

    def __post_init__(self) -> None:
        #: Erased customers' keys → the instant of their erasure (the worker's ``erased_customers``).
        self.erased: dict[bytes, int] = {}
        self.step = JourneyStep(self.tracker, lambda key: self.states.get(key.decode()), self.erased.get)
        self._waiting: deque[Forward] = deque()

    def send(self, *events: dict[str, Any] | bytes) -> None:
        """Ingest each record, then apply it and everything it sets off."""
        for event in events:
            outcome = self.decoder(event if isinstance(event, bytes) else orjson.dumps(event))
            assert isinstance(outcome, Accepted), outcome
            self._apply(self.step.touchpoint(outcome.customer_id.encode(), 0, outcome.event))
            self._settle()
            for claim in outcome.claims:
                self._apply(self.step.identity(claim.key.encode(), 0, claim))
                self._settle()

    def control(self, key: str, message: Control | Split) -> Change:
        change = self.step.identity(key.encode(), 0, message)
        self._apply(change)
        self._settle()
        return change

    def erase(self, customer: str, at: str) -> Change:
        """Forget *customer* on request at *at* (RFC 3339), then apply what that sends on (its unlinks)."""
        request = {
            "schema_version": 1,
            "request_id": f"dsr-{customer}",
            "customer_id": customer,
            "requested_at": at,
            "by": "privacy-office",
            "reason": "gdpr-art-17",
        }
        change = self.step.erase(customer.encode(), 0, request, datetime.fromisoformat(at).timestamp())
        self.states.pop(customer, None)
        if change.forget_until is not None:
            self.erased[change.key] = change.forget_until
        self.published.extend(change.outputs)
        self._waiting.extend(change.outputs.forwards)
        self._settle()
        return change

    def profiles(self) -> dict[str, CustomerState]:
        return {key: state for key, state in self.states.items() if state.is_profile}

    @property
    def merges(self) -> list[Merge]:
        return self.published.merges

    def _apply(self, change: Change) -> None:
        if change.refused is not None:
            self.refused.append(change)
            return
        if change.cause not in (ROUTED, UNCHANGED):
            self.states[change.key.decode()] = change.state
        self.published.extend(change.outputs)
        self._waiting.extend(change.outputs.forwards)

    def _settle(self) -> None:
        while self._waiting:
            sent = self._waiting.popleft()
            if sent.touchpoint is not None:
                self._apply(self.step.touchpoint(sent.key.encode(), 0, sent.touchpoint))
            elif sent.control is not None:
                self._apply(self.step.identity(sent.key.encode(), 0, sent.control))
            elif sent.action is not None:
                self._apply(self.step.action(sent.key.encode(), 0, sent.action))


def tick(partition: Partition, until: int) -> None:
    """Fire every deadline of the partition up to *until* (as a quiet partition's wall-clock tick does)."""
    for change in partition.step.tick(0, until):
        partition._apply(change)
    partition._settle()
