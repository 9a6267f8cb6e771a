"""Records a worker sent that need nothing when it reads them back, skipped before aiokafka makes records of them.

Ingest's worker applies most touchpoints at once (the journey's shortcut, ``agents.journey.agent``)
and still sends each one's copy to ``touchpoints.by-customer``, marked applied, for other consumers.
The same worker's journey then reads the copy back and, finding the mark, does nothing with it.
Reading it back took about 6 % of the worker's samples, skipping it takes about 2 %
(bench/PROFILE.md). So the outbox notes where in its batch each such copy goes
(``Outbox.add(settled=True)``), the batch host adds the batch's first offset once the broker has
acknowledged it (``SETTLED.note``), and the consumer thread leaves those records out as it unpacks
a fetch (``streams.fetch_holes``); the batch host leaves out those a fetch brought before their
acknowledgement was noted (``without``).

A record is left out only where its offset and its headers are the ones noted: a record at that
offset of another topic of the same name (another cluster) is read as ever. Any worker's journey
skips a copy whose mark holds, so leaving one out changes nothing but the work. The last record of
each record batch is always kept: the batch host acknowledges a partition's offsets through the
last record it is given, and so through the end of every fetch. Offsets below a fetched batch are
forgotten (their records were read before the acknowledgement came, and skipped by their mark).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

from aiokafka.structs import TopicPartition

from streams.metrics import SETTLED_COPIES_SKIPPED

__all__ = ["SETTLED", "SettledOffsets"]

#: Offsets kept per partition at most: past it (a partition that moved away is never read here), all
#: of them are forgotten, and those records are read and skipped by their mark.
MAX_PER_PARTITION: Final = 65_536

Headers = Sequence[tuple[str, bytes]]


class SettledOffsets:
    """Per partition, the offsets of records sent settled, each with its headers, until they are read.

    Noted by the event loop's thread, read and dropped by the consumer thread: each step is one
    dict operation, which the interpreter does whole.
    """

    def __init__(self) -> None:
        self._offsets: dict[TopicPartition, dict[int, tuple[tuple[str, bytes], ...]]] = {}

    def note(
        self, topic: str, partition: int, first_offset: int, records: Iterable[tuple[int, Headers]]
    ) -> None:
        """Records at *first_offset* + position, with their headers, were sent settled and acknowledged."""
        tp = TopicPartition(topic, partition)
        offsets = self._offsets.get(tp)
        if offsets is None or len(offsets) >= MAX_PER_PARTITION:
            offsets = self._offsets[tp] = {}
        for position, headers in records:
            offsets[first_offset + position] = tuple(headers)

    def skipping(self, tp: TopicPartition, batch: Any) -> Any:
        """*batch* (a fetched record batch of *tp*), without the settled records in it but its last."""
        offsets = self._offsets.get(tp)
        if not offsets:
            return batch
        # What lies below this batch was read already: forget it (noted in offset order per partition).
        base = batch.base_offset
        while offsets:
            first = next(iter(offsets))
            if first >= base:
                # A batch with nothing noted inside (another producer's) is handed on as it is.
                return _Skipping(batch, offsets) if first < batch.next_offset else batch
            offsets.pop(first, None)
        return batch

    def without(self, tp: TopicPartition, records: list[Any]) -> list[Any]:
        """*records* (fetched records of *tp*, in offset order) without the settled ones, all but the last.

        For the records a fetch brought before their acknowledgement was noted, which the consumer
        thread could not leave out yet.
        """
        offsets = self._offsets.get(tp)
        if not offsets or not records:
            return records
        last = records[-1].offset
        kept = [record for record in records if not _left_out(offsets, record, last)]
        if len(kept) < len(records):
            SETTLED_COPIES_SKIPPED.inc(len(records) - len(kept))
        return kept

    def __len__(self) -> int:
        """Offsets noted and not read yet, over every partition."""
        return sum(len(offsets) for offsets in self._offsets.values())


class _Skipping:
    """A record batch whose iteration leaves out the settled records, all but its last."""

    __slots__ = ("_batch", "_offsets")

    def __init__(self, batch: Any, offsets: dict[int, tuple[tuple[str, bytes], ...]]) -> None:
        self._batch = batch
        self._offsets = offsets

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)

    def __iter__(self) -> Iterator[Any]:
        offsets = self._offsets
        last = self._batch.next_offset - 1
        left_out = 0
        try:
            for record in self._batch:
                if _left_out(offsets, record, last):
                    left_out += 1
                else:
                    yield record
        finally:
            # Counted once per batch (a metric's lock per record would cost what the skipping saves),
            # also when the consumer drops the batch unfinished (a partition revoked).
            if left_out:
                SETTLED_COPIES_SKIPPED.inc(left_out)


def _left_out(offsets: dict[int, tuple[tuple[str, bytes], ...]], record: Any, last: int) -> bool:
    """Whether *record* was noted settled with its very headers (forgetting its offset either way), and
    is not the *last* offset given on, which carries the acknowledgement of what came before it."""
    offset = record.offset
    headers = offsets.pop(offset, None)
    return headers is not None and offset != last and tuple(record.headers) == headers


#: The process's settled records: a worker is one app per process (the consumer thread has no way back to it).
SETTLED: Final = SettledOffsets()
