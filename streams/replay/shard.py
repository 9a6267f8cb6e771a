"""Some of a replay's partitions, applied in event-time order, as the live worker's partitions would be.

Replay places each customer in the partition the live worker would (``streams.topics.partition_for``),
and each partition keeps its own clock, as a live partition does. So a process can apply any set
of partitions, alone, and the outputs of every partition are the same whichever process applied
it. The journey step is ``agents.journey.step.JourneyStep``, the live worker's.
"""

from __future__ import annotations

import bisect
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import Any, Final

import orjson

from agents.config import Config
from agents.coordination.coordinator import Coordinator
from agents.coordination.progress import PartitionProgress
from agents.domain.alert import Alert
from agents.domain.identity import MERGE, Claim, Forward
from agents.domain.instants import DAY, day_number
from agents.domain.refusal import Rejected
from agents.ingest.dead_letter import dead_letter_record
from agents.journey.step import (
    DUPLICATE,
    FORGOTTEN,
    ROUTED,
    TOUCHPOINT,
    UNCHANGED,
    WATERMARK,
    Change,
    JourneyStep,
)
from agents.journey.track import JourneyTracker, Step
from agents.journey.watermark import PartitionClock
from agents.models.population import PopulationMerge, PopulationThreshold
from streams import topics
from streams.replay.parts import END, Lines
from streams.replay.runs import Row
from streams.replay.signals import SignalLog
from streams.replay.states import OBJECTS, KeptStates
from streams.topics import partition_for

__all__ = ["ALERTS", "AS_OF", "CUSTOMERS", "FINAL", "Applied", "Erasure", "Shard", "needs_coordination"]

#: Every alert topic (alerts.<type>), written to one file.
ALERTS: Final = topics.alert_topic("*")
#: Not a topic: each customer's final state and model figures.
CUSTOMERS: Final = "customers"
#: What fires the last deadlines of a replay with ``as_of``: the end of that day.
AS_OF: Final = "as_of"
#: What fires the deadlines the replay's clock passed at its end, on every partition alike.
FINAL: Final = "final"

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
#: Steps of the replay's clock kept before forgetting those every partition has fired past.
STEPS_KEPT: Final = 4096
#: The line number an erasure's output is tagged with (plus its place among all erasures): after every
#: touchpoint of its instant, before the next instant's.
_ERASURE_LINE: Final = 1 << 39

#: (instant in epoch seconds, customer id, its place among the replay's erasures, the request).
Erasure = tuple[int, str, int, dict[str, Any]]


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
    #: Customers forgotten on request, and touchpoints of theirs left out (up to their erasure).
    erased: int = 0
    erased_touchpoints: int = 0
    customers: int = 0
    stages: Counter[str] = field(default_factory=Counter)


