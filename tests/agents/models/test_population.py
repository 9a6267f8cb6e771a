"""The population's best customers: the sketch's quantile against the exact top decile, merging across
partitions, the coordinator waiting for every partition, and the share of buyers on simulator traffic."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.config import config_from_mapping, default_config
from agents.ingest.decode import TouchpointDecoder
from agents.journey.track import JourneyTracker
from agents.models.population import (
    FixedThreshold,
    PopulationMerge,
    PopulationThreshold,
    ValueSketch,
    contribution,
)
from streams.replay import replay
from streams.sim import SimulationSpec, generate

pytestmark = pytest.mark.unit

ALPHA = 0.01
DAY = 86_400


def exact_top_decile(values: list[float]) -> float:
    """The value at rank ⌊0.9·(n − 1)⌋ of the sorted values: the quantile the sketch documents."""
    ordered = sorted(values)
    return ordered[math.floor(0.9 * (len(ordered) - 1))]


def clv_population(seed: int, size: int) -> list[float]:
    """CLVs shaped like a real customer base: log-normal, from a few cents to tens of thousands."""
    draw = random.Random(seed)
    return [round(draw.lognormvariate(4.0, 1.6), 2) for _ in range(size)]


def test_on_a_known_population_the_threshold_is_the_exact_top_decile_within_one_percent() -> None:
    values = clv_population(seed=1, size=10_000)
    sketch = ValueSketch(ALPHA)
    for value in values:
        sketch.add(value)
    exact = exact_top_decile(values)
    estimate = sketch.quantile(0.9)
    assert estimate is not None
    assert abs(estimate - exact) <= ALPHA * exact
    # And as a share: the customers at or above it are the top decile, give or take those within 1 % of the line.
    share = sum(value >= estimate for value in values) / len(values)
    near = sum(abs(value - exact) <= ALPHA * exact for value in values) / len(values)
    assert abs(share - 0.1) <= near + 1 / len(values)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.floats(min_value=0.01, max_value=1e6, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=400,
    ),
    zeros=st.integers(0, 20),
    q=st.sampled_from([0.5, 0.9, 0.99]),
)
def test_any_quantile_is_within_the_documented_relative_error(
    values: list[float], zeros: int, q: float
) -> None:
    everything = values + [0.0] * zeros
    sketch = ValueSketch(ALPHA)
    for value in everything:
        sketch.add(value)
    ordered = sorted(everything)
    exact = ordered[math.floor(q * (len(ordered) - 1))]
    estimate = sketch.quantile(q)
    assert estimate is not None
    assert abs(estimate - exact) <= ALPHA * exact + 1e-9


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), partitions=st.integers(1, 8))
def test_the_partitions_sketches_merged_in_any_order_are_the_whole_populations_sketch(
    seed: int, partitions: int
) -> None:
    values = clv_population(seed, 500)
    whole = ValueSketch(ALPHA)
    parts = [ValueSketch(ALPHA) for _ in range(partitions)]
    draw = random.Random(seed)
    for value in values:
        whole.add(value)
        draw.choice(parts).add(value)
    draw.shuffle(parts)
    merged = ValueSketch(ALPHA)
    for part in parts:
        # Each partition's sketch travels as JSON on the coordination topic.
        merged.merge(ValueSketch.from_json(orjson.loads(orjson.dumps(part.to_json()))))
    assert (merged.bins, merged.zeros, merged.count) == (whole.bins, whole.zeros, whole.count)
    assert merged.quantile(0.9) == whole.quantile(0.9)


def test_sketches_of_different_accuracy_do_not_merge() -> None:
    with pytest.raises(ValueError, match="accuracy"):
        ValueSketch(0.01).merge(ValueSketch(0.02))


def test_a_boundarys_threshold_waits_for_every_partition_and_then_equals_one_partitions() -> None:
    values = clv_population(seed=5, size=600)
    boundary = 20 * DAY
    one = PopulationMerge(partitions=1, quantile=0.9, min_buyers=50, alpha=ALPHA)
    whole = ValueSketch(ALPHA)
    for value in values:
        whole.add(value)
    [(at, alone, buyers)] = one.report(0, {boundary: whole.to_json()}, empty_before=0)
    assert (at, buyers) == (boundary, 600)

    two = PopulationMerge(partitions=2, quantile=0.9, min_buyers=50, alpha=ALPHA)
    halves = [ValueSketch(ALPHA), ValueSketch(ALPHA)]
    for index, value in enumerate(values):
        halves[index % 2].add(value)
    assert two.report(1, {boundary: halves[1].to_json()}, empty_before=0) == []
    assert two.report(1, {boundary: halves[1].to_json()}, empty_before=0) == []  # a repeat changes nothing
    assert two.report(0, {boundary: halves[0].to_json()}, empty_before=0) == [(boundary, alone, 600)]
    assert alone is not None
    assert abs(alone - exact_top_decile(values)) <= ALPHA * exact_top_decile(values)


def test_a_partition_with_no_buyer_yet_does_not_hold_the_threshold_back() -> None:
    merge = PopulationMerge(partitions=2, quantile=0.9, min_buyers=1, alpha=ALPHA)
    sketch = ValueSketch(ALPHA)
    sketch.add(120.0)
    # Partition 1 has had no buyer before day 30: its sketch at day 20 is empty, and it says so.
    assert merge.report(1, {}, empty_before=30 * DAY) == []
    [(boundary, threshold, buyers)] = merge.report(0, {20 * DAY: sketch.to_json()}, empty_before=0)
    assert (boundary, buyers) == (20 * DAY, 1)
    assert threshold is not None
    assert abs(threshold - 120.0) <= ALPHA * 120.0


def test_too_few_buyers_make_nobody_a_best_customer() -> None:
    merge = PopulationMerge(partitions=1, quantile=0.9, min_buyers=50, alpha=ALPHA)
    sketch = ValueSketch(ALPHA)
    for value in clv_population(seed=2, size=49):
        sketch.add(value)
    [(_, threshold, buyers)] = merge.report(0, {DAY: sketch.to_json()}, empty_before=0)
    assert (threshold, buyers) == (None, 49)


def test_a_threshold_takes_effect_its_delay_after_its_boundary_and_until_the_next_ones() -> None:
    threshold = PopulationThreshold(every=DAY, delay=3600)
    threshold.learn(DAY, 100.0)
    threshold.learn(2 * DAY, 200.0)
    assert threshold.at(DAY + 3599) is None  # day 0's boundary is not known: nobody yet
    assert threshold.at(DAY + 3600) == 100.0
    assert threshold.at(2 * DAY + 3599) == 100.0
    assert threshold.at(2 * DAY + 3600) == 200.0
    assert threshold.late == 0
    # A boundary not known yet (live, a partition far behind): the latest known stands in, and is counted.
    assert threshold.at(3 * DAY + 3600) == 200.0
    assert threshold.late == 1
    assert not threshold.is_best(199.0, 2 * DAY + 3600)
    assert threshold.is_best(200.0, 2 * DAY + 3600)


def test_a_customers_value_at_a_boundary_is_the_clv_of_their_last_purchase_before_it_within_the_window() -> (
    None
):
    history = [[1 * DAY, 50.0], [3 * DAY, 80.0], [5 * DAY, 95.0]]
    assert contribution(history, 4 * DAY, window=365 * DAY) == 80.0
    assert contribution(history, 1 * DAY, window=365 * DAY) is None  # bought nothing before
    assert contribution(history, 100 * DAY, window=30 * DAY) is None  # last purchase outside the window


def test_fit_or_the_rules_file_may_still_fix_the_threshold() -> None:
    tracker = JourneyTracker(config_from_mapping({"model": {"best_customers": {"threshold": 500}}}), b"salt")
    assert isinstance(tracker.best_customers, FixedThreshold)
    assert tracker.fixed_threshold() == 500
    assert tracker.model.is_best_customer(500.0, 0)
    assert not tracker.model.is_best_customer(499.99, 0)
    assert JourneyTracker(default_config(), b"salt").fixed_threshold() is None


@pytest.mark.parametrize(("seed", "customers", "events"), [(7, 1000, 50_000), (3, 300, 15_000)])
def test_on_simulator_traffic_between_five_and_fifteen_percent_of_buyers_are_best_customers(
    tmp_path: Path, seed: int, customers: int, events: int
) -> None:
    source = tmp_path / "traffic.jsonl"
    traffic = itertools.islice(generate(SimulationSpec(customers=customers, seed=seed)), events)
    source.write_bytes(b"".join(record.replace(b"\n", b" ") + b"\n" for record in traffic))
    replay(
        source,
        tmp_path / "out",
        TouchpointDecoder(identity_salt=b"salt"),
        JourneyTracker(default_config(), b"salt"),
    )
    final = [orjson.loads(line) for line in (tmp_path / "out" / "customers.jsonl").read_bytes().splitlines()]
    buyers = [customer for customer in final if customer["purchase_count"] > 0]
    share = sum(customer["best_customer"] for customer in buyers) / len(buyers)
    assert len(buyers) >= 200
    assert 0.05 <= share <= 0.15


def test_a_boundary_counts_a_buyers_value_even_after_more_purchases_than_the_state_keeps() -> None:
    # The partition's clock passes a boundary long after its customers did (a backfill, allowed
    # lateness); a buyer has meanwhile bought more often than their state remembers values.
    from agents.coordination.progress import PartitionProgress
    from agents.models.population import CLV_HISTORY

    progress = PartitionProgress(default_config())
    assert progress.passed(0, 10 * DAY + 60) is not None  # reports day 10's boundary: nobody yet
    before = (10 * DAY + 3600, 100.0)  # the last purchase before day 11's boundary
    after = [(11 * DAY + 3600 * hour, 500.0 + hour) for hour in range(1, CLV_HISTORY + 3)]
    values = [before, *after]
    for count in range(1, len(values) + 1):
        # After each purchase the state hands over its latest few values only.
        progress.buyer(0, b"cust-1", before[0], tuple(values[:count][-CLV_HISTORY:]))
    report = progress.passed(0, 12 * DAY + 60)
    assert report is not None
    at_day_11 = ValueSketch.from_json(report.sketches[11 * DAY])
    at_day_12 = ValueSketch.from_json(report.sketches[12 * DAY])
    assert (at_day_11.count, at_day_12.count) == (1, 1)
    assert abs((at_day_11.quantile(0.5) or 0) - 100.0) <= ALPHA * 100.0
    assert abs((at_day_12.quantile(0.5) or 0) - after[-1][1]) <= ALPHA * after[-1][1]


def test_a_clock_jumping_years_ahead_keeps_the_progress_record_and_the_coordinators_state_small() -> None:
    # Both travel as one Kafka record each (journey.progress, the coordinator's table): their size
    # must not grow with how far a partition's clock jumps or how long another partition stays behind.
    from agents.coordination.coordinator import Coordinator
    from agents.coordination.progress import PartitionProgress, encode_signals

    config = default_config()
    progress = PartitionProgress(config)
    coordinator = Coordinator(config, 2)
    start = 1_700_000_000
    rng = random.Random(7)
    sizes = []
    for years in (1, 5, 25):
        for i in range(300):
            at = start + i * 60
            progress.buyer(0, b"buyer-%d" % i, start, ((at, rng.lognormvariate(5, 2)),))
        progress.passed(0, start + 2 * DAY)
        report = progress.passed(0, start + years * 365 * DAY)
        assert report is not None
        records = list(encode_signals(0, [], [], report))
        for record in records:
            coordinator.apply(record)  # partition 1 never reports: every boundary stays incomplete
        state = orjson.dumps(coordinator.to_json())
        sizes.append((max(map(len, records)), len(state)))
        start += years * 365 * DAY
    (small_record, small_state), *rest = sizes
    for record, state in rest:
        assert record < 2 * small_record + 10_000
        assert state < 2 * small_state + 10_000
    assert max(state for _, state in sizes) < 200_000


def test_a_boundary_one_partition_skipped_is_dropped_and_later_ones_still_complete() -> None:
    merge = PopulationMerge(2, 0.9, 1, ALPHA)
    sketch = ValueSketch(ALPHA)
    sketch.add(10.0)
    assert merge.report(1, {DAY: sketch.to_json()}, 0) == []
    # Partition 0's clock jumped: it reports only its latest boundaries, never DAY.
    done = merge.report(0, {30 * DAY: sketch.to_json()}, 0)
    assert done == []
    assert DAY not in merge.reports
    assert [b for b, _, _ in merge.report(1, {30 * DAY: sketch.to_json()}, 0)] == [30 * DAY]
