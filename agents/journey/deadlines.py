"""A deadline index: which customers need attention at which instant, per partition.

Kept in memory beside the table and rebuilt from the table after recovery, so a
tick never scans customers: it pops only what is due. Each key has at most one
live entry; superseded entries stay in the heap until popped and are skipped.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator


class DeadlineIndex:
    """Per-partition min-heaps of (instant, key)."""

    def __init__(self) -> None:
        self._heaps: dict[int, list[tuple[int, bytes]]] = {}
        self._scheduled: dict[int, dict[bytes, int]] = {}

    def schedule(self, partition: int, key: bytes, instant: int | None) -> None:
        """Make *instant* the key's next deadline (None: no deadline)."""
        scheduled = self._scheduled.setdefault(partition, {})
        if instant is None:
            scheduled.pop(key, None)
            return
        if scheduled.get(key) == instant:
            return
        scheduled[key] = instant
        heap = self._heaps.setdefault(partition, [])
        heapq.heappush(heap, (instant, key))
        if len(heap) > 2 * len(scheduled) + 1024:
            self._heaps[partition] = heap = [(when, k) for k, when in scheduled.items()]
            heapq.heapify(heap)

    def pop_due(self, partition: int, until: int) -> Iterator[tuple[bytes, int]]:
        """Yield (key, instant) for deadlines at or before *until*, removing them."""
        heap = self._heaps.get(partition)
        if not heap:
            return
        scheduled = self._scheduled[partition]
        while heap and heap[0][0] <= until:
            instant, key = heapq.heappop(heap)
            if scheduled.get(key) == instant:
                del scheduled[key]
                yield key, instant

    def next_due(self, partition: int) -> int | None:
        heap = self._heaps.get(partition)
        scheduled = self._scheduled.get(partition, {})
        while heap and scheduled.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)  # superseded
        return heap[0][0] if heap else None

    def scheduled(self, partition: int) -> dict[bytes, int]:
        """Each customer of *partition* with a deadline, and its instant."""
        return dict(self._scheduled.get(partition, {}))

    def partitions(self) -> list[int]:
        return [partition for partition, scheduled in self._scheduled.items() if scheduled]

    def clear(self) -> None:
        self._heaps.clear()
        self._scheduled.clear()

    def __len__(self) -> int:
        return sum(len(scheduled) for scheduled in self._scheduled.values())
