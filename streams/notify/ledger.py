"""What the notify bridge owes Alertmanager, per partition, and which offset it may commit.

Alertmanager keeps alerts in memory only and forgets one that is not re-posted before it
ends, so the bridge re-posts every active alert (open or acknowledged) at each resend
interval. It must therefore still hold each active alert after a restart or a rebalance,
without a store of its own: it commits, per partition, the offset of the oldest record
still needed, the latest record of an alert that is still active (or, with none, the
offset after the last record handled). Whoever reads the partition next starts there and
rebuilds exactly the active alerts. The price is re-reading the records since then, at
most ``alerts.retain_days`` of them, since older alerts end here too.

Pure bookkeeping over plain data: no Kafka client, no clock.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from streams.alert_records import instant
from streams.notify.alertmanager import is_active

#: (topic, partition).
Partition = tuple[str, int]


@dataclass
class _Book:
    #: alert id → (offset of its latest record, that record).
    active: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    #: (offset, alert id), possibly stale: an entry counts only while it matches ``active``.
    heap: list[tuple[int, str]] = field(default_factory=list)
    #: Offset after the last record handled; None before the first.
    next_offset: int | None = None
    committed: int | None = None

    def oldest_needed(self) -> int | None:
        while self.heap:
            offset, alert_id = self.heap[0]
            entry = self.active.get(alert_id)
            if entry is not None and entry[0] == offset:
                return offset
            heapq.heappop(self.heap)
        return self.next_offset


class Ledger:
    """Active alerts per assigned partition, and the offsets that are safe to commit."""

    def __init__(self) -> None:
        self._books: dict[Partition, _Book] = {}

    def assign(self, partition: Partition) -> None:
        self._books.setdefault(partition, _Book())

    def revoke(self, partition: Partition) -> None:
        self._books.pop(partition, None)

    def owns(self, partition: Partition) -> bool:
        return partition in self._books

    def handled(self, partition: Partition, offset: int, alert: dict[str, Any] | None) -> None:
        """The record at *offset* was dealt with (Alertmanager accepted it, or it needed no post).

        *alert* is its alert, or None for a record that holds no alert (invalid, or
        too old to matter). Ignored for a partition not assigned (any more).
        """
        book = self._books.get(partition)
        if book is None:
            return
        if alert is not None:
            alert_id = alert["alert_id"]
            if is_active(alert):
                book.active[alert_id] = (offset, alert)
                heapq.heappush(book.heap, (offset, alert_id))
            else:
                book.active.pop(alert_id, None)
        book.next_offset = max(book.next_offset or 0, offset + 1)

    def expire(self, before: float) -> list[dict[str, Any]]:
        """Forget and return the active alerts detected before epoch second *before*."""
        expired = []
        for book in self._books.values():
            for alert_id, (_, alert) in list(book.active.items()):
                detected = instant(alert["detected_at"])
                if detected is not None and detected < before:
                    del book.active[alert_id]
                    expired.append(alert)
        return expired

    def active(self) -> Iterator[dict[str, Any]]:
        for book in self._books.values():
            for _, alert in book.active.values():
                yield alert

    def active_count(self) -> int:
        return sum(len(book.active) for book in self._books.values())

    def to_commit(self) -> dict[Partition, int]:
        """Partition → offset to commit, for the partitions whose safe offset moved since the last commit."""
        due = {}
        for partition, book in self._books.items():
            offset = book.oldest_needed()
            if offset is not None and offset != book.committed:
                due[partition] = offset
        return due

    def committed(self, offsets: dict[Partition, int]) -> None:
        for partition, offset in offsets.items():
            book = self._books.get(partition)
            if book is not None:
                book.committed = offset
