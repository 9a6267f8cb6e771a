"""Where the partitions meet: the warning digests of each queue, and the best-customer threshold.

Two outputs need every partition's customers at once: a queue's digest of first-response warnings
(agents/alerts/digests.py) and the population's top decile of CLV (agents/models/population.py).
Each partition reports, in order (agents/coordination/progress.py): its warnings and which of
them got their answer, and ``Progress``: its clock has passed ``until``, so no earlier warning will
come from it, with the sketch of its buyers at every population boundary it passed.

The ``Coordinator`` publishes an interval's digests once *every* partition has passed the
interval's end, and a boundary's threshold once every partition has reported that boundary. Its
results therefore depend only on the data, never on how partitions are spread over workers or
when their reports arrive: replay (one partition) and any number of workers publish the same.

The worker keeps the coordinator's state in records (``records``, ``changes``, ``restore``): its
bounded part (each partition's progress, the population's reports, the digests' horizon) under
``STATE_KEY``, and each entry that grows with the open inquiries under a key of its own
(agents/alerts/digests.py). A state kept whole under ``STATE_KEY``, as before, still loads.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, Final

import orjson

from agents.alerts.digests import KINDS, WarningDigests
from agents.calendar import Calendars
from agents.config import Config
from agents.coordination.progress import ANSWERED, DUE_SOON, PROGRESS, Progress, decode_signal
from agents.domain.alert import Alert, DueSoon
from agents.models.population import PopulationMerge

__all__ = ["STATE_KEY", "Coordinated", "Coordinator"]

#: The key of the coordinator's bounded state; every other key is an entry of the digests'.
STATE_KEY: Final = b"state"


@dataclass
class Coordinated:
    """What the coordinator publishes after one report."""

    #: Digests opened and ended (alerts.first_response_due_soon).
    alerts: list[Alert] = field(default_factory=list)
    #: (boundary, threshold or None, current buyers) of each population boundary now complete.
    thresholds: list[tuple[int, float | None, int]] = field(default_factory=list)


class Coordinator:
    """Every partition's reports in, digests and thresholds out (pure; the worker keeps its state in a table)."""

    def __init__(self, config: Config, partitions: int) -> None:
        self.partitions = partitions
        calendars = config.calendars
        interval = config.sla.warning_digest_seconds
        self.digests = (
            WarningDigests(interval, lambda channel, location: _zone(calendars, channel, location))
            if interval
            else None
        )
        best = config.model.best_customers
        self.population = (
            PopulationMerge(
                partitions, config.model.best_customer_quantile, best.min_buyers, best.relative_accuracy
            )
            if best.fixed is None
            else None
        )
        #: partition → the time its clock has passed.
        self.progress: dict[int, int] = {}
        #: The bounded state's record as last kept (None: not kept yet), and records to delete.
        self._kept_state: bytes | None = None
        self._discarded: list[bytes] = []

    def due_soon(self, item: DueSoon) -> None:
        if self.digests is not None:
            self.digests.add(item)

    def answered(self, item_id: str, at: int) -> None:
        if self.digests is not None:
            self.digests.answer(item_id, at)

    def passed(self, progress: Progress) -> Coordinated:
        """A partition's clock passed ``progress.until``: publish what every partition has now passed."""
        out = Coordinated()
        previous = self.progress.get(progress.partition)
        self.progress[progress.partition] = (
            progress.until if previous is None else max(previous, progress.until)
        )
        if self.population is not None and (progress.sketches or progress.empty_before is not None):
            out.thresholds = self.population.report(
                progress.partition, progress.sketches, progress.empty_before
            )
        if self.digests is not None and len(self.progress) >= self.partitions:
            out.alerts = self.digests.advance(min(self.progress.values()))
        return out

    def apply(self, record: bytes) -> Coordinated:
        """Apply one record of the coordination channel (``encode_signals``)."""
        kind, partition, body = decode_signal(record)
        if kind == DUE_SOON:
            self.due_soon(DueSoon.from_json(body))
        elif kind == ANSWERED:
            self.answered(body["item_id"], int(body["at"]))
        elif kind == PROGRESS:
            sketches = {int(b): sketch for b, sketch in body.get("sketches", {}).items()}
            return self.passed(Progress(partition, int(body["until"]), sketches, body.get("empty_before")))
        return Coordinated()

    def to_json(self) -> dict[str, Any]:
        """The whole state as one document (what a worker before the records per entry kept under STATE_KEY)."""
        return self._document(None if self.digests is None else self.digests.to_json())

    def _document(self, digests: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "progress": {str(p): until for p, until in self.progress.items()},
            "digests": digests,
            "population": None if self.population is None else self.population.to_json(),
        }

    def _state(self) -> bytes:
        return orjson.dumps(self._document(None if self.digests is None else self.digests.bounded()))

    def records(self) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) record that keeps the state now: the entries', then the bounded state's."""
        if self.digests is not None:
            yield from self.digests.records()
        yield STATE_KEY, self._state()

    def changes(self) -> list[tuple[bytes, bytes | None]]:
        """The records changed since the last call, in the order to keep them (None: delete the key).

        New and changed records first, then deletions, the bounded state last: kept in this order, a
        ``STATE_KEY`` record that made it means every record before it did.
        """
        writes, deletes = ({}, []) if self.digests is None else self.digests.changes()
        changed: list[tuple[bytes, bytes | None]] = list(writes.items())
        changed.extend((key, None) for key in (*deletes, *self._discarded))
        self._discarded = []
        state = self._state()
        if state != self._kept_state:
            changed.append((STATE_KEY, state))
            self._kept_state = state
        return changed

    def load(self, document: Mapping[str, Any]) -> None:
        """Start from *document* (``to_json``); ``changes`` then writes every record of it."""
        self.progress = {int(p): int(until) for p, until in document.get("progress", {}).items()}
        if self.digests is not None:
            self.digests.load(document.get("digests") or {})
        if self.population is not None:
            # An empty table (a new deployment) starts the population afresh: nothing this worker
            # kept from an earlier time it owned the coordinator may carry over.
            self.population.load(document.get("population") or {})
        self._kept_state = None
        self._discarded = []

    def restore(self, records: Iterable[tuple[bytes, bytes]]) -> None:
        """Start from the kept *records* (``records()``, or one ``STATE_KEY`` record holding ``to_json``).

        Entries of digests now switched off are dropped, their records deleted at the next ``changes``.
        """
        state: bytes | None = None
        entries: list[tuple[bytes, bytes]] = []
        discarded: list[bytes] = []
        for key, value in records:
            if key == STATE_KEY:
                state = value
            elif key.partition(b"/")[0].decode(errors="replace") not in KINDS:
                continue
            elif self.digests is not None:
                entries.append((key, value))
            else:
                discarded.append(key)
        self.load(orjson.loads(state) if state else {})
        if self.digests is not None:
            self.digests.restore(entries)
        self._kept_state = state
        self._discarded = discarded


def _zone(calendars: Calendars, channel: str, location: str | None) -> tzinfo:
    zone: tzinfo = calendars.for_touchpoint(channel, location).zone
    return zone
