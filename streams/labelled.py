"""Prometheus metrics that look up each labelled child once.

``metric.labels(...)`` in prometheus_client converts every value to ``str``, takes the metric's
lock and looks the child up, for each call: about 0.65 µs, more than the ``inc()`` that follows
it. The journey labels several metrics per record (transitions, stages, alerts, routes), so the
worker spent some 3 % of its CPU there. These classes keep each child under the values it was
asked for; the labels of our metrics are bounded enumerations (docs/metrics.md), so the kept
children are too. ``remove`` and ``clear`` forget them, so a child removed is never counted again.

A histogram observed once per record also takes two locks per observation (its sum, then its
bucket): about 0.8 µs. ``Histogram.observe_all`` adds a batch of observations with each bucket's
lock taken once.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Any, TypeVar

import prometheus_client
from prometheus_client.metrics import MetricWrapperBase

__all__ = ["Counter", "Gauge", "Histogram"]

_Metric = TypeVar("_Metric", bound=MetricWrapperBase)


class _ChildrenKept(MetricWrapperBase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept: dict[tuple[object, ...], Any] = {}

    def labels(self: _Metric, *labelvalues: object, **labelkwargs: object) -> _Metric:
        kept: dict[tuple[object, ...], Any] = self._kept  # type: ignore[attr-defined]
        if labelkwargs:
            return super().labels(*labelvalues, **labelkwargs)
        child: _Metric | None = kept.get(labelvalues)
        if child is None:
            # prometheus_client checks the values (count, no chained labels) before a child is kept.
            child = kept[labelvalues] = super().labels(*labelvalues)
        return child

    def remove(self, *labelvalues: Any) -> None:
        self._kept.clear()
        super().remove(*labelvalues)

    def clear(self) -> None:
        self._kept.clear()
        super().clear()


class Counter(_ChildrenKept, prometheus_client.Counter):
    """``prometheus_client.Counter``; ``labels(...)`` looks each child up once."""


class Gauge(_ChildrenKept, prometheus_client.Gauge):
    """``prometheus_client.Gauge``; ``labels(...)`` looks each child up once."""


class Histogram(_ChildrenKept, prometheus_client.Histogram):
    """``prometheus_client.Histogram``; ``labels(...)`` looks each child up once, ``observe_all`` adds a batch."""

    def observe_all(self, amounts: Sequence[float]) -> None:
        """``observe`` each of *amounts*: the same buckets, count and sum, each bucket updated once."""
        if not amounts:
            return
        self._raise_if_not_observable()  # type: ignore[no-untyped-call]
        # prometheus_client's own fields, as observe() updates them (tests hold the two to the same samples).
        bounds = self._upper_bounds
        counts = [0] * len(bounds)
        for amount in amounts:
            if amount <= bounds[-1]:  # NaN lands in no bucket, as with observe()
                counts[bisect_left(bounds, amount)] += 1
        self._sum.inc(sum(amounts))
        for bucket, count in zip(self._buckets, counts, strict=True):
            if count:
                bucket.inc(count)
