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
    KEPT_THRESHOLDS,
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
    for largest, size in rest:
        assert largest < 2 * small_record + 10_000
        assert size < 2 * small_state + 10_000
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


def test_a_sketchs_accuracy_must_be_a_fraction() -> None:
    for alpha in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match=r"relative accuracy must be within \(0, 1\)"):
            ValueSketch(alpha)


def test_an_empty_sketch_has_no_quantile_and_values_of_nothing_count_as_zero() -> None:
    sketch = ValueSketch(ALPHA)
    assert sketch.quantile(0.9) is None
    sketch.add(0.0)
    sketch.add(-3.0)  # a CLV that rounds below nothing
    sketch.add(250.0, count=3)
    assert (sketch.count, sketch.zeros) == (5, 2)
    assert sketch.quantile(0.0) == 0.0
    assert sketch.quantile(0.25) == 0.0  # rank 1 of 0…4: the second zero
    assert abs((sketch.quantile(0.5) or 0) - 250.0) <= ALPHA * 250.0  # rank 2: the first of the three
    again = ValueSketch.from_json(orjson.loads(orjson.dumps(sketch.to_json())))
    assert (again.alpha, again.zeros, again.bins, again.count) == (ALPHA, 2, sketch.bins, 5)


def test_the_quantile_is_the_value_at_rank_floor_q_times_n_minus_one() -> None:
    sketch = ValueSketch(ALPHA)
    values = [10.0, 20.0, 40.0, 80.0, 160.0]
    for value in values:
        sketch.add(value)
    for q, expected in ((0.0, 10.0), (0.24, 10.0), (0.25, 20.0), (0.74, 40.0), (0.75, 80.0), (1.0, 160.0)):
        estimate = sketch.quantile(q)
        assert estimate is not None
        assert abs(estimate - expected) <= ALPHA * expected, q


def test_each_bucket_holds_values_within_its_relative_width_and_its_value_is_within_alpha_of_them() -> None:
    sketch = ValueSketch(0.05)
    gamma = 1.05 / 0.95
    for key in (-3, 0, 1, 7, 40):
        upper = gamma**key
        lower = gamma ** (key - 1)
        assert sketch.key(upper * (1 - 1e-9)) == key
        assert sketch.key(lower * (1 + 1e-9)) == key
        assert sketch.key(upper * (1 + 1e-9)) == key + 1  # just above the bucket: the next one
        for value in (lower * (1 + 1e-9), upper):
            assert abs(sketch.value(key) - value) <= 0.05 * value + 1e-12


def test_a_purchase_at_the_boundary_counts_from_the_next_one_and_the_window_includes_its_last_day() -> None:
    history = [[10 * DAY, 50.0], [20 * DAY, 80.0]]
    assert contribution(history, 20 * DAY, window=365 * DAY) == 50.0  # bought at the boundary: not before it
    assert contribution(history, 50 * DAY, window=30 * DAY) == 80.0  # exactly 30 days before: within
    assert contribution(history, 50 * DAY + 1, window=30 * DAY) is None
    assert contribution([], 50 * DAY, window=30 * DAY) is None


def test_nobody_with_a_clv_of_nothing_is_a_best_customer_and_nobody_at_all_without_a_threshold() -> None:
    fixed = FixedThreshold(0.0)
    assert fixed.at(123) == 0.0
    assert not fixed.is_best(0.0, 0)
    assert fixed.is_best(0.01, 0)
    unknown = PopulationThreshold(every=DAY, delay=3600)
    assert not unknown.is_best(1e9, 10 * DAY)
    assert unknown.late == 0  # nothing known, so nothing stood in


def test_a_late_threshold_is_counted_each_time_it_stands_in() -> None:
    threshold = PopulationThreshold(every=DAY, delay=3600)
    threshold.learn(DAY, 100.0)
    threshold.learn(3 * DAY, None)  # too few buyers that day: nobody
    assert threshold.at(2 * DAY + 3600) == 100.0
    assert threshold.at(2 * DAY + 7200) == 100.0
    assert threshold.late == 2
    assert threshold.at(3 * DAY + 3600) is None
    assert threshold.late == 2


