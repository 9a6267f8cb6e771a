"""Consumer lag and owned partitions: the arithmetic and the series kept, without a broker."""

from __future__ import annotations

import pytest
from faust.types import TP
from prometheus_client import CollectorRegistry, Gauge

from streams.worker_metrics import ConsumerLag, count_by_topic, lag, version

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("highwater", "committed", "expected"),
    [
        (120, 100, 20),
        (120, 120, 0),  # caught up: committed is the next offset to read
        (0, None, 0),  # an empty partition has nothing to be behind on
        (120, None, None),  # nothing committed yet (or not loaded yet): unknown, not 120
        (None, 100, None),  # no fetch yet: unknown
        (100, 120, 0),  # a commit newer than the last fetch's end: not negative
    ],
)
def test_lag_is_end_minus_committed_when_both_are_known(
    highwater: int | None, committed: int | None, expected: int | None
) -> None:
    assert lag(highwater, committed) == expected


def _series(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    return {
        (sample.labels["topic"], sample.labels["partition"]): sample.value
        for family in registry.collect()
        for sample in family.samples
    }


def test_series_follow_the_snapshot_and_disappear_with_their_partition() -> None:
    registry = CollectorRegistry()
    gauge = Gauge("lag_records", "test", ["topic", "partition"], registry=registry)
    lags = ConsumerLag(gauge)

    lags.update({("touchpoints", 0): 5, ("touchpoints", 1): 0, ("alerts.actions", 0): 2})
    assert _series(registry) == {("touchpoints", "0"): 5, ("touchpoints", "1"): 0, ("alerts.actions", "0"): 2}

    # A rebalance took partition 1 away, and partition 0 of alerts.actions is not fetched yet.
    lags.update({("touchpoints", 0): 3, ("alerts.actions", 0): None})
    assert _series(registry) == {("touchpoints", "0"): 3}

    lags.update({})
    assert _series(registry) == {}


def test_partitions_are_counted_per_known_topic_with_zeros() -> None:
    owned = {TP("touchpoints", 0), TP("touchpoints", 3), TP("alerts.actions", 1), TP("other", 0)}
    assert count_by_topic(owned, ("touchpoints", "alerts.actions", "touchpoints.by-customer")) == {
        "touchpoints": 2,
        "alerts.actions": 1,
        "touchpoints.by-customer": 0,
    }


def test_version_is_the_installed_packages() -> None:
    from importlib import metadata

    assert version() == metadata.version("touchpoint")