class Shard:
    """The journey of some partitions of a replay, written through *lines*.

    What the live worker sends back into the flow (a touchpoint routed to its customer, an
    identifier's claim, a profile merging into its customer) is applied here at once, before the
    next touchpoint, in its key's partition: so a shard that meets identity records owns every
    partition (``partitions``), and replay applies them in one process.
    """

    def __init__(
        self,
        tracker: JourneyTracker,
        lines: Lines,
        source: str,
        partitions: int,
        erasures: Sequence[Erasure] = (),
        objects: int = OBJECTS,
        log_signals: bool = False,
    ) -> None:
        """*erasures*: those of the customers of the partitions applied here, in (instant, customer) order;
        *objects*: states kept as objects, the rest encoded (``streams.replay.states``); *log_signals*:
        other processes apply the other partitions, so log the coordinator's calls among the alerts
        instead of making the warning digests here (``streams.replay.signals``)."""
        self.tracker = tracker
        #: Every key's final state, by key: customers, anonymous profiles, identifiers' records.
        self.states = KeptStates(objects)
        states = self.states
        self._forgotten: dict[bytes, int] = {}
        self.journey = JourneyStep(tracker, lambda key: states.get(key.decode()), self._forgotten.get)
        self._count = partitions
        self._erasures = list(erasures)
        self._next_erasure = 0
        #: Customers with an erasure still ahead, and how many: nothing about them is written until then.
        self._to_erase = Counter(customer for _, customer, _, _ in erasures)
        self.partitions: set[int] = set()
        self.applied = Applied()
        self._lines = lines
        self._source = source
        self._count = partitions
        self._waiting: deque[Forward] = deque()
        config = tracker.config
        #: Where the partitions meet (agents/coordination/): the warning digests, from every partition's
        #: warnings and progress, in the order the partitions make them, as the live coordinator has them.
        #: Only a shard that applies every partition sees them all; one that applies some logs the calls,
        #: and the merge of every process's alerts makes the digests (``streams.replay.signals``).
        self.coordinator: Coordinator | SignalLog
        if log_signals and config.sla.warning_digest_minutes > 0:
            self.coordinator = SignalLog(partial(lines.write, ALERTS))
        else:
            self.coordinator = Coordinator(config, partitions)
            #: The best-customer thresholds, though, are the replay's as a whole, learned as its one clock
            #: passes each boundary (all partitions' customers together, as one partition): the population
            #: is the same whatever the partitions, and so is when its threshold is known, so the partitions
            #: change no judgement. (A live worker may learn one late, and counts it: agents/models/population.py.)
            self.coordinator.population = None
        best = config.model.best_customers
        self._population = (
            PopulationMerge(1, config.model.best_customer_quantile, best.min_buyers, best.relative_accuracy)
            if best.fixed is None
            else None
        )
        self._whole = PartitionProgress(config)
        self._whole_clock = PartitionClock(config.time.watermark_quorum)
        self._whole_until: int | None = None
        self._lateness = int(config.deadlines.allowed_lateness_seconds)
        #: Every instant the replay's clock moved to, in order, and (that instant, boundary) of each
        #: threshold learned there; a partition's deadlines are fired in the same steps.
        self._steps: list[int] = []
        self._learned: list[tuple[int, int]] = []
        self._learned_at: list[int] = []
        #: partition → how far its deadlines have fired.
        self._fired: dict[int, int] = {}
        if self._population is not None:
            self.journey.progress = _AlsoWhole(config, self._whole)

    def apply(
        self, rows: Iterable[Row], progress: Callable[[int], None] | None = None, every: int = 2048
    ) -> None:
        """Apply *rows* (in event-time order); *progress(n)* hears of every *every* rows applied."""
        lines, write, touchpoint, forward = self._lines, self._lines.write, self._touchpoint, self._forward
        erasures, to_erase, forgotten = self._erasures, self._to_erase, self._forgotten
        for count, (micros, number, partition, customer_id, body, claims) in enumerate(rows, 1):
            if progress is not None and count % every == 0:
                progress(every)
            if self._next_erasure < len(erasures) and erasures[self._next_erasure][0] * 1_000_000 < micros:
                self._erase_until(micros)
            self.partitions.add(partition)
            lines.at(micros, number)
            until = forgotten.get(customer_id.encode())
            if customer_id not in to_erase and (until is None or micros > until * 1_000_000):
                write(topics.BY_CUSTOMER, body)
            touchpoint(customer_id, partition, orjson.loads(body), body, number)
            if self._waiting:
                forward(number)
            for claim in claims:
                key = claim[0].encode()
                claimed = self._partition(key)
                self._write((self.journey.identity(key, claimed, Claim(*claim)),), claimed)
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
        if change.cause == FORGOTTEN:
            applied.erased_touchpoints += 1
            return
        erased = customer_id in self._to_erase and change.cause != ROUTED
        if erased:
            applied.erased_touchpoints += 1
        if change.refused is not None:
            if erased:
                applied.refused[change.refused.reason] += 1
            else:
                self._refuse(body, change.refused, partition, number)
        elif change.cause == DUPLICATE:
            applied.duplicates += 1
        else:
            self._write((change,), partition)
            if change.cause != ROUTED:
                if not erased:
                    self._lines.write(topics.ENRICHED, change.enriched)
                self._write(self._due(partition), partition)
                if change.cause == TOUCHPOINT:
                    # The step's own reading of the event's instant (event_instant's), not parsed again.
                    outputs = change.outputs
                    instant = outputs.instant if isinstance(outputs, Step) else event_instant(event)
                    self._passed_whole(self._whole_clock.observe(change.key, instant))

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
                self._write((journey.identity(key, partition, sent.control),), partition)
            elif sent.action is not None:
                change = journey.action(key, partition, sent.action)
                if change.refused is None:
                    self._write((change,), partition)

    def _erase_until(self, micros: int) -> None:
        """Apply every erasure dated before *micros* (µs), as its partition would on its way there."""
        erasures = self._erasures
        while self._next_erasure < len(erasures) and erasures[self._next_erasure][0] * 1_000_000 < micros:
            erasure = erasures[self._next_erasure]
            self._erase(erasure, min(max(erasure[0] * 1_000_000, 0), END))
            self._next_erasure += 1

    def _erase(self, erasure: Erasure, micros: int) -> None:
        """Apply *erasure*; its output is tagged as at *micros*, after every touchpoint of that instant."""
        instant, customer, index, request = erasure
        key = customer.encode()
        partition = partition_for(key, self._count)
        self.partitions.add(partition)
        self._lines.at(micros, _ERASURE_LINE + index)
        change = self.journey.erase(key, partition, request, instant)
        self.states.pop(customer, None)
        if change.forget_until is not None:
            self._forgotten[key] = change.forget_until
        self.applied.erased += 1
        self._to_erase[customer] -= 1
        if not self._to_erase[customer]:
            del self._to_erase[customer]
        if change.outputs.erasure is not None:
            self._lines.write(topics.ERASURES, change.outputs.erasure.encode())
        # Their identifiers forget them too (agents/journey/erasure.py).
        self._waiting.extend(change.outputs.forwards)
        self._forward(0)

    def clocks(self) -> list[list[tuple[int, str | bytes]]]:
        """What the clock of each partition applied here knows (to combine with the other processes')."""
        return [self.journey.clock_snapshot(partition) for partition in sorted(self.partitions)]

    def latest_seen(self) -> int:
        """The latest instant any customer here has reached (0 for none)."""
        return max((state.last_seen for state in self.states.states() if state.is_profile), default=0)

    def end(
        self, partitions: Iterable[int], as_of: date | None, clock: int | None, last_micros: int = 0
    ) -> None:
        """Fire what the end of the replay passes on each of *partitions*: up to the end of the *as_of* day,
        or, without one, up to the replay's *clock* (all partitions together) less the allowed lateness.

        *last_micros*: the event time of the replay's last touchpoint (all partitions together), which
        the erasures dated before it had been applied by, as in one process.
        """
        self._erase_until(last_micros)
        if as_of is not None:
            until: int | None = (day_number(as_of) + 1) * DAY - 1
            trigger = AS_OF
        elif clock is not None:
            until, trigger = clock - int(self.tracker.config.deadlines.allowed_lateness_seconds), FINAL
        else:
            until, trigger = None, FINAL
        if until is not None:
            for partition in sorted(partitions):
                self._lines.at(END, partition)
                self._write(self._due(partition, until, trigger), partition)
                self._forward(0)
            self._passed_whole(until + self._lateness)
        # Erasures after the last touchpoint (or the as-of day) are honoured all the same.
        while self._next_erasure < len(self._erasures):
            self._erase(self._erasures[self._next_erasure], END)
            self._next_erasure += 1

    def customers(self, day: int) -> Iterable[tuple[str, bytes]]:
        """(customer id, customers-file line) of every customer here, by customer id, with the models read on *day*."""
        model = self.tracker.model
        for customer_id in sorted(self.states):
            state = self.states.peek(customer_id)
            if state is None or not state.is_profile:  # an identifier's record alone is no customer
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
        stages = Counter(state.stage for state in self.states.states() if state.is_profile)
        self.applied.customers = stages.total()
        self.applied.stages = stages
        return self.applied

    def _write(self, changes: Iterable[Change], partition: int) -> None:
        """Write what *changes* (of *partition*) publish, then tell the coordinator how far *partition* has come."""
        write, applied, states, to_erase = self._lines.write, self.applied, self.states, self._to_erase
        coordinator = self.coordinator
        for change in changes:
            if change.cause not in (ROUTED, UNCHANGED):
                states[change.key.decode()] = change.state
            self._waiting.extend(change.outputs.forwards)
            if to_erase and change.key.decode() in to_erase:
                continue  # nothing about a customer is written before their erasure
            outputs = change.outputs
            for transition in outputs.transitions:
                write(topics.TRANSITIONS, transition.encode())
            applied.transitions += len(outputs.transitions)
            self._publish(outputs.alerts)
            for item in outputs.due_soon:
                coordinator.due_soon(item)
            for item_id, at in outputs.answered:
                coordinator.answered(item_id, at)
            for merge in outputs.merges:
                if merge.into not in to_erase:
                    write(topics.IDENTITY_MERGES, merge.encode())
                    applied.merges += merge.action == MERGE
            for conflict in outputs.conflicts:
                if to_erase.keys().isdisjoint(conflict.customers):
                    write(topics.IDENTITY_CONFLICTS, conflict.encode())
                    applied.conflicts += 1
        # As the live journey sends its progress on journey.progress after each change's outputs.
        progress = self.journey.report(partition)
        if progress is not None:
            coordinated = coordinator.passed(progress)
            self._publish(coordinated.alerts)
            for boundary, threshold, _ in coordinated.thresholds:
                self.tracker.learn_threshold(boundary, threshold)

    def _passed_whole(self, watermark: int | None) -> None:
        """The replay's clock is at *watermark*: learn the thresholds of the boundaries it passed."""
        if watermark is None or self._population is None:
            return
        until = watermark - self._lateness
        if self._whole_until is not None:
            until = max(until, self._whole_until)
        self._whole_until = until
        progress = self._whole.passed(0, until)
        if progress is None:
            return
        self._steps.append(until)
        if not (progress.sketches or progress.empty_before is not None):
            return
        known = self._known()
        for boundary, threshold, _ in self._population.report(0, progress.sketches, progress.empty_before):
            new = known is not None and boundary not in known
            self.tracker.learn_threshold(boundary, threshold)
            if new and known is not None and boundary in known:
                self._learned.append((until, boundary))
                self._learned_at.append(until)
        if len(self._steps) > STEPS_KEPT:
            self._trim()

    def _trim(self) -> None:
        """Forget the steps every partition's deadlines have fired past: memory grows with the customers only."""
        fired = [self._fired.get(partition) for partition in self.partitions]
        if not fired or None in fired:
            return
        low = min(at for at in fired if at is not None)
        cut = bisect.bisect_right(self._steps, low)
        del self._steps[:cut]
        cut = bisect.bisect_right(self._learned_at, low)
        del self._learned[:cut]
        del self._learned_at[:cut]

    def _known(self) -> dict[int, float | None] | None:
        thresholds = self.tracker.best_customers
        return thresholds.known if isinstance(thresholds, PopulationThreshold) else None

    def _due(self, partition: int, until: int | None = None, trigger: str = WATERMARK) -> list[Change]:
        """The deadlines of *partition* its clock passed (or those up to *until*), fired in the steps of the
        replay's clock, each judged by the thresholds known when the replay's clock passed it.

        A partition's clock trails the replay's (its customers are fewer): a deadline may fire after the
        replay's clock has gone past a boundary beyond it. In one partition it would have fired before
        that boundary's threshold was learned, and so it does here: the partitions change no judgement.
        """
        journey = self.journey
        end = journey.pending(partition) if until is None else until
        if end is None:
            return []
        start = self._fired.get(partition)
        self._fired[partition] = end if start is None else max(start, end)
        known = self._known()
        if known is None or not self._learned:
            return list(journey.due(partition) if until is None else journey.tick(partition, end, trigger))
        steps = self._steps
        first = 0 if start is None else bisect.bisect_right(steps, start)
        splits = steps[first : bisect.bisect_left(steps, end)]
        changes: list[Change] = []
        before = start
        for split in [*splits, None]:
            later = 0 if before is None else bisect.bisect_right(self._learned_at, before)
            hidden = {
                boundary: known.pop(boundary) for _, boundary in self._learned[later:] if boundary in known
            }
            try:
                if split is not None:
                    changes.extend(journey.tick(partition, split, WATERMARK))
                elif until is None:
                    changes.extend(journey.due(partition))
                else:
                    changes.extend(journey.tick(partition, end, trigger))
            finally:
                known.update(hidden)
            before = split
        return changes

    def _publish(self, alerts: Iterable[Alert]) -> None:
        write, counts = self._lines.write, self.applied.alerts
        for alert in alerts:
            write(ALERTS, alert.encode())
            counts[f"{alert.type} {alert.status}"] += 1


