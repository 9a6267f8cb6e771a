"""The population's best-customer thresholds in replay, the same with any number of processes.

At each boundary ``b`` of event time the population is every customer whose last purchase before
``b`` lies within the window, valued at that purchase; its quantile is the threshold ``T(b)``
(agents/models/population.py). A process sketches its own customers at ``b`` as its rows pass ``b``:
every row and erasure dated before it applied, none after. The sketches of all processes add up to
the population's, so ``T(b)`` depends on the data alone.

When ``T(b)`` is known follows the live worker, whose partitions learn it once their clocks, trailing
their events by the allowed lateness, have passed ``b``: in replay, from the first row of the whole
replay dated more than the lateness after ``b``. Every row from then on knows it. A deadline fired
after that row but dated before it minus the lateness (a clock jumping over a gap in the data) does
not: as on a live partition, it fires before the threshold arrives (streams/replay/shard.py). Both
moments are read off the rows' event times, never off a clock that depends on how the rows were
spread over processes.

With several processes, each sends the parent its sketches (the empty ones left out) and the rows it
passed, and waits, when it needs thresholds. ``Requests`` answers once every process has sketched up
to the boundaries asked for and passed them plus the lateness, so it knows the first row past each.
Each process reports up to its current row before it asks, so the process with the earliest rows
always gets its answer: nobody waits for ever. A process whose rows are done sketches up to the last
instant the replay can need before it says so.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agents.config import Config
from agents.models.population import ValueSketch, threshold_of

__all__ = ["Known", "Population", "Request", "Requests"]


@dataclass(frozen=True)
class Request:
    """What a process sends when it needs thresholds, or only reports how far it has come."""

    #: The last boundary it sketched (None: none yet), and its sketches since its last request, the
    #: empty ones left out (ValueSketch.to_json).
    sketched: int | None
    sketches: dict[int, dict[str, Any]]
    #: It knows the thresholds up to this boundary (None: none), and wants them up to this one (None:
    #: it only reports).
    learned: int | None
    wanted: int | None
    #: The row (epoch seconds) that needs them, the first of its rows past each boundary wanted plus
    #: the lateness; None: its rows are done.
    row: int | None


#: Boundary → its threshold (None: nobody is a best customer) and the first row of the whole replay
#: past the boundary plus the lateness (None: no row is): the moment a clock trailing the rows by
#: the lateness passed the boundary, and the threshold became known.
Known = dict[int, tuple[float | None, int | None]]


class Population:
    """Every process's sketches at each boundary, merged; the thresholds once every process has reported."""

    def __init__(self, config: Config, processes: int) -> None:
        best = config.model.best_customers
        self._quantile = config.model.best_customer_quantile
        self._min_buyers = best.min_buyers
        self._alpha = best.relative_accuracy
        #: Seconds between two boundaries.
        self.every = round(best.every_hours * 3600)
        #: process → the last boundary it sketched (None: none yet).
        self._sketched: list[int | None] = [None] * processes
        #: boundary → the sketches reported at it so far, merged (a boundary nobody reported is empty).
        self._merged: dict[int, ValueSketch] = {}
        #: boundary → its threshold, where there is one (every other boundary's is None).
        self._thresholds: dict[int, float] = {}

    def report(self, process: int, sketched: int | None, sketches: Mapping[int, Mapping[str, Any]]) -> None:
        """*process* sketched every boundary up to *sketched*; *sketches* are the non-empty ones since its last report."""
        for boundary, document in sketches.items():
            merged = self._merged.get(boundary)
            if merged is None:
                self._merged[boundary] = ValueSketch.from_json(document)
            else:
                merged.merge(ValueSketch.from_json(document))
        if sketched is not None:
            previous = self._sketched[process]
            self._sketched[process] = sketched if previous is None else max(previous, sketched)
        ready = self.ready_until()
        if ready is not None:
            for boundary in [b for b in self._merged if b <= ready]:
                total = self._merged.pop(boundary)
                threshold = threshold_of(total, self._quantile, self._min_buyers)
                if threshold is not None:
                    self._thresholds[boundary] = threshold

    def ready_until(self) -> int | None:
        """The last boundary every process has sketched (None: some process has sketched none yet)."""
        sketched = self._sketched
        return None if None in sketched else min(s for s in sketched if s is not None)

    def thresholds(self, after: int | None, until: int) -> dict[int, float]:
        """The thresholds of the boundaries after *after* (None: from the first) up to *until* that have one;
        every other boundary's is None. Only once ``ready_until()`` has reached *until*."""
        ready = self.ready_until()
        if ready is None or ready < until:
            raise ValueError(
                f"the thresholds up to {until} are not known yet (every process has sketched to {ready})"
            )
        return {
            boundary: threshold
            for boundary, threshold in self._thresholds.items()
            if boundary <= until and (after is None or boundary > after)
        }


