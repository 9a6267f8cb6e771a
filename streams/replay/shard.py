"""Some of a replay's partitions, applied in event-time order, as the live worker's partitions would be.

Replay places each customer in the partition the live worker would (``streams.partitioner.partition_for``),
and each partition keeps its own clock, as a live partition does. So a process can apply any set
of partitions, and the outputs of every partition are the same whichever process applied it: where
identity moves work to a partition applied elsewhere, the processes hand it over at the step of the
turn both know from the records (``streams.replay.handoffs``). The journey step is
``agents.journey.step.JourneyStep``, the live worker's.
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
    UNCHANGED,
    WATERMARK,
    Change,
    JourneyStep,
)
from agents.journey.track import JourneyTracker
from agents.models.population import PopulationThreshold, ValueSketch
from streams import topics
from streams.partitioner import partition_for
from streams.replay.handoffs import (
    CLAIM,
    HANDED,
    RECEIVE,
    ROUTE,
    ROW_STEP,
    SEND,
    Handoff,
    Handoffs,
    claim_step,
)
from streams.replay.parts import END, Lines
from streams.replay.runs import Row
from streams.replay.signals import SignalLog
from streams.replay.states import OBJECTS, KeptStates
from streams.replay.thresholds import Known, Population, Request, Requests

__all__ = ["ALERTS", "AS_OF", "CUSTOMERS", "FINAL", "Applied", "Erasure", "Exchange", "Shard"]

#: Every alert topic (alerts.<type>), written to one file.
ALERTS: Final = topics.alert_topic("*")
#: Not a topic: each customer's final state and model figures.
CUSTOMERS: Final = "customers"
#: What fires the last deadlines of a replay with ``as_of``: the end of that day.
AS_OF: Final = "as_of"
#: What fires the deadlines the replay's clock passed at its end, on every partition alike.
FINAL: Final = "final"

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
#: Later than any instant, in µs or seconds (and a small integer still, for the compiled loop).
_NEVER: Final = 1 << 60
#: The line number an erasure's output is tagged with (plus its place among all erasures): after every
#: touchpoint of its instant, before the next instant's.
_ERASURE_LINE: Final = 1 << 39

#: (instant in epoch seconds, customer id, its place among the replay's erasures, the request).
Erasure = tuple[int, str, int, dict[str, Any]]
#: Sends what a shard sketched and, unless ``wanted`` is None, returns the thresholds it needs
#: (streams.replay.thresholds): the replay's own population, or the parent's, which has every process's.
Exchange = Callable[[Request], Known]


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
    #: Messages this process sent another with the work identity moved (``streams.replay.handoffs``).
    handoffs: int = 0


class Shard:
    """The journey of some partitions of a replay, written through *lines*.

    What the live worker sends back into the flow (a touchpoint routed to its customer, an
    identifier's claim, a profile merging into its customer) is applied at once, before the next
    touchpoint, in its key's partition: here, or, where another process applies that partition, there,
    at the step of the turn both know from the plan (``streams.replay.handoffs``).
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
        exchange: Exchange | None = None,
        handoffs: Handoffs | None = None,
    ) -> None:
        """*erasures*: those of the customers of the partitions applied here (with *handoffs*, every one), in
        (instant, customer) order; *handoffs*: where other processes apply the other partitions and identity
        moves work between them, this process's plan and pipes (``streams.replay.handoffs``);
        *objects*: states kept as objects, the rest encoded (``streams.replay.states``); *log_signals*:
        other processes apply the other partitions, so log the coordinator's calls among the alerts
        instead of making the warning digests here (``streams.replay.signals``); *exchange*: where the
        population's thresholds come from when other processes apply the other partitions (by default,
        this shard's own buyers: all of them)."""
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
        self._handoffs = handoffs
        self._next_handoff: Handoff | None = None if handoffs is None else next(handoffs.plan, None)
        #: What the step being applied sent to other processes' partitions, by process.
        self._outgoing: dict[int, list[Forward]] = {}
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
            #: The best-customer thresholds, though, are learned apart from it, from every process's buyers
            #: and at moments read off the rows' event times (``streams.replay.thresholds``): the partitions
            #: change no judgement.
            self.coordinator.population = None
        #: The population's best-customer thresholds (streams.replay.thresholds): this shard's customers at
        #: each boundary, as its rows pass it, are every partition's buyers here as one partition.
        best = config.model.best_customers
        self._every = round(best.every_hours * 3600)
        #: A partition's clock trails its newest events by the allowed lateness, and a boundary's threshold
        #: is known once the clock has passed the boundary: as a live partition's, in event time.
        self._lateness = int(config.deadlines.allowed_lateness_seconds)
        self._delay = round(best.effective_after_hours * 3600)
        self._whole = PartitionProgress(config)
        self._exchange: Exchange | None = None
        if best.fixed is None:
            self._exchange = (
                exchange if exchange is not None else partial(_alone, Requests(Population(config, 1), 1))
            )
            self.journey.progress = _AlsoWhole(config, self._whole)
            if isinstance(tracker.best_customers, PopulationThreshold):
                # Every threshold learned stays: a deadline fired late, or the end, may need an old one.
                tracker.best_customers.kept = _NEVER
        #: The last boundary sketched and the last one learned (None: none yet), the sketches not sent yet.
        self._sketched_to: int | None = None
        self._learned_to: int | None = None
        #: The last boundary sketched that the parent has heard of, and the last row (seconds) reached.
        self._reported_to: int | None = None
        self._row_seconds = 0
        #: Every boundary learned, in order, and the step at which each became known: the first row past it
        #: plus the lateness, less the lateness (_NEVER: no row is); partition → how far its deadlines fired.
        self._learned: list[int] = []
        self._learned_at: list[int] = []
        self._fired: dict[int, int] = {}
        self._sketches: dict[int, ValueSketch] = {}
        #: The instant (µs) from which a row passes a boundary or needs a threshold not learned yet; with a
        #: fixed threshold, never.
        self._next_micros = -_NEVER if self._exchange is not None else _NEVER

    def apply(
        self, rows: Iterable[Row], progress: Callable[[int], None] | None = None, every: int = 2048
    ) -> None:
        """Apply *rows* (in event-time order); *progress(n)* hears of every *every* rows applied.

        With hand-offs, also every hand-off of the plan, each at its place among the rows, and those after
        the last row.
        """
        # Methods called on their objects, not bound once to locals: compiled, a call through a bound method
        # goes through the interpreter's calling convention, a call on the object straight to its code.
        lines = self._lines
        to_erase, forgotten, handoffs = self._to_erase, self._forgotten, self._handoffs
        for count, (micros, number, partition, customer_id, body, claims) in enumerate(rows, 1):
            if progress is not None and count % every == 0:
                progress(every)
            if handoffs is not None:
                self._hand_off(micros, number, ROW_STEP)
            self._arrive(micros)
            self.partitions.add(partition)
            lines.at(micros, number)
            until = forgotten.get(customer_id.encode())
            if customer_id not in to_erase and (until is None or micros > until * 1_000_000):
                lines.write(topics.BY_CUSTOMER, body)
            # The row's instant is the event's, exact: the journey need not work it out again.
            self._touchpoint(customer_id, partition, orjson.loads(body), body, number, micros / 1_000_000)
            if self._waiting:
                self._forward(micros, number, ROW_STEP + 1)
            for index, claim in enumerate(claims):
                step = claim_step(index)
                if handoffs is not None:
                    self._hand_off(micros, number, step)
                    if not handoffs.owns(partition_for(claim[0].encode(), self._count)):
                        continue  # applied where its identifier is: a profile may merge in here, a hand-off
                self._claim(micros, number, step, claim)
            if handoffs is not None:
                self._hand_off(micros, number, claim_step(len(claims)))
                if self._outgoing:
                    self._settle(())  # work for another process the plan did not foresee: stop here
        if handoffs is not None:
            self._hand_off(END + 1, 0, 0)

    def _arrive(self, micros: int) -> None:
        """Before anything at *micros* (µs) is applied: the erasures and thresholds of the moments before.

        The erasures first: with hand-offs, every process waits at an erasure for its customer's partition to
        apply it, and that process must not first wait for thresholds the others can only sketch past it.
        """
        if (
            self._next_erasure < len(self._erasures)
            and self._erasures[self._next_erasure][0] * 1_000_000 < micros
        ):
            self._erase_until(micros)
        if micros >= self._next_micros:
            self._reach(micros // 1_000_000)

    def _hand_off(self, micros: int, number: int, step: int) -> None:
        """Apply the plan's hand-offs before *step* of the turn at *micros*, line *number*."""
        item = self._next_handoff
        handoffs = self._handoffs
        assert handoffs is not None
        while item is not None and item[0] <= micros and (item[0], item[1], item[2]) < (micros, number, step):
            self._next_handoff = next(handoffs.plan, None)
            at, line, item_step, kind, what, peer = item
            if kind == SEND:
                self._settle(what)
            elif kind == HANDED:
                self._handed(what, peer)
            elif kind == ROUTE:
                self._arrive(at)
                event = {**orjson.loads(what), "customer_id": peer}
                partition = self._partition(peer.encode())
                self._lines.at(at, line, item_step + 1)
                self._touchpoint(peer, partition, event, orjson.dumps(event), line)
                self._settle(())
            elif kind == RECEIVE:
                self._arrive(at)
                self._report_sketches()
                self._waiting.extend(handoffs.receive(what))
                self._forward(at, line, item_step + 1)
                self._settle(())
            else:
                assert kind == CLAIM
                self._arrive(at)
                self._claim(at, line, item_step, what)
                self._settle((peer,) if peer >= 0 else ())
            item = self._next_handoff

    def _claim(self, micros: int, number: int, step: int, claim: tuple[str, str, str, int]) -> None:
        """Apply *claim* to its identifier as *step* of the turn at *micros*, line *number*, then what it sends on."""
        key = claim[0].encode()
        claimed = self._partition(key)
        self._lines.at(micros, number, step)
        self._write((self.journey.identity(key, claimed, Claim(*claim)),), claimed)
        self._forward(micros, number, step + 1)

    def _settle(self, peers: Iterable[int]) -> None:
        """Send each of *peers* what the step just applied sent to its partitions (an empty message if nothing)."""
        handoffs, outgoing = self._handoffs, self._outgoing
        assert handoffs is not None
        for peer in peers:
            self._report_sketches()
            handoffs.send(peer, outgoing.pop(peer, []))
        if outgoing:
            # The plan is a superset of what identity can move; outputs that differ would be worse than stopping.
            raise RuntimeError(
                f"replay: identity moved work to process {min(outgoing)} where the hand-off plan foresaw none"
            )

    def _handed(self, peer: int, customer: str) -> None:
        """What the step just applied sent on is a touchpoint to *customer*, whose process *peer* applies it from
        its own copy of the row: nothing to send."""
        sent = self._outgoing.pop(peer, [])
        if len(sent) != 1 or sent[0].key != customer or sent[0].touchpoint is None:
            raise RuntimeError(
                f"replay: identity sent {len(sent)} record(s) to process {peer} where its hand-off plan "
                f"foresaw one touchpoint going on to its customer"
            )

    def _report_sketches(self) -> None:
        """Tell the parent how far this process has sketched before it may wait for another process, which may
        itself wait for those sketches (streams.replay.thresholds)."""
        if (
            self._exchange is not None
            and self._learned_to is not None
            and self._sketched_to != self._reported_to
        ):
            self._send(None, self._row_seconds)

    def _partition(self, key: bytes) -> int:
        partition = partition_for(key, self._count)
        self.partitions.add(partition)
        return partition

    def _touchpoint(
        self,
        customer_id: str,
        partition: int,
        event: dict[str, Any],
        body: bytes,
        number: int,
        occurred_seconds: float | None = None,
    ) -> None:
        journey, applied = self.journey, self.applied
        change = journey.touchpoint(customer_id.encode(), partition, event, occurred_seconds=occurred_seconds)
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

    def _refuse(self, body: bytes, refused: Rejected, partition: int, number: int) -> None:
        self.applied.refused[refused.reason] += 1
        rejected_at = _instant(self.journey.clock(partition))
        self._lines.write(
            topics.DEAD_LETTER,
            dead_letter_record(
                body, refused, topic=self._source, partition=0, offset=number, rejected_at=rejected_at
            ),
        )

    def _forward(self, micros: int, number: int, step: int) -> None:
        """Apply what the changes so far sent on, as the live worker's next records on those keys, as *step* of
        the turn at *micros*, line *number*; with hand-offs, what goes to another process's partitions waits
        in ``_outgoing`` for ``_settle``."""
        journey, waiting, handoffs = self.journey, self._waiting, self._handoffs
        if waiting:
            self._lines.at(micros, number, step)
        while waiting:
            sent = waiting.popleft()
            key = sent.key.encode()
            partition = partition_for(key, self._count)
            if handoffs is not None and not handoffs.owns(partition):
                self._outgoing.setdefault(handoffs.owner(partition), []).append(sent)
                continue
            self.partitions.add(partition)
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
            self._next_erasure += 1
            self._erase_one(erasure, min(max(erasure[0] * 1_000_000, 0), END))

    def _erase_one(self, erasure: Erasure, micros: int) -> None:
        """Apply *erasure* here, or, with hand-offs, where its customer's partition is applied: there it is
        erased, and every other process applies what it sent to theirs (their identifiers forget them)."""
        handoffs = self._handoffs
        if handoffs is None:
            self._erase(erasure, micros)
            return
        owner = handoffs.owner(partition_for(erasure[1].encode(), self._count))
        if owner == handoffs.me:
            self._erase(erasure, micros)
            self._settle(handoffs.others())
            return
        self._erased(erasure[1])
        self._report_sketches()
        self._waiting.extend(handoffs.receive(owner))
        self._forward(micros, _ERASURE_LINE + erasure[2], 1)
        self._settle(())

    def _erased(self, customer: str) -> None:
        """*customer*'s erasure is applied: what concerns them is written again from now on."""
        self._to_erase[customer] -= 1
        if not self._to_erase[customer]:
            del self._to_erase[customer]

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
        self._erased(customer)
        if change.outputs.erasure is not None:
            self._lines.write(topics.ERASURES, change.outputs.erasure.encode())
        # Their identifiers forget them too (agents/journey/erasure.py).
        self._waiting.extend(change.outputs.forwards)
        self._forward(micros, _ERASURE_LINE + index, 1)

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
            self._need_at(until)
            for partition in sorted(partitions):
                self._lines.at(END, partition)
                self._write(self._due(partition, until, trigger), partition)
                self._forward(END, partition, 1)
                if self._handoffs is not None:
                    self._settle(())
        # Erasures after the last touchpoint (or the as-of day) are honoured all the same.
        while self._next_erasure < len(self._erasures):
            erasure = self._erasures[self._next_erasure]
            self._next_erasure += 1
            self._erase_one(erasure, END)

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
        self.applied.handoffs = 0 if self._handoffs is None else self._handoffs.sent
        return self.applied

    def _write(self, changes: Iterable[Change], partition: int) -> None:
        """Write what *changes* (of *partition*) publish, then tell the coordinator how far *partition* has come."""
        lines, applied, states, to_erase = self._lines, self.applied, self.states, self._to_erase
        coordinator = self.coordinator
        for change in changes:
            if change.cause not in (ROUTED, UNCHANGED):
                states[change.key.decode()] = change.state
            self._waiting.extend(change.outputs.forwards)
            if to_erase and change.key.decode() in to_erase:
                continue  # nothing about a customer is written before their erasure
            outputs = change.outputs
            for transition in outputs.transitions:
                lines.write(topics.TRANSITIONS, transition.encode())
            applied.transitions += len(outputs.transitions)
            self._publish(outputs.alerts)
            for item in outputs.due_soon:
                coordinator.due_soon(item)
            for item_id, at in outputs.answered:
                coordinator.answered(item_id, at)
            for merge in outputs.merges:
                if merge.into not in to_erase:
                    lines.write(topics.IDENTITY_MERGES, merge.encode())
                    applied.merges += merge.action == MERGE
            for conflict in outputs.conflicts:
                if to_erase.keys().isdisjoint(conflict.customers):
                    lines.write(topics.IDENTITY_CONFLICTS, conflict.encode())
                    applied.conflicts += 1
        # As the live journey sends its progress on journey.progress after each change's outputs.
        progress = self.journey.report(partition)
        if progress is not None:
            coordinated = coordinator.passed(progress)
            self._publish(coordinated.alerts)
            for boundary, threshold, _ in coordinated.thresholds:
                self.tracker.learn_threshold(boundary, threshold)

    def sketch_all(self, seconds: int) -> None:
        """The rows are applied: sketch every boundary up to *seconds* (the last instant the replay can need)
        and send them, so that no other process waits on this one for a boundary its rows never reach."""
        if self._exchange is not None:
            self._sketch_to(seconds)
            self._send(None, None)

    def _reach(self, seconds: int) -> None:
        """A row at *seconds*: sketch the boundaries it passes, and learn those a clock trailing it by the
        allowed lateness has passed."""
        if self._exchange is None:
            return
        self._row_seconds = seconds
        self._sketch_to(seconds)
        if self._learned_to is None:
            # The first row: from here on, no judgement reads a boundary before this one. Said at once, so
            # that the others know this process's rows passed every boundary before it with this row.
            first = seconds - max(self._delay, self._lateness) - self._every
            self._learned_to = first - first % self._every - self._every
            self._send(None, seconds)
        # The boundaries b with b + lateness before this row: what a clock trailing it has passed.
        self._need(self._floor(seconds - self._lateness - 1), seconds)
        sketched, learned = self._sketched_to, self._learned_to
        assert sketched is not None
        assert learned is not None
        self._next_micros = (min(sketched, learned + self._lateness + 1) + self._every) * 1_000_000

    def _need_at(self, until: int) -> None:
        """The rows are done: learn the threshold of every boundary up to *until* (sketched by then)."""
        if self._exchange is not None:
            self._sketch_to(until)
            self._need(self._floor(until), None)

    def _floor(self, instant: int) -> int:
        """The boundary at or before *instant*."""
        return instant - instant % self._every

    def _sketch_to(self, seconds: int) -> None:
        """Sketch the buyers at every boundary up to *seconds* not sketched yet: each with every row and erasure
        dated before it applied, none after (the rows from *seconds* on are not applied yet)."""
        every, whole = self._every, self._whole
        last = seconds - seconds % every
        start = last if self._sketched_to is None else self._sketched_to + every
        if start > last:
            return
        stop = last
        if last > start:
            # A jump: past the window after the latest purchase every sketch is empty (a record dated 2099).
            horizon = whole.horizon(0)
            stop = min(last, start - every if horizon is None else horizon)
        for boundary in range(start, stop + 1, every):
            sketch = whole.sketch(0, boundary, self._erased_before(boundary))
            if sketch.count:
                self._sketches[boundary] = sketch
        whole.sketched(0, last)
        self._sketched_to = last

    def _erased_before(self, boundary: int) -> set[bytes]:
        """The customers whose erasure, dated before *boundary*, is still to be applied (this row applies it)."""
        erasures, index, keys = self._erasures, self._next_erasure, set()
        while index < len(erasures) and erasures[index][0] < boundary:
            keys.add(erasures[index][1].encode())
            index += 1
        return keys

    def _need(self, wanted: int, row: int | None) -> None:
        """Learn the thresholds of every boundary up to *wanted* not learned yet, which the *row* (seconds;
        None: the end) is the first of this process's to need; each is known from the first row of the
        whole replay past the boundary plus the lateness, and no deadline before that row sees it."""
        after = self._learned_to
        if after is not None and wanted <= after:
            return
        known = self._send(wanted, row)
        learn, lateness = self.tracker.learn_threshold, self._lateness
        for boundary, (threshold, first) in sorted(known.items()):
            learn(boundary, threshold)
            self._learned.append(boundary)
            self._learned_at.append(_NEVER if first is None else first - lateness)
        self._learned_to = wanted

    def _send(self, wanted: int | None, row: int | None) -> Known:
        exchange = self._exchange
        assert exchange is not None
        sketches = {boundary: sketch.to_json() for boundary, sketch in self._sketches.items()}
        self._sketches.clear()
        self._reported_to = self._sketched_to
        return exchange(Request(self._sketched_to, sketches, self._learned_to, wanted, row))

    def _due(self, partition: int, until: int | None = None, trigger: str = WATERMARK) -> list[Change]:
        """The deadlines of *partition* its clock passed (or those up to *until*), each judged by the thresholds
        known before it (streams.replay.thresholds).

        A partition's clock trails its rows by the allowed lateness: a row after a gap in the data may
        teach thresholds that the deadlines it fires, dated in the gap, could not have known. On a live
        partition they fire before those thresholds arrive, and so they do here.
        """
        journey = self.journey
        end = journey.pending(partition) if until is None else until
        if end is None:
            return []
        start = self._fired.get(partition)
        self._fired[partition] = end if start is None else max(start, end)
        thresholds = self.tracker.best_customers
        steps = self._learned_at
        # A deadline at d sees the thresholds known before d: learned at a step (below) before it. Nearly
        # always no step came since the last firing, as the latest step tells without two searches.
        first = last = len(steps)
        if steps and (start is None or steps[-1] > start or steps[-1] >= end):
            first = 0 if start is None else bisect.bisect_right(steps, start)
            last = bisect.bisect_left(steps, end)
        if not isinstance(thresholds, PopulationThreshold) or (first == last and last == len(steps)):
            return list(journey.due(partition) if until is None else journey.tick(partition, end, trigger))
        learned = self._learned
        changes: list[Change] = []
        for split in [*steps[first:last], None]:
            later = bisect.bisect_left(steps, end if split is None else split)
            # The boundaries learned from that step on: the latest ones, as the steps grow with them.
            thresholds.hidden_from = learned[later] if later < len(learned) else None
            try:
                if split is not None:
                    changes.extend(journey.tick(partition, split, WATERMARK))
                elif until is None:
                    changes.extend(journey.due(partition))
                else:
                    changes.extend(journey.tick(partition, end, trigger))
            finally:
                thresholds.hidden_from = None
        return changes

    def _publish(self, alerts: Iterable[Alert]) -> None:
        lines, counts = self._lines, self.applied.alerts
        for alert in alerts:
            lines.write(ALERTS, alert.encode())
            counts[f"{alert.type} {alert.status}"] += 1


def _instant(seconds: int | None) -> datetime:
    return _EPOCH if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _alone(requests: Requests, request: Request) -> Known:
    """The thresholds of a shard that applies every partition: from its own buyers and rows."""
    answers = requests.serve(0, request)
    return answers[0][1] if answers else {}


class _AlsoWhole(PartitionProgress):
    """Each partition's progress, as the journey step keeps it, and all the buyers as one partition too.

    Replay learns its thresholds from the whole population only (``Shard``), so the partitions' own
    sketches are never merged. Where every population boundary is also a mark of the partitions'
    clocks, they report at the same points without them, and keep no buyers of their own.
    """

    def __init__(self, config: Config, whole: PartitionProgress) -> None:
        super().__init__(config, population=whole.every % whole.mark != 0)
        self._whole_progress = whole

    def buyer(self, partition: int, key: bytes, first_purchase: int, values: Sequence[Sequence[Any]]) -> None:
        super().buyer(partition, key, first_purchase, values)
        self._whole_progress.buyer(0, key, first_purchase, values)

    def drop(self, partition: int, key: bytes) -> None:
        super().drop(partition, key)
        self._whole_progress.drop(0, key)
