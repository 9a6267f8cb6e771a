"""Fetched records up to the first hole in their offsets: what lies past a hole is fetched again, not skipped.

Tansu 0.6, the embedded broker, gives a produced batch its offsets by raising the partition's
high watermark, and only then stores the batch. A fetch that comes in between lists the batches
stored below the high watermark: on a partition that two producers write at once (every worker's
ingest writes to each partition of ``touchpoints.by-customer``, every journey partition to
``journey.progress``, every worker to the alert topics), it can get a later producer's batch
without the earlier one's. aiokafka takes what it gets and moves its position past the hole, and
the records of the missing batch are never read by that consumer. Measured: four producers
writing small batches to one partition for 20 s, one batch of 3 records in about 30,000 records
was skipped by a live consumer and found by a later one. A failover test lost one customer's
three touchpoints this way.

Kafka never shows such a hole in a topic that is not compacted: every offset belongs to a batch,
a control batch or an aborted transaction's included. So for the product's topics that are never
compacted (``streams.topics.never_compacted``), ``install`` has aiokafka stop at a batch that
starts past the next offset it expects. The consumer's position stays at the hole, and its next
fetch asks for it again. A hole still there after HOLE_PATIENCE_S is taken for a gap the broker
will keep (a topic compacted, against the product's declaration): logged, counted, stepped over.
Compacted topics (changelogs, the best-customer thresholds) and topics that are not the
product's are read as aiokafka reads them.
"""

from __future__ import annotations

import logging
import threading
from time import monotonic
from typing import Any, Final

from aiokafka.consumer import fetcher
from aiokafka.structs import TopicPartition

from streams.metrics import FETCH_HOLES
from streams.settled import SETTLED
from streams.topics import never_compacted

__all__ = ["HOLE_PATIENCE_S", "install"]

log = logging.getLogger(__name__)

#: How long a hole is fetched again before it is stepped over. Tansu fills one within milliseconds.
HOLE_PATIENCE_S: Final = 5.0

#: Holes being fetched again: partition -> (first offset missing, when it was first seen, monotonic).
_waiting: dict[TopicPartition, tuple[int, float]] = {}
_waiting_lock = threading.Lock()


class _UpToHole:
    """A fetched partition's record batches, ending before the first batch that starts past a hole.

    Wraps the ``MemoryRecords`` that aiokafka's ``PartitionRecords`` reads with ``has_next`` and
    ``next_batch``: aiokafka's own handling of transactions and control batches is untouched. Each
    batch handed on leaves out the records this worker sent settled (``streams.settled``).
    """

    __slots__ = ("_batches", "_next", "_peeked", "_tp")

    def __init__(self, tp: TopicPartition, batches: Any, fetch_offset: int) -> None:
        self._tp = tp
        self._batches = batches
        #: The offset the next batch must hold (start at or before) for no record to be skipped.
        self._next = fetch_offset
        self._peeked: Any = None

    def has_next(self) -> bool:
        if self._peeked is None:
            if not self._batches.has_next():
                return False
            self._peeked = self._batches.next_batch()
            if self._peeked is None:
                return False
        batch = self._peeked
        if batch.base_offset > self._next:
            if not _step_over(self._tp, self._next, batch.base_offset):
                return False  # the position stays at the hole: the next fetch asks for it again
        elif _waiting:
            _filled(self._tp, batch)
        return True

    def next_batch(self) -> Any:
        # aiokafka asks has_next() first, which leaves the batch peeked.
        if self._peeked is None and not self.has_next():
            return None
        batch, self._peeked = self._peeked, None
        self._next = max(self._next, batch.next_offset)
        # Records this worker sent itself and needs nothing of are left out (streams.settled).
        return SETTLED.skipping(self._tp, batch)


def _step_over(tp: TopicPartition, missing: int, found: int) -> bool:
    """Whether to read on past the hole from *missing* to *found* (exclusive): it has lasted its patience."""
    now = monotonic()
    with _waiting_lock:
        waiting = _waiting.get(tp)
        if waiting is None or waiting[0] != missing:
            _waiting[tp] = (missing, now)
            return False
        if now - waiting[1] < HOLE_PATIENCE_S:
            return False
        del _waiting[tp]
    FETCH_HOLES.labels("stepped_over").inc()
    log.warning(
        "%s[%d]: offsets %d to %d were still missing after %.0f s of fetching them again; "
        "reading on from %d (is the topic compacted?)",
        tp.topic,
        tp.partition,
        missing,
        found - 1,
        HOLE_PATIENCE_S,
        found,
    )
    return True


def _filled(tp: TopicPartition, batch: Any) -> None:
    """Count the hole of *tp* that was waiting, once a batch at or past it is read without one."""
    with _waiting_lock:
        waiting = _waiting.get(tp)
        if waiting is None or waiting[0] >= batch.next_offset:
            return
        del _waiting[tp]
    if batch.base_offset <= waiting[0]:
        FETCH_HOLES.labels("filled").inc()
        log.debug("%s[%d]: the batch missing at offset %d was there when fetched again", *tp, waiting[0])
    # Otherwise the consumer was moved past the hole (a seek, a new assignment): nothing is waiting.


class _PartitionRecords(fetcher.PartitionRecords):  # type: ignore[misc]
    """aiokafka's records of one fetched partition, up to the first hole for the product's uncompacted topics."""

    def __init__(self, tp: TopicPartition, records: Any, aborted: Any, fetch_offset: int, *rest: Any) -> None:
        if never_compacted(tp.topic):
            records = _UpToHole(tp, records, fetch_offset)
        super().__init__(tp, records, aborted, fetch_offset, *rest)


def install() -> None:
    """Make every aiokafka consumer of this process read the product's uncompacted topics up to holes."""
    fetcher.PartitionRecords = _PartitionRecords
