"""The journey of a whole partition, one record at a time: the step the live worker and replay share.

``JourneyStep`` applies a touchpoint to its customer, fires the deadlines (SLA warnings and
breaches, detector escalations, lapsing) that the partition's clock has passed, and applies
operators' actions. The clock of a partition is its event time as at least
``time.watermark_quorum`` customers attest it, less the allowed lateness
(agents/journey/watermark.py), so no single record can fire other customers' deadlines; in live
mode a quiet partition is moved on by signed wall-clock ticks (``tick``).

Identity is decided here too (agents/identity/): a touchpoint keyed by an identifier that is
linked goes on to its customer (a ROUTED change, nothing written here); the identity records on
``touchpoints.by-customer`` (a claim, a profile on its way into its customer, a split's way back)
and operators' splits change the identifier's record and the profiles concerned (IDENTITY
changes). What moves to another key is in ``outputs.forwards``: the worker sends it on to the
topic, replay applies it next.

Every call returns ``Change``s: one customer's state after one decision and what to publish for
it. Apply them in order, each before asking for the next: a state is the customer's one object,
and the next change may move it on. The step reads states through *lookup* and never writes
them; its caller does (the worker's table through held-back writes, replay's dictionary).

After the deadlines of a partition have fired (``due``, ``tick``), ``report`` says whether its clock
crossed a mark the coordinator must hear of (agents/coordination/): the digests of the
warnings and the best-customer threshold need every partition's progress.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from agents.alerts import moves
from agents.coordination.progress import PartitionProgress, Progress
from agents.domain.identity import (
    MERGE,
    SPLIT,
    Claim,
    Control,
    Forward,
    IdentityRecord,
    Merge,
    MergeIn,
    Split,
    Unlink,
    Unmerge,
)
from agents.domain.outputs import Outputs
from agents.domain.refusal import UNKNOWN_MERGE, Rejected
from agents.domain.state import CustomerState, StateSummary
from agents.identity.resolution import IdentityResolver
from agents.journey.deadlines import DeadlineIndex
from agents.journey.erasure import note_claims, requested_instant, unlinks
from agents.journey.track import JourneyTracker, Step
from agents.journey.watermark import PartitionClock

__all__ = [
    "ACTION",
    "DEADLINE",
    "DUPLICATE",
    "ERASURE",
    "FORGOTTEN",
    "IDENTITY",
    "ROUTED",
    "TOUCHPOINT",
    "UNCHANGED",
    "WATERMARK",
    "Change",
    "ErasureLookup",
    "JourneyStep",
    "StateLookup",
]

#: What a change comes from.
TOUCHPOINT: Final = "touchpoint"
DUPLICATE: Final = "duplicate"
DEADLINE: Final = "deadline"
ACTION: Final = "action"
#: A customer forgotten on request: delete the state (``erased``), publish the outputs.
ERASURE: Final = "erasure"
#: A touchpoint dated at or before its customer's erasure: dropped, nothing published, nothing kept.
FORGOTTEN: Final = "forgotten"
#: A touchpoint or an action sent on to the customer its identifier is linked to: nothing changed here.
ROUTED: Final = "routed"
#: A claim, a merge, a split, an erased customer unlinked: identity changed.
IDENTITY: Final = "identity"
#: Nothing to write: a claim that changed nothing (its customer's identifier, seen again), an erased
#: customer's unlink reached an identifier that never knew them, or a split's way back reached a
#: customer erased meanwhile.
UNCHANGED: Final = "unchanged"

#: What fired a deadline: the partition's event time, a wall-clock tick, or the end of a replay's day.
WATERMARK: Final = "watermark"
WALL_CLOCK: Final = "wall_clock"

#: A customer's current state by key (None: no state yet).
StateLookup = Callable[[bytes], CustomerState | None]
#: When a customer was forgotten on request, by key (epoch seconds; None: never, or long enough ago).
ErasureLookup = Callable[[bytes], int | None]


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
    #: The customer was forgotten: delete the state instead of writing it, and remember until when
    #: their touchpoints are dropped (the request's instant, epoch seconds).
    erased: bool = False
    forget_until: int | None = None
    #: A claim's outcome (agents.identity.resolution), for counting.
    claim: str | None = None
    #: The stage of a profile this change ended (merged away) or brought back (split), for the stage gauges.
    ended: str | None = None
    restored: str | None = None

    # Written out for the compiled core, as Outputs' (agents/domain/outputs.py): one or more a touchpoint.
    def __init__(
        self,
        key: bytes,
        partition: int,
        cause: str,
        state: CustomerState,
        outputs: Outputs | None = None,
        known: bool = True,
        inquiries_opened: int = 0,
        cases_opened: int = 0,
        enriched: bytes = b"",
        unpriced: bool = False,
        due: int | None = None,
        trigger: str | None = None,
        erased: bool = False,
        forget_until: int | None = None,
        claim: str | None = None,
        ended: str | None = None,
        restored: str | None = None,
    ) -> None:
        self.key = key
        self.partition = partition
        self.cause = cause
        self.state = state
        self.outputs = Outputs() if outputs is None else outputs
        self.known = known
        self.inquiries_opened = inquiries_opened
        self.cases_opened = cases_opened
        self.enriched = enriched
        self.unpriced = unpriced
        self.due = due
        self.trigger = trigger
        self.erased = erased
        self.forget_until = forget_until
        self.claim = claim
        self.ended = ended
        self.restored = restored

    @property
    def refused(self) -> Rejected | None:
        """Why the record was refused (it belongs in the dead-letter topic), or None."""
        return self.outputs.refused


class JourneyStep:
    """The journey of the partitions one process owns: customers' decisions, deadlines and clocks."""

    def __init__(
        self, tracker: JourneyTracker, lookup: StateLookup, erased_at: ErasureLookup | None = None
    ) -> None:
        self.tracker = tracker
        self._lookup = lookup
        #: Where the caller keeps each erasure (``Change.forget_until``), durably in the worker: a
        #: redelivery after a restart must not bring the customer back either.
        self._erased_at = erased_at or _never
        #: None: identity resolution is off, and identifier-keyed profiles are plain customers.
        self.resolver: IdentityResolver | None = tracker.resolver
        self._index = DeadlineIndex()
        self._clocks: dict[int, PartitionClock] = {}
        self._quorum = tracker.config.time.watermark_quorum
        self._lateness = int(tracker.config.deadlines.allowed_lateness_seconds)
        #: Per partition, the instant its clock has newly reached and whose deadlines are not fired yet.
        self._pending: dict[int, int] = {}
        #: Per partition, the instant up to which its deadlines have fired.
        self._fired: dict[int, int] = {}
        self.progress = PartitionProgress(tracker.config)
        self._owned: set[int] = set()

    def touchpoint(
        self,
        key: bytes,
        partition: int,
        event: dict[str, Any],
        received_at: float | None = None,
        occurred: datetime | None = None,
        occurred_seconds: float | None = None,
    ) -> Change:
        """Apply *event* (a normalised touchpoint of the customer *key*), then take ``due(partition)``.

        *received_at* is its record's broker timestamp (epoch seconds), None without one. A refused
        touchpoint changes nothing (``refused`` says why); a redelivery is a DUPLICATE change with
        no outputs, whose state the worker writes again as it is. *occurred* and *occurred_seconds*:
        the event's ``occurred_at`` parsed and in epoch seconds, if the caller has them (ingest's).
        """
        erased_at = self._erased_at(key)
        if erased_at is not None and _instant(event) <= erased_at:
            # Late or redelivered after the erasure: it must not bring the customer back.
            return Change(key, partition, FORGOTTEN, CustomerState(partition=partition), Outputs(), False)
        known = self._lookup(key)
        if known is not None and known.identity is not None and self.resolver is not None:
            record = IdentityRecord.from_list(known.identity)
            destination = self.resolver.route(record, event)
            if destination is not None:
                routed = Forward(destination, touchpoint={**event, "customer_id": destination})
                return Change(key, partition, ROUTED, known, Outputs(forwards=[routed]))
        before = _open_counts(known)
        step = self.tracker.track(
            known, key.decode(), event, partition, received_at, occurred, occurred_seconds
        )
        if step.refused is not None:
            return Change(key, partition, TOUCHPOINT, step.state, step, known is not None)
        if step.duplicate:
            return Change(key, partition, DUPLICATE, step.state, Outputs(), known is not None)
        if self.resolver is not None and not key.startswith(b"id:"):
            note_claims(step.state, event)
        change = _change(key, partition, TOUCHPOINT, step.state, step, before, known is not None)
        change.enriched = step.enriched or b""
        change.unpriced = step.unpriced
        self._index.schedule(partition, key, step.state.wake_at)
        state = step.state
        self._note_buyer(partition, key, state)
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
        alert_id = action["alert_id"]
        if state is not None and state.identity is not None and alert_id not in state.alerts_open:
            # An alert that moved with its profile: the action follows it to its id under the customer.
            record = IdentityRecord.from_list(state.identity)
            into = record.first_claimant
            moved = record.alerts.get(alert_id)
            if into is not None and moved is not None:
                routed = Forward(into, action={**action, "alert_id": moved})
                return Change(key, partition, ROUTED, state, Outputs(forwards=[routed]))
        before = _open_counts(state)
        outputs = self.tracker.act(state, key.decode(), action, received_at)
        if outputs.refused is not None or state is None:
            blank = state or CustomerState(partition=partition)
            return Change(key, partition, ACTION, blank, outputs, state is not None)
        self._index.schedule(partition, key, state.wake_at)
        return _change(key, partition, ACTION, state, outputs, before, True)

    def erase(self, key: bytes, partition: int, request: dict[str, Any], erased_at: float) -> Change:
        """Forget customer *key* (schemas/erasure_request.v1.json): the change deletes the state.

        Their deadlines end here, and once the caller keeps ``forget_until`` where *erased_at* of the
        constructor finds it, their touchpoints dated at or before the request are dropped.
        *erased_at* here is the worker's clock (replay: the request's instant).
        """
        state = self._lookup(key)
        before = _open_counts(state)
        outputs = self.tracker.erase(state, key.decode(), request, erased_at)
        self._index.schedule(partition, key, None)
        self.progress.drop(partition, key)  # nor do they count among the best-customer population any more
        requested = requested_instant(request)
        # Their identifiers forget them too, each on its own partition.
        outputs.forwards.extend(unlinks(state, key.decode(), requested))
        earlier = self._erased_at(key)
        blank = CustomerState(partition=partition)
        change = Change(key, partition, ERASURE, blank, outputs, state is not None, erased=True)
        change.forget_until = max(requested, earlier) if earlier is not None else requested
        change.inquiries_opened, change.cases_opened = -before[0], -before[1]
        return change

    def identity(self, key: bytes, partition: int, message: Control | Split) -> Change:
        """Apply an identity record to *key*: a claim of its identifier, a profile merging in, a split."""
        if isinstance(message, Claim):
            return self._claim(key, partition, message)
        if isinstance(message, MergeIn):
            return self._merge_in(key, partition, message)
        if isinstance(message, Unmerge):
            return self._unmerge(key, partition, message)
        if isinstance(message, Unlink):
            return self._unlink(key, partition, message)
        return self._split(key, partition, message)

    def _claim(self, key: bytes, partition: int, claim: Claim) -> Change:
        """An event naming a customer carried identifier *key*: link it, merge its profile, or note a conflict."""
        assert self.resolver is not None, "claims are made only with identity resolution on"
        state = known = self._lookup(key)
        before = _open_counts(state)
        record = IdentityRecord.from_list(state.identity) if state and state.identity else IdentityRecord()
        outcome = self.resolver.claim(record, claim)
        if (
            state is not None
            and not outcome.links
            and outcome.conflict is None
            and state.identity is not None
            and record.to_list() == state.identity
        ):
            # Most claims: a customer showing their own identifier again. The record is as it was, so the
            # identifier's state is not written again (a changelog record each, for nothing).
            unchanged = Change(key, partition, UNCHANGED, state, Outputs(), True)
            unchanged.claim = outcome.outcome
            return unchanged
        out = Outputs()
        if outcome.conflict is not None:
            out.conflicts.append(outcome.conflict)
        ended = None
        if outcome.links and state is not None and state.is_profile:
            ended = state.stage
            snapshot = _profile(state)
            moved = {
                old: moves.moved_id(old, data, claim.customer) for old, data in state.alerts_open.items()
            }
            record.merged, record.merged_event, record.merged_at = snapshot, claim.event_id, claim.at
            record.alerts = moved
            calendars = self.tracker.config.calendars
            for old, data in state.alerts_open.items():
                alert = moves.closed(
                    old, key.decode(), data, claim.at, moves.AUTO_MERGED, calendars, merged_into=moved[old]
                )
                out.alerts.append(alert)
            merge = Merge(MERGE, key.decode(), claim.customer, claim.event_id, claim.at, tuple(moved.items()))
            out.merges.append(merge)
            merging = MergeIn(claim.customer, key.decode(), claim.event_id, claim.at, snapshot)
            out.forwards.append(Forward(claim.customer, control=merging))
            state = None  # the merged-away key keeps only the identifier's record: never a profile again
            self.progress.drop(partition, key)  # its purchases count with its customer's from now on
        if state is None:
            state = CustomerState(partition=partition)
        state.identity = record.to_list()
        self._index.schedule(partition, key, state.wake_at)
        change = _change(key, partition, IDENTITY, state, out, before, known is not None)
        change.claim, change.ended = outcome.outcome, ended
        return change

    def _merge_in(self, key: bytes, partition: int, message: MergeIn) -> Change:
        """An anonymous profile arrives at its customer *key*: merge it in."""
        known = self._lookup(key)
        before = _open_counts(known)
        state = known if known is not None else CustomerState(partition=partition)
        outputs = self.tracker.merge(state, key.decode(), message)
        self._index.schedule(partition, key, state.wake_at)
        self._note_buyer(partition, key, state)
        change = _change(key, partition, IDENTITY, state, outputs, before, known is not None)
        if known is None or not known.is_profile:
            change.restored = state.stage  # a customer whose first state is the merged profile
        return change

    def _split(self, key: bytes, partition: int, split: Split) -> Change:
        """An operator splits identifier *key* from the customer it was merged into: its profile comes back."""
        state = self._lookup(key)
        record = IdentityRecord.from_list(state.identity) if state and state.identity else None
        if record is None or self.resolver is None or not self.resolver.can_split(record, split):
            refused = Rejected(
                UNKNOWN_MERGE,
                f"{split.from_key} was not merged into {split.into} (or was split from it already)",
                "into",
            )
            return Change(
                key,
                partition,
                IDENTITY,
                state or CustomerState(partition=partition),
                Outputs(refused=refused),
                state is not None,
            )
        before = _open_counts(state)
        moved = dict(record.alerts)
        snapshot = self.resolver.split(record, split)
        out = Outputs()
        restored = None
        if snapshot is not None:
            profile = CustomerState.decode(snapshot)
            profile.partition = partition
            calendars = self.tracker.config.calendars
            for old, data in profile.alerts_open.items():
                alert = moves.reopened(
                    old,
                    split.from_key,
                    data,
                    split.at,
                    moves.AUTO_SPLIT,
                    calendars,
                    split_from=moved.get(old),
                )
                out.alerts.append(alert)
            out.forwards.append(
                Forward(split.into, control=Unmerge(split.into, split.from_key, snapshot, split.by, split.at))
            )
            state, restored = profile, profile.stage
            self._note_buyer(partition, key, profile)
        assert state is not None
        state.identity = record.to_list()
        pairs = tuple((new, old) for old, new in moved.items())
        out.merges.append(
            Merge(SPLIT, split.from_key, split.into, None, split.at, pairs, split.by, split.reason)
        )
        self._index.schedule(partition, key, state.wake_at)
        change = _change(key, partition, IDENTITY, state, out, before, True)
        change.restored = restored
        return change

    def _unmerge(self, key: bytes, partition: int, message: Unmerge) -> Change:
        """After a split, the customer *key* gives back what the merge brought."""
        known = self._lookup(key)
        if known is None:
            # Only an erasure deletes a customer the merge wrote: writing here would bring the key back.
            return Change(key, partition, UNCHANGED, CustomerState(partition=partition), Outputs(), False)
        before = _open_counts(known)
        outputs = self.tracker.unmerge(known, key.decode(), message)
        self._index.schedule(partition, key, known.wake_at)
        if known.clv_history:
            self._note_buyer(partition, key, known)
        else:
            self.progress.drop(partition, key)
        return _change(key, partition, IDENTITY, known, outputs, before, True)

    def _note_buyer(self, partition: int, key: bytes, state: CustomerState) -> None:
        """A buyer's values changed: the best-customer population of the partition follows."""
        if state.clv_history:
            self.progress.buyer(partition, key, state.first_purchase, state.clv_history)

    def _unlink(self, key: bytes, partition: int, unlink: Unlink) -> Change:
        """An erased customer's way to identifier *key*: its record forgets them (agents/journey/erasure.py)."""
        state = self._lookup(key)
        record = IdentityRecord.from_list(state.identity) if state is not None and state.identity else None
        if state is None or record is None or not IdentityResolver.unlink(record, unlink.customer):
            blank = state or CustomerState(partition=partition)
            return Change(key, partition, UNCHANGED, blank, Outputs(), state is not None)
        state.identity = record.to_list()
        return _change(key, partition, IDENTITY, state, Outputs(), _open_counts(state), True)

    def pending(self, partition: int) -> int | None:
        """How far ``due(partition)`` will fire next: the instant its clock newly reached, if any."""
        return self._pending.get(partition)

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

    def scheduled(self, partition: int) -> dict[bytes, int]:
        """Each customer of *partition* with a deadline, and when it is due (what the table's states say)."""
        return self._index.scheduled(partition)

    def restore(self, key: bytes, summary: StateSummary) -> None:
        """Take up a customer the table holds (after a rebalance): its next deadline and, for a buyer, its values."""
        self._index.schedule(summary.partition, key, summary.wake_at)
        if summary.clv_history:
            self.progress.buyer(summary.partition, key, summary.first_purchase, summary.clv_history)

    def forget_deadlines(self) -> None:
        """Drop every deadline and partition clock report (before rebuilding for the partitions now owned)."""
        self._index.clear()
        self.progress.forget()
        self._fired.clear()

    def own(self, partitions: set[int]) -> None:
        """The partitions this process owns now: each must report its progress, even with no customer."""
        self._owned = set(partitions)

    def overdue(self, now: float) -> list[int]:
        """The partitions with a deadline, or a progress mark, at or before *now*."""
        due_now = {
            partition
            for partition in self._index.partitions()
            if (due := self._index.next_due(partition)) is not None and due <= now
        }
        for partition in self._owned:
            mark = self.progress.next_mark(partition)
            if mark is None or mark <= now:
                due_now.add(partition)
        return sorted(due_now)

    def report(self, partition: int) -> Progress | None:
        """What *partition*'s clock passing its fired deadlines means for the coordinator, if anything new."""
        fired = self._fired.get(partition)
        return None if fired is None else self.progress.passed(partition, fired)

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
        self._fired[partition] = max(self._fired.get(partition, until), until)


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


def _never(_key: bytes) -> int | None:
    return None


def _instant(event: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(event["occurred_at"]).timestamp())


def _profile(state: CustomerState) -> bytes:
    """The encoded profile part of an identifier's state (its identity record left out)."""
    identity, state.identity = state.identity, None
    try:
        return state.encode()
    finally:
        state.identity = identity


def _open_counts(state: CustomerState | None) -> tuple[int, int]:
    """Unanswered inquiries and first-response cases of one customer (0, 0 for a new one)."""
    if state is None:
        return 0, 0
    return len(state.inquiries_open), len(state.sla_cases)
