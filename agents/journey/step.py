"""The journey of a whole partition, one record at a time: the step the live worker and replay share.

``JourneyStep`` applies a touchpoint to its customer, fires the deadlines (SLA warnings and
breaches, detector escalations, lapsing) that the partition's clock has passed, and applies
operators' actions. The clock of a partition is its event time as at least
``time.watermark_quorum`` customers attest it, less the allowed lateness
(agents/journey/watermark.py), so no single record can fire other customers' deadlines; in live
mode a quiet partition is moved on by signed wall-clock ticks (``tick``).

Every call returns ``Change``s: one customer's state after one decision and what to publish for
it. Apply them in order, each before asking for the next: a state is the customer's one object,
and the next change may move it on. The step reads states through *lookup* and never writes
them; its caller does (the worker's table through held-back writes, replay's dictionary).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from agents.domain.outputs import Outputs
from agents.domain.refusal import Rejected
from agents.domain.state import CustomerState
from agents.journey.deadlines import DeadlineIndex
from agents.journey.track import JourneyTracker, Step
from agents.journey.watermark import PartitionClock

__all__ = ["ACTION", "DEADLINE", "DUPLICATE", "TOUCHPOINT", "Change", "JourneyStep", "StateLookup"]

#: What a change comes from.
TOUCHPOINT: Final = "touchpoint"
DUPLICATE: Final = "duplicate"
DEADLINE: Final = "deadline"
ACTION: Final = "action"

#: What fired a deadline: the partition's event time, a wall-clock tick, or the end of a replay's day.
WATERMARK: Final = "watermark"
WALL_CLOCK: Final = "wall_clock"

#: A customer's current state by key (None: no state yet).
StateLookup = Callable[[bytes], CustomerState | None]


@dataclass(slots=True)
class Change:
    """One customer's state after one decision, and what to publish for it."""

    key: bytes
    partition: int
    #: TOUCHPOINT, DUPLICATE, DEADLINE or ACTION.
    cause: str
    #: The state to write (a refused record's is not written: a new customer's is a blank one).
    state: CustomerState
    outputs: Outputs = field(default_factory=Outputs)
    #: Whether the customer had a state before.
    known: bool = True
    #: How many unanswered conversations and first-response cases this change opened (negative: closed).
    inquiries_opened: int = 0
    cases_opened: int = 0
    #: A touchpoint's enriched event; empty for any other change.
    enriched: bytes = b""
    #: A touchpoint with an amount in a currency without a configured rate.
    unpriced: bool = False
    #: A deadline's own instant, and what fired it (WATERMARK, WALL_CLOCK or a caller's word).
    due: int | None = None
    trigger: str | None = None

    @property
    def refused(self) -> Rejected | None:
        """Why the record was refused (it belongs in the dead-letter topic), or None."""
        return self.outputs.refused