def test_the_threshold_standing_in_follows_every_boundary_learned_and_hidden() -> None:
    threshold = PopulationThreshold(every=DAY, delay=3600)
    assert threshold.at(5 * DAY + 3600) is None
    threshold.learn(2 * DAY, 20.0)
    assert threshold.at(5 * DAY + 3600) == 20.0, "a boundary learned since the last decision stands in"
    threshold.learn(4 * DAY, 40.0)
    assert threshold.at(5 * DAY + 3600) == 40.0
    assert threshold.at(3 * DAY + 3600) == 20.0, "an earlier decision: the boundary before its own"
    threshold.hidden_from = 4 * DAY  # replay: a deadline before the step that taught day 4
    assert threshold.at(5 * DAY + 3600) == 20.0
    assert threshold.at(4 * DAY + 3600) == 20.0, "its own boundary is known, but not yet then"
    threshold.hidden_from = None
    assert threshold.at(5 * DAY + 3600) == 40.0
    assert threshold.at(4 * DAY + 3600) == 40.0
    threshold.kept = 1
    threshold.learn(6 * DAY, 60.0)  # day 2 and day 4 forgotten
    assert threshold.at(5 * DAY + 3600) is None
    assert threshold.late == 6


_DAYS = st.integers(min_value=0, max_value=12)
_STEPS = st.one_of(
    st.tuples(st.just("learn"), _DAYS, st.one_of(st.none(), st.floats(0, 1000))),
    st.tuples(st.just("at"), _DAYS, st.integers(0, DAY - 1)),
    st.tuples(st.just("hide"), st.one_of(st.none(), _DAYS), st.none()),
    st.tuples(st.just("keep"), st.integers(1, 6), st.none()),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_STEPS, max_size=40))
def test_a_threshold_answers_as_the_known_boundaries_say_after_any_learning_hiding_and_forgetting(
    steps: list[tuple[str, int | None, object]],
) -> None:
    threshold = PopulationThreshold(every=DAY, delay=3600)
    late = 0
    for kind, number, extra in steps:
        if kind == "learn":
            assert number is not None
            threshold.learn(number * DAY, extra)  # type: ignore[arg-type]
        elif kind == "hide":
            threshold.hidden_from = None if number is None else number * DAY
        elif kind == "keep":
            assert number is not None
            threshold.kept = number
        else:
            assert number is not None
            instant = number * DAY + 3600 + int(extra)  # type: ignore[call-overload]
            wanted, hidden, known = number * DAY, threshold.hidden_from, dict(threshold.known)
            if wanted in known and (hidden is None or wanted < hidden):
                expected = known[wanted]
            else:
                earlier = [b for b in known if b < (wanted if hidden is None else min(wanted, hidden))]
                expected = known[max(earlier)] if earlier else None
                late += bool(earlier)
            assert threshold.at(instant) == expected
            assert threshold.late == late


def test_a_worker_keeps_only_the_latest_thresholds() -> None:
    threshold = PopulationThreshold(every=DAY, delay=3600)
    for day in range(1, KEPT_THRESHOLDS + 3):
        threshold.learn(day * DAY, float(day))
    assert sorted(threshold.known) == [day * DAY for day in range(3, KEPT_THRESHOLDS + 3)]


def test_min_buyers_buyers_are_enough_for_a_threshold() -> None:
    merge = PopulationMerge(partitions=1, quantile=0.9, min_buyers=3, alpha=ALPHA)
    sketch = ValueSketch(ALPHA)
    for value in (10.0, 20.0, 30.0):
        sketch.add(value)
    [(_, threshold, buyers)] = merge.report(0, {DAY: sketch.to_json()}, empty_before=0)
    assert buyers == 3
    assert threshold is not None
    assert abs(threshold - 20.0) <= ALPHA * 20.0  # rank ⌊0.9·2⌋ = 1


