"""Who the best customers are without a fit: the top decile of CLV among current buyers, kept as it streams.

**The population.** At each boundary ``b`` of event time (``model.best_customers.every_hours``,
midnight UTC by default) the population is every customer whose last purchase before ``b`` lies
within ``window_days`` of it, valued at that purchase (the CLV the worker estimates at each
purchase, agents/models/customer.py). Its ``quantile`` (``model.best_customer_quantile``, 0.9) is
the threshold ``T(b)``; a customer whose CLV is at or above it is a best customer.

**The sketch.** Each partition summarises its own customers at ``b`` in a ``ValueSketch``: values
in logarithmic buckets ``(γ^(k-1), γ^k]`` with ``γ = (1 + α)/(1 − α)``, a count per bucket. Sketches
merge by adding counts, so the merge of every partition's sketch is exactly the sketch of the whole
population, whatever the order or the number of workers. The quantile read from it is within a
relative error α (``relative_accuracy``, 1 %) of the exact value at that rank: ``|T̃ − T| ≤ α·T``
(DDSketch, Masson, Rim & Lee, VLDB 2019). A sketch of ten thousand customers whose CLVs span six
orders of magnitude has at most ~700 buckets; typically 100-300.

**Determinism.** ``T(b)`` takes effect ``effective_after_hours`` after ``b``: every event from
``b + delay`` to the next boundary's ``+ delay`` is judged against it, in replay as in the live
worker, where the partitions' sketches meet (agents/coordination/coordinator.py) and the threshold
travels to every worker (streams/population.py). A live worker that has not received ``T(b)`` by
then (a partition's clock more than the delay behind, as in a fast backfill) uses the latest one it
has, and counts it (``touchpoint_best_customer_threshold_late_total``): the only way the live
worker can then differ from replay.

**One record's influence.** A single new customer, however large their purchase, adds one value
to the population: the threshold moves by at most one rank (the next value up or down), and
only from the next boundary on. So one record can change who is a best customer only at the
margin of the decile, and never before the next boundary; the property tests state it exactly.
Until a boundary's population holds ``min_buyers`` buyers, nobody is a best customer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from mypy_extensions import mypyc_attr

__all__ = [
    "BestCustomerThreshold",
    "FixedThreshold",
    "PopulationThreshold",
    "ValueSketch",
    "contribution",
    "threshold_of",
]

#: Purchases a customer's state remembers with the CLV each one left (``CustomerState.clv_history``).
CLV_HISTORY: Final = 4
#: Thresholds a worker keeps: enough for every event still to come within the lateness of its partition.
KEPT_THRESHOLDS: Final = 14


class ValueSketch:
    """Counts of positive values in logarithmic buckets of relative width 2α/(1 − α) (a DDSketch)."""

    __slots__ = ("_gamma_log", "alpha", "bins", "count", "zeros")

    def __init__(self, alpha: float = 0.01, bins: Mapping[int, int] | None = None, zeros: int = 0) -> None:
        if not 0 < alpha < 1:
            raise ValueError(f"relative accuracy must be within (0, 1), got {alpha}")
        self.alpha = alpha
        self._gamma_log = math.log((1 + alpha) / (1 - alpha))
        self.bins: dict[int, int] = dict(bins or {})
        #: Values of zero or less (a customer whose CLV rounds to nothing).
        self.zeros = zeros
        self.count = zeros + sum(self.bins.values())

    def key(self, value: float) -> int:
        """The bucket of a positive *value*: the k with γ^(k-1) < value ≤ γ^k."""
        return math.ceil(math.log(value) / self._gamma_log)

    def value(self, key: int) -> float:
        """The bucket's representative, within α of every value in it: 2γ^k / (γ + 1)."""
        gamma = math.exp(self._gamma_log)
        return 2 * math.exp(key * self._gamma_log) / (gamma + 1)

    def add(self, value: float, count: int = 1) -> None:
        if value <= 0:
            self.zeros += count
        else:
            key = self.key(value)
            self.bins[key] = self.bins.get(key, 0) + count
        self.count += count

    def merge(self, other: ValueSketch) -> None:
        """Add *other*'s counts to this sketch (both must have the same relative accuracy)."""
        if other.alpha != self.alpha:
            raise ValueError(f"cannot merge sketches of accuracy {other.alpha} and {self.alpha}")
        for key, count in other.bins.items():
            self.bins[key] = self.bins.get(key, 0) + count
        self.zeros += other.zeros
        self.count += other.count

    def quantile(self, q: float) -> float | None:
        """The value at rank ⌊q·(n − 1)⌋ of the n values (0-based, ascending), within α; None when empty."""
        if self.count == 0:
            return None
        rank = math.floor(q * (self.count - 1))
        if rank < self.zeros:
            return 0.0
        seen = self.zeros
        for key in sorted(self.bins):
            seen += self.bins[key]
            if seen > rank:
                return self.value(key)
        return self.value(max(self.bins))  # unreachable: the counts add up to count

    def to_json(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "zeros": self.zeros,
            "bins": {str(k): v for k, v in sorted(self.bins.items())},
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> ValueSketch:
        bins = {int(key): int(count) for key, count in document.get("bins", {}).items()}
        return cls(float(document["alpha"]), bins, int(document.get("zeros", 0)))


def contribution(history: Iterable[Sequence[Any]], boundary: int, window: int) -> float | None:
    """A customer's value in the population at *boundary*: the CLV their last purchase before it left.

    *history* is ``CustomerState.clv_history`` ([instant, CLV] of the latest purchases, oldest first).
    None when the customer had bought nothing before *boundary* as far as remembered (a customer with
    more than ``CLV_HISTORY`` purchase instants since the boundary counts as none: the journey keeps
    older values until their boundaries are reported, agents/coordination/progress.py, so this
    happens only to a partition rebuilt after a rebalance while its clock lagged), or not within
    *window* seconds of it.
    """
    entries = list(history)
    before = [entry for entry in entries if entry[0] < boundary]
    if before:
        last, clv = before[-1][0], before[-1][1]
        return float(clv) if boundary - last <= window else None
    return None


def threshold_of(population: ValueSketch, quantile: float, min_buyers: int) -> float | None:
    """The threshold of a boundary's whole *population*: its *quantile*, once it holds *min_buyers* buyers."""
    return population.quantile(quantile) if population.count >= min_buyers else None


@mypyc_attr(allow_interpreted_subclasses=True)  # so that PopulationThreshold's subclasses can be built
class BestCustomerThreshold:
    """The CLV at or above which a customer is a best customer, at an instant."""

    #: Shown in the customer view and in alerts: where the threshold comes from.
    source: str = ""

    def at(self, instant: int) -> float | None:
        """The threshold in effect at *instant*; None: nobody is a best customer then."""
        raise NotImplementedError

    def is_best(self, clv: float, instant: int) -> bool:
        threshold = self.at(instant)
        return threshold is not None and clv > 0 and clv >= threshold


@dataclass
class FixedThreshold(BestCustomerThreshold):
    """One threshold for all time: recorded by ``touchpoint fit`` or given in the rules file."""

    value: float
    source: str = "fixed"

    def at(self, instant: int) -> float | None:
        return self.value


@dataclass
@mypyc_attr(allow_interpreted_subclasses=True)  # the replay tests record and pin it in subclasses
class PopulationThreshold(BestCustomerThreshold):
    """The population's quantile at the latest boundary in effect; thresholds arrive as boundaries close."""

    every: int
    delay: int
    #: Boundary → its threshold (None: too few buyers then), as far as known.
    known: dict[int, float | None] = field(default_factory=dict)
    #: How often a threshold was used before its boundary's own was known (live only; the worker counts
    #: them once per batch, agents/coordination/agent.py).
    late: int = 0
    source: str = "population"
    #: Thresholds kept, the latest: a worker keeps KEPT_THRESHOLDS; replay keeps every one it learned.
    kept: int = KEPT_THRESHOLDS
    #: Boundaries from this one on count as not known yet (replay: a deadline fired after a row that
    #: taught them, but before the clock passed it, did not know them; streams/replay/shard.py).
    hidden_from: int | None = None
    #: ``at``'s last lookup of a stand-in: ``_stand_in`` is the latest known boundary before the limit
    #: ``_stand_in_for`` (None: there is none), good until ``learn`` changes ``known``. While a partition
    #: lags (always, for a live worker's first boundaries), every decision asks for the same one.
    _stand_in_for: int | None = field(default=None, init=False, repr=False, compare=False)
    _stand_in: int | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Compiled, a field left out of __init__ has no value until one is set, default or not.
        self._stand_in_for = None
        self._stand_in = None

    def boundary(self, instant: int) -> int:
        """The boundary whose threshold is in effect at *instant*."""
        moment = instant - self.delay
        return moment - moment % self.every

    def at(self, instant: int) -> float | None:
        wanted = self.boundary(instant)
        hidden = self.hidden_from
        if wanted in self.known and (hidden is None or wanted < hidden):
            return self.known[wanted]
        limit = wanted if hidden is None else min(wanted, hidden)
        if limit != self._stand_in_for:
            earlier = [boundary for boundary in self.known if boundary < limit]
            self._stand_in = max(earlier) if earlier else None
            self._stand_in_for = limit
        stand_in = self._stand_in
        if stand_in is None:
            return None
        self.late += 1
        return self.known[stand_in]

    def learn(self, boundary: int, threshold: float | None) -> None:
        """The population's threshold at *boundary* is known now."""
        self._stand_in_for = None
        self.known[boundary] = threshold
        while len(self.known) > self.kept:
            del self.known[min(self.known)]


@dataclass
class PopulationMerge:
    """The partitions' sketches at each boundary, merged once every partition has reported it."""

    partitions: int
    quantile: float
    min_buyers: int
    alpha: float
    #: boundary → partition → its sketch (until every partition has reported).
    reports: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    #: partition → before this instant it had no buyer (its sketch at any earlier boundary is empty).
    empty_before: dict[int, int] = field(default_factory=dict)
    #: The boundaries merged already, the newest ones: [threshold or None, current buyers].
    merged: dict[int, list[Any]] = field(default_factory=dict)
    #: partition → the latest boundary it reported: it will never report an earlier one.
    reported: dict[int, int] = field(default_factory=dict)

    def report(
        self, partition: int, sketches: Mapping[int, Mapping[str, Any]], empty_before: int | None
    ) -> list[tuple[int, float | None, int]]:
        """A partition's sketches at boundaries it passed; returns (boundary, threshold, buyers) newly complete."""
        if empty_before is not None:
            self.empty_before[partition] = max(self.empty_before.get(partition, empty_before), empty_before)
        for boundary, sketch in sketches.items():
            if boundary in self.merged:
                continue
            self.reports.setdefault(boundary, {}).setdefault(partition, dict(sketch))
        if sketches:
            self.reported[partition] = max(self.reported.get(partition, max(sketches)), max(sketches))
        done = []
        for boundary in sorted(self.reports):
            reports = self.reports[boundary]
            missing = [
                p
                for p in range(self.partitions)
                if p not in reports and boundary > self.empty_before.get(p, -1)
            ]
            if missing:
                continue
            total = ValueSketch(self.alpha)
            for sketch in reports.values():
                total.merge(ValueSketch.from_json(sketch))
            threshold = threshold_of(total, self.quantile, self.min_buyers)
            self.merged[boundary] = [threshold, total.count]
            done.append((boundary, threshold, total.count))
        for boundary, _, _ in done:
            del self.reports[boundary]
        self._forget_incomplete()
        while len(self.merged) > KEPT_THRESHOLDS:
            del self.merged[min(self.merged)]
        return done

    def _forget_incomplete(self) -> None:
        """Drop the boundaries that can no longer complete or matter, so the state stays bounded.

        A partition whose clock jumped reports only its latest boundaries
        (agents/coordination/progress.py): an earlier boundary it skipped never completes. Nor
        does a boundary older than every threshold a worker keeps matter any more. Without this,
        the sketches waiting here (one per partition and boundary) would grow with every jump.
        """
        for boundary in list(self.reports):
            reports = self.reports[boundary]
            skipped = any(
                p not in reports
                and boundary > self.empty_before.get(p, -1)
                and self.reported.get(p, boundary) > boundary
                for p in range(self.partitions)
            )
            if skipped or (len(self.merged) >= KEPT_THRESHOLDS and boundary < min(self.merged)):
                del self.reports[boundary]
        while len(self.reports) > KEPT_THRESHOLDS:
            del self.reports[min(self.reports)]

    def to_json(self) -> dict[str, Any]:
        return {
            "reports": {str(b): {str(p): s for p, s in r.items()} for b, r in self.reports.items()},
            "empty_before": {str(p): at for p, at in self.empty_before.items()},
            "merged": {str(b): t for b, t in self.merged.items()},
            "reported": {str(p): b for p, b in self.reported.items()},
        }

    def load(self, document: Mapping[str, Any]) -> None:
        self.reports = {
            int(b): {int(p): s for p, s in r.items()} for b, r in document.get("reports", {}).items()
        }
        self.empty_before = {int(p): int(at) for p, at in document.get("empty_before", {}).items()}
        self.merged = {int(b): list(t) for b, t in document.get("merged", {}).items()}
        self.reported = {int(p): int(b) for p, b in document.get("reported", {}).items()}
