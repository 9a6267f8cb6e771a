"""What one fetch moves on the agents' metrics, added to them once the fetch is applied.

A labelled Prometheus child's lookup and lock cost more than the count itself. No scrape can come
between two records of a fetch (nothing is awaited while one is applied), so an agent adds up what
the fetch moves here and ``flush`` adds each metric's total once, from the batch host's
``after_apply`` hook (agents.ports.Batches): a scrape sees the same totals.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Metric", "Tally"]


class Metric(Protocol):
    """A Prometheus counter or gauge (``prometheus_client``), labelled or not."""

    def labels(self, *values: str) -> Metric: ...
    def inc(self, amount: float = 1) -> None: ...


class Tally:
    """Amounts by metric and label values, until ``flush`` adds them."""

    __slots__ = ("_amounts",)

    def __init__(self) -> None:
        self._amounts: dict[tuple[Metric, tuple[str, ...]], float] = {}

    def add(self, metric: Metric, labels: tuple[str, ...] = (), amount: float = 1) -> None:
        """Count *amount* (negative: a gauge down) on *metric*'s child of *labels* (none: the metric)."""
        key = (metric, labels)
        self._amounts[key] = self._amounts.get(key, 0) + amount

    def flush(self) -> None:
        """Add every amount counted since the last flush to its metric, once each."""
        for (metric, labels), amount in self._amounts.items():
            if amount:
                (metric.labels(*labels) if labels else metric).inc(amount)
        self._amounts.clear()

    def clear(self) -> None:
        """Forget what was counted (the metrics are about to be set from elsewhere)."""
        self._amounts.clear()
