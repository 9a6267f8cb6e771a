"""A fetch's counts: added to each metric once, as the sum of what the fetch moved."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge

from agents.tally import Tally

pytestmark = pytest.mark.unit


def test_a_flush_adds_each_metric_and_labels_total_once_and_starts_again() -> None:
    registry = CollectorRegistry()
    accepted = Counter("accepted", "", ["channel"], registry=registry)
    customers = Gauge("customers", "", ["stage"], registry=registry)
    duplicates = Counter("duplicates", "", registry=registry)
    tally = Tally()
    tally.add(accepted, ("web",))
    tally.add(accepted, ("web",))
    tally.add(accepted, ("app",), 3)
    tally.add(customers, ("prospect",))
    tally.add(customers, ("prospect",), -1)  # moved on within the fetch: the gauge stays
    tally.add(customers, ("repeat",), -2)
    tally.add(duplicates)
    assert registry.get_sample_value("accepted_total", {"channel": "web"}) is None  # nothing before the flush
    tally.flush()
    assert registry.get_sample_value("accepted_total", {"channel": "web"}) == 2
    assert registry.get_sample_value("accepted_total", {"channel": "app"}) == 3
    assert registry.get_sample_value("customers", {"stage": "prospect"}) is None  # a net 0 creates no child
    assert registry.get_sample_value("customers", {"stage": "repeat"}) == -2
    assert registry.get_sample_value("duplicates_total") == 1
    tally.flush()  # nothing counted since
    assert registry.get_sample_value("accepted_total", {"channel": "web"}) == 2
    tally.add(accepted, ("web",))
    tally.clear()
    tally.flush()
    assert registry.get_sample_value("accepted_total", {"channel": "web"}) == 2
