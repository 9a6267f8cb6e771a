"""Some of a replay's partitions, applied in event-time order, as the live worker's partitions would be.

Replay places each customer in the partition the live worker would (``streams.topics.partition_for``),
and each partition keeps its own clock, as a live partition does. So a process can apply any set
of partitions, alone, and the outputs of every partition are the same whichever process applied
it. The journey step is ``agents.journey.step.JourneyStep``, the live worker's.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final

import orjson

from agents.domain.identity import MERGE, Claim, Forward
from agents.domain.instants import DAY, day_number
from agents.domain.refusal import Rejected
from agents.domain.state import CustomerState
from agents.ingest.dead_letter import dead_letter_record
from agents.journey.step import DUPLICATE, ROUTED, Change, JourneyStep
from agents.journey.track import JourneyTracker
from agents.journey.watermark import PartitionClock
from streams import topics
from streams.replay.parts import END, Lines
from streams.replay.runs import Row
from streams.topics import partition_for

__all__ = ["ALERTS", "AS_OF", "CUSTOMERS", "FINAL", "Applied", "Shard"]

#: Every alert topic (alerts.<type>), written to one file.
ALERTS: Final = topics.alert_topic("*")
#: Not a topic: each customer's final state and model figures.
CUSTOMERS: Final = "customers"
#: What fires the last deadlines of a replay with ``as_of``: the end of that day.
AS_OF: Final = "as_of"
#: What fires the deadlines the replay's clock passed at its end, on every partition alike.
FINAL: Final = "final"

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Applied:
    """What applying some partitions gave."""

    duplicates: int = 0
    transitions: int = 0
    #: Identity: anonymous profiles merged into customers, identifiers claimed by several customers.
    merges: int = 0
    conflicts: int = 0
    alerts: Counter[str] = field(default_factory=Counter)
    #: Accepted by ingest, refused by the journey (conflicting duplicates, too old for the customer).
    refused: Counter[str] = field(default_factory=Counter)
    customers: int = 0
    stages: Counter[str] = field(default_factory=Counter)


class Shard:
    """The journey of some partitions of a replay, written through *lines*.

    What the live worker sends back into the flow (a touchpoint routed to its customer, an
    identifier's claim, a profile merging into its customer) is applied here at once, before the
    next touchpoint, in its key's partition: so a shard that meets identity records owns every
    partition (``partitions``), and replay applies them in one process.
    """

    def __init__(self, tracker: JourneyTracker, lines: Lines, source: str, partitions: int) -> None:
        self.tracker = tracker
        #: Every key's final state, by key: customers, anonymous profiles, identifiers' records.
        self.states: dict[str, CustomerState] = {}
        states = self.states
        self.journey = JourneyStep(tracker, lambda key: states.get(key.decode()))
        self.partitions: set[int] = set()
        self.applied = Applied()
        self._lines = lines
        self._source = source
        self._count = partitions
        self._waiting: deque[Forward] = deque()

    def apply(
        self, rows: Iterable[Row], progress: Callable[[int], None] | None = None, every: int = 2048
    ) -> None:
        """Apply *rows* (in event-time order); *progress(n)* hears of every *every* rows applied."""
        lines, write, touchpoint, forward = self._lines, self._lines.write, self._touchpoint, self._forward
        for count, (micros, number, partition, customer_id, body, claims) in enumerate(rows, 1):
            if progress is not None and count % every == 0:
                progress(every)
            self.partitions.add(partition)
            lines.at(micros, number)
            write(topics.BY_CUSTOMER, body)
            touchpoint(customer_id, partition, orjson.loads(body), body, number)
            if self._waiting:
                forward(number)
            for claim in claims:
                key = claim[0].encode()
                self._write((self.journey.identity(key, self._partition(key), Claim(*claim)),))
                forward(number)

    def _partition(self, key: bytes) -> int:
        partition = partition_for(key, self._count)
        self.partitions.add(partition)
        return partition

    def _touchpoint(
        self, customer_id: str, partition: int, event: dict[str, Any], body: bytes, number: int
    ) -> None:
        journey, applied = self.journey, self.applied
        change = journey.touchpoint(customer_id.encode(), partition, event)
        if change.refused is not None:
            self._refuse(body, change.refused, partition, number)
        elif change.cause == DUPLICATE:
            applied.duplicates += 1
        else:
            self._write((change,))
            if change.cause != ROUTED:
                self._lines.write(topics.ENRICHED, change.enriched)
                self._write(journey.due(partition))

    def _refuse(self, body: bytes, refused: Rejected, partition: int, number: int) -> None:
        self.applied.refused[refused.reason] += 1
        rejected_at = _instant(self.journey.clock(partition))
        self._lines.write(
            topics.DEAD_LETTER,
            dead_letter_record(
                body, refused, topic=self._source, partition=0, offset=number, rejected_at=rejected_at
            ),
        )

    def _forward(self, number: int) -> None:
        """Apply what the changes so far sent on, as the live worker's next records on those keys."""
        journey, waiting = self.journey, self._waiting
        while waiting:
            sent = waiting.popleft()
            key = sent.key.encode()
            partition = self._partition(key)
            if sent.touchpoint is not None:
                self._touchpoint(sent.key, partition, sent.touchpoint, orjson.dumps(sent.touchpoint), number)
            elif sent.control is not None:
                self._write((journey.identity(key, partition, sent.control),))
            elif sent.action is not None:
                change = journey.action(key, partition, sent.action)
                if change.refused is None:
                    self._write((change,))

    def clocks(self) -> list[list[tuple[int, str | bytes]]]:
        """What the clock of each partition applied here knows (to combine with the other processes')."""
        return [self.journey.clock_snapshot(partition) for partition in sorted(self.partitions)]

    def latest_seen(self) -> int:
        """The latest instant any customer here has reached (0 for none)."""
        return max((state.last_seen for state in self.states.values() if state.is_profile), default=0)

    def end(self, partitions: Iterable[int], as_of: date | None, clock: int | None) -> None:
        """Fire what the end of the replay passes on each of *partitions*: up to the end of the *as_of* day,
        or, without one, up to the replay's *clock* (all partitions together) less the allowed lateness."""
        if as_of is not None:
            until, trigger = (day_number(as_of) + 1) * DAY - 1, AS_OF
        elif clock is not None:
            until, trigger = clock - int(self.tracker.config.deadlines.allowed_lateness_seconds), FINAL
        else:
            return
        for partition in sorted(partitions):
            self._lines.at(END, partition)
            self._write(self.journey.tick(partition, until, trigger))
            self._forward(0)

    def customers(self, day: int) -> Iterable[tuple[str, bytes]]:
        """(customer id, customers-file line) of every customer here, by customer id, with the models read on *day*."""
        model = self.tracker.model
        for customer_id in sorted(self.states):
            state = self.states[customer_id]
            if not state.is_profile:  # an identifier's record alone is no customer
                continue
            view = {
                "customer_id": customer_id,
                "stage": state.stage,
                "value_tier": state.value_tier,
                "touchpoints": state.events,
                "purchase_count": state.purchase_count,
                "net_value": round(state.net_value, 2),
                **model.view(state, day),
            }
            yield customer_id, orjson.dumps(view)

    def summarize(self) -> Applied:
        profiles = [state for state in self.states.values() if state.is_profile]
        self.applied.customers = len(profiles)
        self.applied.stages = Counter(state.stage for state in profiles)
        return self.applied

    def _write(self, changes: Iterable[Change]) -> None:
        write, applied, states = self._lines.write, self.applied, self.states
        for change in changes:
            if change.cause != ROUTED:
                states[change.key.decode()] = change.state
            outputs = change.outputs
            for transition in outputs.transitions:
                write(topics.TRANSITIONS, transition.encode())
            applied.transitions += len(outputs.transitions)
            for alert in outputs.alerts:
                write(ALERTS, alert.encode())
                applied.alerts[f"{alert.type} {alert.status}"] += 1
            for merge in outputs.merges:
                write(topics.IDENTITY_MERGES, merge.encode())
                applied.merges += merge.action == MERGE
            for conflict in outputs.conflicts:
                write(topics.IDENTITY_CONFLICTS, conflict.encode())
            applied.conflicts += len(outputs.conflicts)
            self._waiting.extend(outputs.forwards)


def _instant(seconds: int | None) -> datetime:
    return _EPOCH if seconds is None else datetime.fromtimestamp(seconds, UTC)


def combined_clock(quorum: int, snapshots: Iterable[list[tuple[int, str | bytes]]]) -> int | None:
    """The replay's clock: the partitions' clocks together."""
    return PartitionClock.combined(quorum, *snapshots).time
