"""What each partition tells the coordinator: its warnings, and its clock passing marks, with its buyers' values.

A partition's side of agents/coordination/coordinator.py. ``PartitionProgress`` remembers each
buyer's recent CLVs (rebuilt from the table after a rebalance, like the deadline index) and says
when a partition's clock crossed a mark: every digest interval, and every population boundary,
with the sketch of its buyers at that boundary. The records travel, in order, on one channel:
the single-partition topic ``journey.progress`` in the worker, a function call in replay.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from agents.config import Config
from agents.domain.alert import DueSoon
from agents.domain.state import history as as_history
from agents.models.population import KEPT_THRESHOLDS, ValueSketch, contribution

__all__ = [
    "ANSWERED",
    "DUE_SOON",
    "PROGRESS",
    "PartitionProgress",
    "Progress",
    "decode_signal",
    "encode_signals",
]

#: Without digests, a partition still reports its progress this often (seconds of event time).
MARK_WITHOUT_DIGESTS: Final = 3600
#: Boundaries a partition reports when its clock starts afresh (a restart): the latest few.
FRESH_BOUNDARIES: Final = 2
#: Boundaries one report carries at most. A clock that jumps (a backfill after a pause, a customer's
#: events years apart) passes any number of boundaries at once; every worker keeps only the latest
#: KEPT_THRESHOLDS thresholds, so older ones would be dropped on arrival, and reporting them would
#: only make the record grow with the jump (one sketch per boundary) past what Kafka accepts.
REPORTED_BOUNDARIES: Final = KEPT_THRESHOLDS
#: Values kept per buyer until the boundaries that need them are reported: a bound on memory for a
#: customer buying many times while the partition's clock stands still.
KEPT_VALUES: Final = 64

#: Kinds of record on the coordination channel.
DUE_SOON: Final = "due_soon"
ANSWERED: Final = "answered"
PROGRESS: Final = "progress"


@dataclass(frozen=True, slots=True)
class Progress:
    """Partition *partition*'s clock has passed *until*: every deadline before it has fired there."""

    partition: int
    until: int
    #: Population boundary → the partition's sketch at it (ValueSketch.to_json), for the boundaries passed.
    sketches: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    #: Before this instant the partition had no buyer: its sketch at any earlier boundary is empty.
    empty_before: int | None = None

    # Written out for the compiled core, as Outputs' (agents/domain/outputs.py): compiled, this runs
    # natively, where the frozen dataclass's generated one runs interpreted.
    def __init__(
        self,
        partition: int,
        until: int,
        sketches: Mapping[int, Mapping[str, Any]] | None = None,
        empty_before: int | None = None,
    ) -> None:
        object.__setattr__(self, "partition", partition)
        object.__setattr__(self, "until", until)
        object.__setattr__(self, "sketches", {} if sketches is None else sketches)
        object.__setattr__(self, "empty_before", empty_before)


def encode_signals(
    partition: int,
    due_soon: Iterable[DueSoon],
    answered: Iterable[tuple[str, int]],
    progress: Progress | None,
) -> Iterator[bytes]:
    """The coordination records for one partition's outputs, in the order the coordinator must see them."""
    for item in due_soon:
        yield orjson.dumps({"kind": DUE_SOON, "partition": partition, "body": item.to_json()})
    for item_id, at in answered:
        yield orjson.dumps({"kind": ANSWERED, "partition": partition, "body": {"item_id": item_id, "at": at}})
    if progress is not None:
        body: dict[str, Any] = {"until": progress.until}
        if progress.sketches:
            body["sketches"] = {str(b): sketch for b, sketch in progress.sketches.items()}
        if progress.empty_before is not None:
            body["empty_before"] = progress.empty_before
        yield orjson.dumps({"kind": PROGRESS, "partition": partition, "body": body})


def decode_signal(record: bytes) -> tuple[str, int, dict[str, Any]]:
    document = orjson.loads(record)
    return str(document["kind"]), int(document["partition"]), dict(document["body"])