def test_a_partition_empty_until_later_never_moves_that_back_and_holds_back_only_boundaries_after_it() -> (
    None
):
    merge = PopulationMerge(partitions=2, quantile=0.5, min_buyers=1, alpha=ALPHA)
    one = ValueSketch(ALPHA)
    one.add(40.0)
    assert merge.report(1, {}, empty_before=10 * DAY) == []
    assert merge.report(1, {}, empty_before=5 * DAY) == []  # an older report: it still had none before day 10
    # A purchase at day 10 counts from the next boundary on: partition 1's sketch at day 10 is empty.
    done = merge.report(0, {8 * DAY: one.to_json(), 10 * DAY: one.to_json()}, empty_before=0)
    assert [(b, n) for b, _, n in done] == [(8 * DAY, 1), (10 * DAY, 1)]
    assert merge.report(0, {11 * DAY: one.to_json()}, empty_before=0) == []  # day 11 needs partition 1's
    [(boundary, _, buyers)] = merge.report(1, {11 * DAY: one.to_json()}, empty_before=9 * DAY)
    assert (boundary, buyers) == (11 * DAY, 2)


def test_a_boundary_is_merged_once_and_the_merge_survives_a_restart() -> None:
    merge = PopulationMerge(partitions=2, quantile=0.9, min_buyers=1, alpha=ALPHA)
    sketch = ValueSketch(ALPHA)
    sketch.add(75.0)
    assert merge.report(0, {DAY: sketch.to_json(), 2 * DAY: sketch.to_json()}, empty_before=0) == []
    again = PopulationMerge(partitions=2, quantile=0.9, min_buyers=1, alpha=ALPHA)
    again.load(orjson.loads(orjson.dumps(merge.to_json())))
    done = again.report(1, {DAY: sketch.to_json()}, empty_before=0)
    assert [(b, n) for b, _, n in done] == [(DAY, 2)]
    assert again.report(1, {DAY: sketch.to_json()}, empty_before=0) == []  # merged already: not again
    assert [(b, n) for b, _, n in again.report(1, {2 * DAY: sketch.to_json()}, empty_before=0)] == [
        (2 * DAY, 2)
    ]
    assert again.to_json()["merged"] == {str(DAY): [done[0][1], 2], str(2 * DAY): [done[0][1], 2]}
    fresh = PopulationMerge(partitions=2, quantile=0.9, min_buyers=1, alpha=ALPHA)
    fresh.load({})
    assert (fresh.reports, fresh.merged, fresh.empty_before, fresh.reported) == ({}, {}, {}, {})


def test_the_coordinator_keeps_only_the_latest_boundaries_merged_and_waiting() -> None:
    merge = PopulationMerge(partitions=2, quantile=0.9, min_buyers=1, alpha=ALPHA)
    sketch = ValueSketch(ALPHA)
    sketch.add(75.0)
    days = range(1, KEPT_THRESHOLDS + 6)
    for day in days:  # partition 1 has not reported any of them yet
        merge.report(0, {day * DAY: sketch.to_json()}, empty_before=0)
    assert sorted(merge.reports) == [day * DAY for day in days][-KEPT_THRESHOLDS:]
    for day in days:
        merge.report(1, {day * DAY: sketch.to_json()}, empty_before=0)
    assert sorted(merge.merged) == [day * DAY for day in days][-KEPT_THRESHOLDS:]
    assert merge.reports == {}
    later = (days[-1] + 1) * DAY
    merge.report(0, {later: sketch.to_json()}, empty_before=0)
    merge.report(1, {later: sketch.to_json()}, empty_before=0)
    assert sorted(merge.merged) == [*(day * DAY for day in days), later][-KEPT_THRESHOLDS:]
    # A boundary older than every threshold kept can no longer matter: it is not waited for.
    assert merge.report(0, {2 * DAY: sketch.to_json()}, empty_before=0) == []
    assert merge.reports == {}


def test_a_sketch_is_one_percent_accurate_unless_told_otherwise_and_merging_adds_the_zeros_too() -> None:
    assert ValueSketch().alpha == 0.01
    one, other = ValueSketch(ALPHA), ValueSketch(ALPHA)
    for value in (0.0, 0.0, 5.0):
        one.add(value)
    for value in (0.0, 7.0):
        other.add(value)
    one.merge(other)
    assert (one.zeros, one.count) == (3, 5)
    assert one.quantile(0.5) == 0.0  # rank 2 of 0, 0, 0, 5, 7
    assert ValueSketch.from_json({"alpha": 0.02}).to_json() == {"alpha": 0.02, "zeros": 0, "bins": {}}