def _instant(seconds: int | None) -> datetime:
    return _EPOCH if seconds is None else datetime.fromtimestamp(seconds, UTC)


def combined_clock(quorum: int, snapshots: Iterable[list[tuple[int, str | bytes]]]) -> int | None:
    """The replay's clock: the partitions' clocks together."""
    return PartitionClock.combined(quorum, *snapshots).time


def needs_coordination(tracker: JourneyTracker) -> bool:
    """Whether the partitions' judgements depend on each other (agents/coordination/coordinator.py).

    The population's best-customer threshold gathers every partition's buyers and is fed back into
    each partition's judgement, at the point in the partitions' common order where the replay's
    clock passes its boundary. Applied in several processes, a partition could not know that point
    without waiting for the others at every record; so with it, replay applies every partition in
    one process. The warning digests gather every partition's warnings too, but feed nothing back:
    the processes log them, and the merge makes them (``streams.replay.signals``).
    """
    return tracker.config.model.best_customers.fixed is None


def event_instant(event: dict[str, Any]) -> int:
    """A touchpoint's instant (epoch seconds), as the journey step's clock takes it."""
    return int(datetime.fromisoformat(event["occurred_at"]).timestamp())


class _AlsoWhole(PartitionProgress):
    """Each partition's progress, as the journey step keeps it, and all the buyers as one partition too.

    Replay learns its thresholds from the whole population only (``Shard``), so the partitions' own
    sketches are never merged. Where every population boundary is also a mark of the partitions'
    clocks, they report at the same points without them, and keep no buyers of their own.
    """

    def __init__(self, config: Config, whole: PartitionProgress) -> None:
        super().__init__(config, population=whole.every % whole.mark != 0)
        self._whole_progress = whole

    def buyer(
        self, partition: int, key: bytes, first_purchase: int, history: tuple[tuple[int, float], ...]
    ) -> None:
        super().buyer(partition, key, first_purchase, history)
        self._whole_progress.buyer(0, key, first_purchase, history)

    def drop(self, partition: int, key: bytes) -> None:
        super().drop(partition, key)
        self._whole_progress.drop(0, key)