class PartitionProgress:
    """The partitions one process owns, as they report: clocks passing marks, and their buyers' values."""

    def __init__(self, config: Config, *, population: bool = True) -> None:
        """*population*: keep the buyers and sketch them at each boundary (with a population threshold);
        off where nobody merges the partitions' sketches, then a boundary is reported only as a mark."""
        self.mark = config.sla.warning_digest_seconds or MARK_WITHOUT_DIGESTS
        best = config.model.best_customers
        self._population = population and best.fixed is None
        self._keeps_buyers = population
        self.every = round(best.every_hours * 3600)
        self._window = round(best.window_days * 86_400)
        self._alpha = best.relative_accuracy
        #: partition → customer key → (first purchase, [purchase instant, CLV] of the latest purchases).
        self._buyers: dict[int, dict[bytes, tuple[int, tuple[tuple[int, float], ...]]]] = {}
        #: partition → the time its clock has passed, and the last mark and boundary it reported.
        self._passed: dict[int, int] = {}
        self._marked: dict[int, int] = {}
        self._sketched: dict[int, int] = {}

    def buyer(self, partition: int, key: bytes, first_purchase: int, values: Sequence[Sequence[Any]]) -> None:
        """Remember a customer's first purchase and recent values (call after every change of a buyer).

        *values* are ``[instant, clv]`` pairs, oldest first, as the state keeps them (``clv_history``).
        The customer's state keeps only its latest few values (``CLV_HISTORY``), but the partition's
        clock may pass a boundary long after the customer's own (a backfill, allowed lateness): the
        value a boundary needs is kept here until that boundary is reported, so the sketch does not
        depend on how many purchases were applied before the clock passed it. Only a rebalance,
        which rebuilds this from the states, falls back on their latest few.
        """
        if not values or not self._keeps_buyers:
            return
        buyers = self._buyers.setdefault(partition, {})
        known = buyers.get(key)
        sketched = self._sketched.get(partition)
        if known is not None and known[0] == first_purchase and _holds(known[1], values, sketched):
            # Nothing new (the journey calls after every touchpoint of a buyer, most of them no purchase):
            # merging would give the values kept back. Compared as they are, before they are made a
            # tuple: that is most calls.
            return
        # Kept in order of instant, one value per instant, whatever order *values* came in: the trim
        # below, the quick comparison above and ``horizon`` rely on it.
        merged = dict(known[1]) if known is not None else {}
        merged.update(as_history(values))
        history = tuple(sorted(merged.items()))
        if sketched is not None:
            # Boundaries after the last one reported need the latest value before each: the latest
            # before that boundary, and everything since.
            older = [entry for entry in history if entry[0] < sketched]
            history = tuple(older[-1:] + [entry for entry in history if entry[0] >= sketched])
        buyers[key] = (first_purchase, history[-KEPT_VALUES:])

    def buyers(self, partition: int) -> dict[bytes, tuple[int, tuple[tuple[int, float], ...]]]:
        """The partition's buyers: each one's first purchase and the values kept for the boundaries to come."""
        return dict(self._buyers.get(partition, {}))

    def drop(self, partition: int, key: bytes) -> None:
        """The customer *key* is no buyer of this partition any more (a profile merged into its customer)."""
        self._buyers.get(partition, {}).pop(key, None)

    def forget(self) -> None:
        """Forget everything (before rebuilding for the partitions owned after a rebalance)."""
        self._buyers.clear()
        self._passed.clear()
        self._marked.clear()
        self._sketched.clear()

    def passed(self, partition: int, until: int) -> Progress | None:
        """The partition's clock reached *until*; the Progress to report if it crossed a mark or a boundary."""
        previous = self._passed.get(partition)
        if previous is not None and until <= previous:
            return None
        self._passed[partition] = until
        mark = until - until % self.mark
        boundary = until - until % self.every
        marked = self._marked.get(partition)
        sketched = self._sketched.get(partition)
        new_mark = marked is None or mark > marked
        new_boundary = self._population and (sketched is None or boundary > sketched)
        if not new_mark and not new_boundary:
            return None
        self._marked[partition] = mark
        sketches: dict[int, dict[str, Any]] = {}
        empty_before = None
        if new_boundary:
            start = (
                boundary - (FRESH_BOUNDARIES - 1) * self.every if sketched is None else sketched + self.every
            )
            start = max(start, boundary - (REPORTED_BOUNDARIES - 1) * self.every)
            for at in range(start, boundary + 1, self.every):
                sketches[at] = self.sketch(partition, at).to_json()
            self._sketched[partition] = boundary
            buyers = self._buyers.get(partition, {})
            empty_before = min((first for first, _ in buyers.values()), default=until)
        return Progress(partition, until, sketches, empty_before)

    def sketch(self, partition: int, boundary: int, excluded: Container[bytes] = ()) -> ValueSketch:
        """The partition's buyers at *boundary* (less the customers *excluded*): each one's value then, in a
        mergeable sketch."""
        sketch = ValueSketch(self._alpha)
        for key, (_, history) in self._buyers.get(partition, {}).items():
            value = contribution(history, boundary, self._window)
            if value is not None and key not in excluded:
                sketch.add(value)
        return sketch

    def sketched(self, partition: int, boundary: int) -> None:
        """Every boundary of *partition* up to *boundary* is sketched (by ``sketch``, as replay does):
        from now on each buyer keeps only the values the later boundaries need."""
        previous = self._sketched.get(partition)
        self._sketched[partition] = boundary if previous is None else max(previous, boundary)

    def horizon(self, partition: int) -> int | None:
        """The last boundary at which any buyer of *partition* may still count (None: no buyer): the
        window after its latest purchase. The sketch at any later boundary is empty."""
        latest = max(
            (history[-1][0] for _, history in self._buyers.get(partition, {}).values()), default=None
        )
        return None if latest is None else latest + self._window

    def next_mark(self, partition: int) -> int | None:
        """When the partition's clock next crosses a mark (None: it has not started)."""
        passed = self._passed.get(partition)
        return None if passed is None else passed - passed % self.mark + self.mark


def _holds(
    kept: tuple[tuple[int, float], ...], values: Sequence[Sequence[Any]], sketched: int | None
) -> bool:
    """Whether ``buyer`` would keep *kept* as it is after merging *values* into it.

    True when *values* (``[instant, clv]`` pairs) are in strictly rising order of instant and *kept*
    ends with the ones a boundary after *sketched* still needs: the latest before *sketched*, and
    everything since (all of them before any boundary was reported). *kept* itself must hold no more
    than that before *sketched*: it was trimmed there. Then the merge adds nothing, and the trim at
    *sketched* drops only the older values it drops from *values*, none of them in *kept*.

    This is the common case: most touchpoints of a buyer are no purchase, so *values* are what was
    handed last, and after a boundary was reported they still hold older values *kept* has dropped.
    """
    if sketched is not None and len(kept) > 1 and kept[1][0] < sketched:
        return False
    # From the newest value back, each older than the one before: the values down to the latest before
    # *sketched* must match the values kept from their end; the trim drops those older still.
    place = len(kept)
    last = len(values) - 1
    newer = 0
    matching = True
    for index in range(last, -1, -1):
        pair = values[index]
        instant = int(pair[0])
        if index < last and instant >= newer:
            return False
        newer = instant
        if matching:
            if place == 0:
                return False
            place -= 1
            entry = kept[place]
            if entry[0] != instant or entry[1] != float(pair[1]):
                return False
            matching = sketched is None or instant >= sketched
    return True