def test_after_a_restart_boundaries_reported_again_are_not_published_again() -> None:
    # A worker restarting reports its latest boundaries afresh (agents/coordination/progress.py).
    merge = PopulationMerge(partitions=2, quantile=0.9, min_buyers=1, alpha=ALPHA)
    sketch = ValueSketch(ALPHA)
    sketch.add(75.0)
    merge.report(0, {DAY: sketch.to_json()}, empty_before=0)
    assert [b for b, _, _ in merge.report(1, {DAY: sketch.to_json()}, empty_before=0)] == [DAY]
    again = PopulationMerge(partitions=2, quantile=0.9, min_buyers=1, alpha=ALPHA)
    again.load(orjson.loads(orjson.dumps(merge.to_json())))
    assert again.report(0, {DAY: sketch.to_json(), 2 * DAY: sketch.to_json()}, empty_before=0) == []
    assert [b for b, _, _ in again.report(1, {DAY: sketch.to_json(), 2 * DAY: sketch.to_json()}, 0)] == [
        2 * DAY
    ]


def test_after_a_restart_a_partition_empty_until_later_still_holds_nothing_back() -> None:
    merge = PopulationMerge(partitions=2, quantile=0.9, min_buyers=1, alpha=ALPHA)
    merge.report(1, {}, empty_before=30 * DAY)
    again = PopulationMerge(partitions=2, quantile=0.9, min_buyers=1, alpha=ALPHA)
    again.load(orjson.loads(orjson.dumps(merge.to_json())))
    sketch = ValueSketch(ALPHA)
    sketch.add(75.0)
    assert [b for b, _, _ in again.report(0, {20 * DAY: sketch.to_json()}, empty_before=0)] == [20 * DAY]


def test_after_a_restart_a_boundary_a_partition_skipped_is_still_dropped() -> None:
    merge = PopulationMerge(partitions=2, quantile=0.9, min_buyers=1, alpha=ALPHA)
    sketch = ValueSketch(ALPHA)
    sketch.add(10.0)
    merge.report(0, {30 * DAY: sketch.to_json()}, empty_before=0)  # partition 0 jumped past day 1
    again = PopulationMerge(partitions=2, quantile=0.9, min_buyers=1, alpha=ALPHA)
    again.load(orjson.loads(orjson.dumps(merge.to_json())))
    assert again.report(1, {DAY: sketch.to_json()}, empty_before=0) == []
    assert DAY not in again.reports


def test_a_later_boundary_completes_while_an_earlier_one_still_waits() -> None:
    merge = PopulationMerge(partitions=2, quantile=0.9, min_buyers=1, alpha=ALPHA)
    sketch = ValueSketch(ALPHA)
    sketch.add(10.0)
    assert merge.report(0, {DAY: sketch.to_json(), 30 * DAY: sketch.to_json()}, empty_before=0) == []
    # Partition 1 jumped: it reports day 30 only; day 30 completes, day 1 never will.
    assert [b for b, _, _ in merge.report(1, {30 * DAY: sketch.to_json()}, empty_before=0)] == [30 * DAY]
    assert merge.reports == {}


def test_a_partition_whose_first_buyer_came_at_the_boundary_is_not_waited_for_there() -> None:
    merge = PopulationMerge(partitions=3, quantile=0.9, min_buyers=1, alpha=ALPHA)
    sketch = ValueSketch(ALPHA)
    sketch.add(10.0)
    # Partition 2 bought first at exactly day 20: empty at day 20's boundary. It is at day 31 already.
    merge.report(2, {31 * DAY: sketch.to_json()}, empty_before=20 * DAY)
    assert merge.report(0, {20 * DAY: sketch.to_json()}, empty_before=0) == []  # partition 1 lags
    assert 20 * DAY in merge.reports  # not given up: partition 2 never had to report it
    [(boundary, _, buyers)] = merge.report(1, {20 * DAY: sketch.to_json()}, empty_before=0)
    assert (boundary, buyers) == (20 * DAY, 2)
