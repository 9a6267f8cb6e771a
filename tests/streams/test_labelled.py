"""Metrics that keep their labelled children count exactly as prometheus_client's own."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from streams.labelled import Counter, Gauge, Histogram

pytestmark = pytest.mark.unit


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_a_child_is_looked_up_once_and_counts_in_the_exported_series() -> None:
    registry = CollectorRegistry()
    moves = Counter("moves", "Moves.", ["from_stage", "to_stage"], registry=registry)
    first = moves.labels("none", "prospect")
    assert moves.labels("none", "prospect") is first
    assert (
        moves.labels(from_stage="none", to_stage="prospect") is first
    )  # by name: prometheus_client's own lookup
    first.inc()
    moves.labels("none", "prospect").inc(2)
    moves.labels("prospect", "repeat").inc()
    assert sample(registry, "moves_total", from_stage="none", to_stage="prospect") == 3
    assert sample(registry, "moves_total", from_stage="prospect", to_stage="repeat") == 1


def test_values_are_exported_as_text_as_prometheus_client_writes_them() -> None:
    registry = CollectorRegistry()
    found = Counter("erasures", "Erasures.", ["found"], registry=registry)
    found.labels(True).inc()
    found.labels("True").inc()
    assert sample(registry, "erasures_total", found="True") == 2


def test_a_removed_or_cleared_child_is_never_counted_again_where_nobody_sees_it() -> None:
    registry = CollectorRegistry()
    stages = Gauge("customers", "Customers.", ["stage"], registry=registry)
    stages.labels("repeat").set(5)
    stages.remove("repeat")
    assert sample(registry, "customers", stage="repeat") is None
    stages.labels("repeat").inc()
    assert sample(registry, "customers", stage="repeat") == 1
    stages.clear()
    stages.labels("repeat").inc(3)
    assert sample(registry, "customers", stage="repeat") == 3


def test_a_histogram_keeps_its_buckets_per_child() -> None:
    registry = CollectorRegistry()
    lag = Histogram("lag_seconds", "Lag.", ["type"], buckets=(1.0, 5.0), registry=registry)
    lag.labels("churn_risk").observe(0.5)
    lag.labels("churn_risk").observe(3.0)
    assert sample(registry, "lag_seconds_bucket", type="churn_risk", le="1.0") == 1
    assert sample(registry, "lag_seconds_count", type="churn_risk") == 2


def test_wrong_labels_are_refused_as_prometheus_client_refuses_them_every_time() -> None:
    registry = CollectorRegistry()
    moves = Counter("moves", "Moves.", ["from_stage", "to_stage"], registry=registry)
    for _ in range(2):
        with pytest.raises(ValueError, match="Incorrect label count"):
            moves.labels("none")
    with pytest.raises(ValueError, match="can not chain"):
        moves.labels("none", "prospect").labels("a", "b")


_BOUNDS = (0.01, 0.1, 1, 10)
# Amounts on, between, below and beyond the bounds, negative, infinite and NaN.
_AMOUNTS = st.one_of(
    st.sampled_from([0.0, 0.01, 0.1, 1.0, 10.0, -1.0, math.inf, -math.inf, math.nan]),
    st.floats(min_value=-5, max_value=50),
)


@given(batches=st.lists(st.lists(_AMOUNTS, max_size=20), max_size=5))
def test_observing_a_batch_exports_what_observing_each_amount_does(batches: list[list[float]]) -> None:
    one, each = CollectorRegistry(), CollectorRegistry()
    batched = Histogram("lag", "Lag.", buckets=_BOUNDS, registry=one)
    single = Histogram("lag", "Lag.", buckets=_BOUNDS, registry=each)
    for amounts in batches:
        batched.observe_all(amounts)
        for amount in amounts:
            single.observe(amount)
    for bound in (*_BOUNDS, math.inf):
        le = "+Inf" if bound == math.inf else str(float(bound))
        assert sample(one, "lag_bucket", le=le) == sample(each, "lag_bucket", le=le)
    assert sample(one, "lag_count") == sample(each, "lag_count")
    total, expected = sample(one, "lag_sum"), sample(each, "lag_sum")
    assert total is not None
    assert expected is not None
    # Added per batch rather than per amount: the same sum up to the floats' rounding.
    assert total == pytest.approx(expected, rel=1e-9, abs=1e-9, nan_ok=True)


def test_a_labelled_histogram_must_be_given_its_child_to_observe_a_batch() -> None:
    lag = Histogram("lag", "Lag.", ["type"], buckets=_BOUNDS, registry=CollectorRegistry())
    with pytest.raises(ValueError, match="missing label values"):
        lag.observe_all([1.0])
    lag.labels("churn").observe_all([1.0])