class JourneyStep:
    """The journey of the partitions one process owns: customers' decisions, deadlines and clocks."""

    def __init__(self, tracker: JourneyTracker, lookup: StateLookup) -> None:
        self.tracker = tracker
        self._lookup = lookup
        self._index = DeadlineIndex()
        self._clocks: dict[int, PartitionClock] = {}
        self._quorum = tracker.config.time.watermark_quorum
        self._lateness = int(tracker.config.deadlines.allowed_lateness_seconds)
        #: Per partition, the instant its clock has newly reached and whose deadlines are not fired yet.
        self._pending: dict[int, int] = {}

    def touchpoint(
        self, key: bytes, partition: int, event: dict[str, Any], received_at: float | None = None
    ) -> Change:
        """Apply *event* (a normalised touchpoint of the customer *key*), then take ``due(partition)``.

        *received_at* is its record's broker timestamp (epoch seconds), None without one. A refused
        touchpoint changes nothing (``refused`` says why); a redelivery is a DUPLICATE change with
        no outputs, whose state the worker writes again as it is.
        """
        known = self._lookup(key)
        before = _open_counts(known)
        step = self.tracker.track(known, key.decode(), event, partition, received_at)
        if step.refused is not None:
            return Change(key, partition, TOUCHPOINT, step.state, step, known is not None)
        if step.duplicate:
            return Change(key, partition, DUPLICATE, step.state, Outputs(), known is not None)
        change = _change(key, partition, TOUCHPOINT, step.state, step, before, known is not None)
        change.enriched = step.enriched or b""
        change.unpriced = step.unpriced
        self._index.schedule(partition, key, step.state.wake_at)
        clock = self._clocks.get(partition)
        if clock is None:
            clock = self._clocks[partition] = PartitionClock(self._quorum)
        watermark = clock.observe(key, step.instant)
        if watermark is not None:
            self._pending[partition] = watermark - self._lateness
        return change

    def due(self, partition: int) -> Iterator[Change]:
        """The deadlines of *partition* that its clock has passed since the last call, each applied as taken."""
        until = self._pending.pop(partition, None)
        if until is not None:
            yield from self._fire(partition, until, WATERMARK)

    def tick(self, partition: int, until: int, trigger: str = WALL_CLOCK) -> Iterator[Change]:
        """Fire every deadline of *partition* at or before *until*, each applied as taken."""
        yield from self._fire(partition, until, trigger)

    def action(
        self, key: bytes, partition: int, action: dict[str, Any], received_at: float | None = None
    ) -> Change:
        """Apply an operator's *action* (validated against schemas/alert_action.v1.json) for customer *key*."""
        state = self._lookup(key)
        before = _open_counts(state)
        outputs = self.tracker.act(state, key.decode(), action, received_at)
        if outputs.refused is not None or state is None:
            blank = state or CustomerState(partition=partition)
            return Change(key, partition, ACTION, blank, outputs, state is not None)
        self._index.schedule(partition, key, state.wake_at)
        return _change(key, partition, ACTION, state, outputs, before, True)

    def clock(self, partition: int) -> int | None:
        """*partition*'s event time as a quorum of customers attests it (None: not yet attested)."""
        clock = self._clocks.get(partition)
        return None if clock is None else clock.time

    def clock_snapshot(self, partition: int) -> list[tuple[int, str | bytes]]:
        """What *partition*'s clock knows, to combine with other partitions' (``PartitionClock.combined``)."""
        clock = self._clocks.get(partition)
        return [] if clock is None else clock.snapshot()

    def schedule(self, partition: int, key: bytes, wake_at: int | None) -> None:
        """Make *wake_at* the next deadline of customer *key* (after a rebalance, from the table)."""
        self._index.schedule(partition, key, wake_at)

    def forget_deadlines(self) -> None:
        """Drop every deadline (before rebuilding them for the partitions now owned)."""
        self._index.clear()

    def overdue(self, now: float) -> list[int]:
        """The partitions with a deadline at or before *now*."""
        return [
            partition
            for partition in self._index.partitions()
            if (due := self._index.next_due(partition)) is not None and due <= now
        ]

    def deadlines(self) -> int:
        """How many customers have a deadline."""
        return len(self._index)

    def _fire(self, partition: int, until: int, trigger: str) -> Iterator[Change]:
        for key, due in self._index.pop_due(partition, until):
            state = self._lookup(key)
            if state is None:
                continue
            before = _open_counts(state)
            outputs = self.tracker.advance(state, key.decode(), until)
            self._index.schedule(partition, key, state.wake_at)
            change = _change(key, partition, DEADLINE, state, outputs, before, True)
            change.due, change.trigger = due, trigger
            yield change


def _change(
    key: bytes,
    partition: int,
    cause: str,
    state: CustomerState,
    outputs: Outputs | Step,
    before: tuple[int, int],
    known: bool,
) -> Change:
    inquiries, cases = _open_counts(state)
    return Change(key, partition, cause, state, outputs, known, inquiries - before[0], cases - before[1])


def _open_counts(state: CustomerState | None) -> tuple[int, int]:
    """Unanswered inquiries and first-response cases of one customer (0, 0 for a new one)."""
    if state is None:
        return 0, 0
    return len(state.inquiries_open), len(state.sla_cases)