class Requests:
    """Each process's requests, answered once every process has sketched, and passed with its rows, what they ask.

    A process passes a boundary plus the lateness once with its rows: with the request its first row
    past it makes, or, for the boundaries before its first row, with that row (its first request says
    which), or never, once its rows are done.
    """

    def __init__(self, population: Population, processes: int) -> None:
        self._population = population
        #: Process → (its first row, the last boundary its rows passed before it) once it has said so.
        self._first: list[tuple[int, int | None] | None] = [None] * processes
        #: Process → (last boundary asked, the row that asked), in order.
        self._rows: list[list[tuple[int, int]]] = [[] for _ in range(processes)]
        #: Process → its rows are done.
        self._done = [False] * processes
        #: Requests waiting: (process, learned, wanted).
        self._waiting: list[tuple[int, int | None, int]] = []

    def serve(self, process: int, request: Request) -> list[tuple[int, Known]]:
        """Take *process*'s *request*; return the answers now due, each to its process, in the order asked."""
        self._population.report(process, request.sketched, request.sketches)
        if request.row is None:
            self._done[process] = True
        else:
            if self._first[process] is None:
                self._first[process] = (request.row, request.learned)
            if request.wanted is not None and (request.learned is None or request.wanted > request.learned):
                self._rows[process].append((request.wanted, request.row))
        if request.wanted is not None:
            self._waiting.append((process, request.learned, request.wanted))
        answers = []
        for entry in list(self._waiting):
            asking, learned, wanted = entry
            if self._ready(wanted):
                answers.append((asking, self._known(learned, wanted)))
                self._waiting.remove(entry)
        return answers

    def _ready(self, wanted: int) -> bool:
        sketched = self._population.ready_until()
        return (
            sketched is not None
            and sketched >= wanted
            and all(self._passed(process) >= wanted for process in range(len(self._done)))
        )

    def _passed(self, process: int) -> float:
        """The last boundary plus the lateness *process*'s rows have passed (infinite once they are done)."""
        if self._done[process]:
            return math.inf
        first, rows = self._first[process], self._rows[process]
        passed = -math.inf if first is None or first[1] is None else first[1]
        return max(passed, rows[-1][0]) if rows else passed

    def _known(self, learned: int | None, wanted: int) -> Known:
        thresholds = self._population.thresholds(learned, wanted)
        every = self._population.every
        start = wanted if learned is None else learned + every
        return {
            boundary: (thresholds.get(boundary), self._first_row(boundary))
            for boundary in range(start, wanted + 1, every)
        }

    def _first_row(self, boundary: int) -> int | None:
        """The first row of any process past *boundary* plus the lateness."""
        rows = []
        for process, first in enumerate(self._first):
            if first is not None and first[1] is not None and boundary <= first[1]:
                rows.append(first[0])
                continue
            asked = self._rows[process]
            index = bisect.bisect_left(asked, (boundary, -math.inf))
            if index < len(asked):
                rows.append(asked[index][1])
        return min(rows, default=None)
