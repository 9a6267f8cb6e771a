"""A partition of the journey, driven in memory the way the worker is: records in the order given.

Each raw record goes through ingest's decoder; its touchpoint, then its claims, go to the journey
step, and whatever the step sends on (a routed touchpoint, a profile merging into its customer) is
applied next, as the worker's round trip through ``touchpoints.by-customer`` would apply it.
Unlike replay, nothing is sorted by event time: the order is the test's to choose.

Every change is held to the step's contract on the way (``check``): it names its own key and
partition, says whether the customer was known and how many inquiries and cases it opened, and the
step's deadlines and best-customer population follow the states written. The partition is not 0,
so a change that loses its partition shows.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import orjson

from agents.domain.identity import Control, Forward, Merge, Split
from agents.domain.outputs import Outputs
from agents.domain.state import CustomerState, history
from agents.ingest.decode import Accepted, TouchpointDecoder
from agents.journey.step import DEADLINE, ERASURE, FORGOTTEN, ROUTED, UNCHANGED, Change, JourneyStep
from agents.journey.track import JourneyTracker

#: The partition driven: any but 0, which a lost partition (None, a default) could pass for.
NUMBER = 3


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
            key = outcome.customer_id.encode()
            self._run(key, partial(self.step.touchpoint, key, NUMBER, outcome.event))
            self._settle()
            for claim in outcome.claims:
                self._run(claim.key.encode(), partial(self.step.identity, claim.key.encode(), NUMBER, claim))
                self._settle()

    def control(self, key: str, message: Control | Split) -> Change:
        change = self._run(key.encode(), lambda: self.step.identity(key.encode(), NUMBER, message))
        self._settle()
        return change

    def action(self, key: str, action: dict[str, Any], received_at: float | None = None) -> Change:
        """Apply an operator's *action* on *key*, then what it sends on."""
        change = self._run(key.encode(), lambda: self.step.action(key.encode(), NUMBER, action, received_at))
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
        key = customer.encode()
        instant = datetime.fromisoformat(at).timestamp()
        change = self._run(key, lambda: self.step.erase(key, NUMBER, request, instant))
        self._settle()
        return change

    def profiles(self) -> dict[str, CustomerState]:
        return {key: state for key, state in self.states.items() if state.is_profile}

    @property
    def merges(self) -> list[Merge]:
        return self.published.merges

    def _run(self, key: bytes, decide: Callable[[], Change]) -> Change:
        """Take one change for *key*, hold it to the step's contract, and apply it as the worker does."""
        before = self.states.get(key.decode())
        known, opened = before is not None, _open(before)
        change = decide()
        check(change, key, known, opened)
        self._apply(change)
        return change

    def _apply(self, change: Change) -> None:
        if change.refused is not None:
            self.refused.append(change)
            return
        if change.cause == ERASURE:
            self.states.pop(change.key.decode(), None)
            if change.forget_until is not None:
                self.erased[change.key] = change.forget_until
        elif change.cause not in (ROUTED, UNCHANGED, FORGOTTEN):
            self.states[change.key.decode()] = change.state
        self.published.extend(change.outputs)
        self._waiting.extend(change.outputs.forwards)
        self._check_indexes()

    def _check_indexes(self) -> None:
        """The step's deadlines and buyers are those of the states written."""
        states = {key.encode(): state for key, state in self.states.items()}
        deadlines = {key: state.wake_at for key, state in states.items() if state.wake_at is not None}
        assert self.step.scheduled(NUMBER) == deadlines
        buyers = self.step.progress.buyers(NUMBER)
        assert set(buyers) == {key for key, state in states.items() if state.is_profile and state.clv_history}
        for key, (first_purchase, values) in buyers.items():
            state = states[key]
            assert first_purchase == state.first_purchase
            assert set(history(state.clv_history)) <= set(values)

    def _settle(self) -> None:
        while self._waiting:
            sent = self._waiting.popleft()
            key = sent.key.encode()
            if sent.touchpoint is not None:
                self._run(key, partial(self.step.touchpoint, key, NUMBER, sent.touchpoint))
            elif sent.control is not None:
                self._run(key, partial(self.step.identity, key, NUMBER, sent.control))
            elif sent.action is not None:
                self._run(key, partial(self.step.action, key, NUMBER, sent.action))


def tick(partition: Partition, until: int) -> list[Change]:
    """Fire every deadline of the partition up to *until* (as a quiet partition's wall-clock tick does)."""
    fired = []
    opened = {key.encode(): _open(state) for key, state in partition.states.items()}
    for change in partition.step.tick(NUMBER, until):
        # Advanced in place: the state written is the one the table held.
        assert change.state is partition.states[change.key.decode()]
        assert change.cause == DEADLINE
        check(change, change.key, True, opened[change.key])
        opened[change.key] = _open(change.state)
        partition._apply(change)
        fired.append(change)
    partition._settle()
    return fired


def check(change: Change, key: bytes, known: bool, opened: tuple[int, int]) -> None:
    """What every change of the step says of itself, whatever it comes from."""
    assert (change.key, change.partition) == (key, NUMBER)
    assert isinstance(change.state, CustomerState)
    assert change.state.partition == NUMBER
    if change.cause == FORGOTTEN:
        assert change.outputs == Outputs()
        return
    assert change.known is known
    if change.cause in (ROUTED, UNCHANGED) or change.refused is not None:
        assert (change.inquiries_opened, change.cases_opened) == (0, 0)
        return
    now = _open(None if change.cause == ERASURE else change.state)
    assert (change.inquiries_opened, change.cases_opened) == (now[0] - opened[0], now[1] - opened[1])


def _open(state: CustomerState | None) -> tuple[int, int]:
    return (0, 0) if state is None else (len(state.inquiries_open), len(state.sla_cases))
