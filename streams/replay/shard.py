"""Some of a replay's partitions, applied in event-time order, as the live worker's partitions would be.

Replay places each customer in the partition the live worker would (``streams.topics.partition_for``),
and each partition keeps its own clock, as a live partition does. So a process can apply any set
of partitions, alone, and the outputs of every partition are the same whichever process applied
it. The journey step is ``agents.journey.step.JourneyStep``, the live worker's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Final

import orjson

from agents.domain.instants import DAY, day_number
from agents.domain.state import CustomerState
from agents.ingest.dead_letter import dead_letter_record
from agents.journey.step import DUPLICATE, Change, JourneyStep
from agents.journey.track import JourneyTracker
from agents.journey.watermark import PartitionClock
from streams import topics
from streams.replay.parts import END, Lines
from streams.replay.runs import Row

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
    alerts: Counter[str] = field(default_factory=Counter)
    #: Accepted by ingest, refused by the journey (conflicting duplicates, too old for the customer).
    refused: Counter[str] = field(default_factory=Counter)
    customers: int = 0
    stages: Counter[str] = field(default_factory=Counter)


class Shard:
    """The journey of some partitions of a replay, written through *lines*."""

    def __init__(self, tracker: JourneyTracker, lines: Lines, source: str) -> None:
        self.tracker = tracker
        #: Every customer's state, by customer id.
        self.states: dict[str, CustomerState] = {}
        states = self.states
        self.journey = JourneyStep(tracker, lambda key: states.get(key.decode()))
        self.partitions: set[int] = set()
        self.applied = Applied()
        self._lines = lines
        self._source = source

    def apply(
        self, rows: Iterable[Row], progress: Callable[[int], None] | None = None, every: int = 2048
    ) -> None:
        """Apply *rows* (in event-time order); *progress(n)* hears of every *every* rows applied."""
        lines, journey, states, applied = self._lines, self.journey, self.states, self.applied
        write = lines.write
        for count, (micros, number, partition, customer_id, body) in enumerate(rows, 1):
            if progress is not None and count % every == 0:
                progress(every)
            self.partitions.add(partition)
            lines.at(micros, number)
            write(topics.BY_CUSTOMER, body)
            change = journey.touchpoint(customer_id.encode(), partition, orjson.loads(body))
            if change.refused is not None:
                applied.refused[change.refused.reason] += 1
                rejected_at = _instant(journey.clock(partition))
                write(
                    topics.DEAD_LETTER,
                    dead_letter_record(
                        body,
                        change.refused,
                        topic=self._source,
                        partition=0,
                        offset=number,
                        rejected_at=rejected_at,
                    ),
                )
                continue
            if change.cause == DUPLICATE:
                applied.duplicates += 1
                continue
            states[customer_id] = change.state
            self._write((change,))
            write(topics.ENRICHED, change.enriched)
            self._write(journey.due(partition))

    def clocks(self) -> list[list[tuple[int, str | bytes]]]:
        """What the clock of each partition applied here knows (to combine with the other processes')."""
        return [self.journey.clock_snapshot(partition) for partition in sorted(self.partitions)]

    def latest_seen(self) -> int:
        """The latest instant any customer here has reached (0 for none)."""
        return max((state.last_seen for state in self.states.values()), default=0)

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

    def customers(self, day: int) -> Iterable[tuple[str, bytes]]:
        """(customer id, customers-file line) of every customer here, by customer id, with the models read on *day*."""
        model = self.tracker.model
        for customer_id in sorted(self.states):
            state = self.states[customer_id]
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
        self.applied.customers = len(self.states)
        self.applied.stages = Counter(state.stage for state in self.states.values())
        return self.applied

    def _write(self, changes: Iterable[Change]) -> None:
        write, applied = self._lines.write, self.applied
        for change in changes:
            outputs = change.outputs
            for transition in outputs.transitions:
                write(topics.TRANSITIONS, transition.encode())
            applied.transitions += len(outputs.transitions)
            for alert in outputs.alerts:
                write(ALERTS, alert.encode())
                applied.alerts[f"{alert.type} {alert.status}"] += 1


def _instant(seconds: int | None) -> datetime:
    return _EPOCH if seconds is None else datetime.fromtimestamp(seconds, UTC)


def combined_clock(quorum: int, snapshots: Iterable[list[tuple[int, str | bytes]]]) -> int | None:
    """The replay's clock: the partitions' clocks together."""
    return PartitionClock.combined(quorum, *snapshots).time
