"""A partition's side of the coordination: when its clock passing a mark is reported, and what it carries.

A partition reports when its clock crosses a digest interval (or, without digests, an hour) and at
every population boundary, with the sketch of its buyers' values at each boundary it passed. The
records travel in order on one channel to the coordinator (agents/coordination/coordinator.py).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.config import Config, config_from_mapping, default_config
from agents.coordination.progress import (
    ANSWERED,
    DUE_SOON,
    FRESH_BOUNDARIES,
    KEPT_VALUES,
    PROGRESS,
    REPORTED_BOUNDARIES,
    PartitionProgress,
    Progress,
    decode_signal,
    encode_signals,
)
from agents.domain.alert import DueSoon
from agents.models.population import CLV_HISTORY, ValueSketch, contribution

pytestmark = pytest.mark.unit

MINUTE = 60
HOUR = 3600
DAY = 86_400
ALPHA = 0.01


def config(**best: Any) -> Config:
    return config_from_mapping({"model": {"best_customers": best}}) if best else default_config()


def sketch_at(report: Progress, boundary: int) -> ValueSketch:
    return ValueSketch.from_json(report.sketches[boundary])


def close_to(value: float | None, expected: float, alpha: float = ALPHA) -> bool:
    return value is not None and abs(value - expected) <= alpha * expected


def test_a_partition_reports_when_its_clock_first_moves_and_then_once_per_digest_interval() -> None:
    progress = PartitionProgress(default_config())  # five-minute digests
    start = 10 * DAY + 1 * MINUTE
    assert progress.next_mark(0) is None  # its clock has not started
    first = progress.passed(0, start)
    assert first is not None
    assert (first.partition, first.until) == (0, start)
    assert progress.next_mark(0) == 10 * DAY + 5 * MINUTE
    assert progress.passed(0, start + 3 * MINUTE) is None  # still within 10:00-10:05 of day 10
    assert progress.passed(0, start) is None  # a clock never goes back
    again = progress.passed(0, 10 * DAY + 5 * MINUTE)  # exactly at the mark
    assert again is not None
    assert again.until == 10 * DAY + 5 * MINUTE
    assert (dict(again.sketches), again.empty_before) == ({}, None)  # no new population boundary
    assert progress.next_mark(0) == 10 * DAY + 10 * MINUTE
    # Each partition has its own clock.
    assert progress.passed(1, start) is not None
    assert progress.next_mark(1) == 10 * DAY + 5 * MINUTE


def test_without_digests_a_partition_still_reports_every_hour() -> None:
    progress = PartitionProgress(
        config_from_mapping(
            {"sla": {"warning_digest_minutes": 0}, "model": {"best_customers": {"threshold": 500}}}
        )
    )
    assert progress.passed(0, 10 * DAY + MINUTE) is not None
    assert progress.passed(0, 10 * DAY + 59 * MINUTE) is None
    assert progress.next_mark(0) == 10 * DAY + HOUR
    assert progress.passed(0, 10 * DAY + HOUR) is not None


@pytest.mark.parametrize(("minutes", "seconds"), [(2.5, 150), (1, 60), (0.5, 30)])
def test_a_short_or_fractional_digest_interval_is_kept_to_the_second(minutes: float, seconds: int) -> None:
    progress = PartitionProgress(config_from_mapping({"sla": {"warning_digest_minutes": minutes}}))
    progress.passed(0, 10 * DAY)
    assert progress.next_mark(0) == 10 * DAY + seconds


def test_a_stale_clock_reading_changes_nothing() -> None:
    progress = PartitionProgress(default_config())
    progress.passed(0, 10 * DAY + 7 * MINUTE)
    assert progress.passed(0, 10 * DAY + 2 * MINUTE) is None
    assert progress.next_mark(0) == 10 * DAY + 10 * MINUTE


def test_with_a_fixed_threshold_a_partition_reports_its_clock_only() -> None:
    progress = PartitionProgress(config(threshold=500))
    progress.buyer(0, b"cust-1", 5 * DAY, ((5 * DAY, 300.0),))
    for until in (11 * DAY - 2 * MINUTE, 11 * DAY + 1):  # before and after a population boundary
        report = progress.passed(0, until)
        assert report is not None
        assert (dict(report.sketches), report.empty_before) == ({}, None)


def test_a_fresh_partition_reports_the_latest_boundaries_and_then_each_one_it_passes() -> None:
    progress = PartitionProgress(default_config())  # a boundary every day at midnight UTC
    first = progress.passed(0, 10 * DAY + HOUR)
    assert first is not None
    assert sorted(first.sketches) == [(10 - step) * DAY for step in reversed(range(FRESH_BOUNDARIES))]
    mark = progress.passed(0, 10 * DAY + 2 * HOUR)  # a mark, but no boundary
    assert mark is not None
    assert (dict(mark.sketches), mark.empty_before) == ({}, None)
    later = progress.passed(0, 13 * DAY)  # exactly at a boundary: it has passed it
    assert later is not None
    assert sorted(later.sketches) == [11 * DAY, 12 * DAY, 13 * DAY]


def test_a_clock_jumping_far_ahead_reports_only_the_boundaries_a_worker_keeps() -> None:
    progress = PartitionProgress(default_config())
    progress.passed(0, 10 * DAY + HOUR)
    jump = progress.passed(0, 400 * DAY + HOUR)
    assert jump is not None
    assert sorted(jump.sketches) == [(400 - step) * DAY for step in reversed(range(REPORTED_BOUNDARIES))]


def test_population_boundaries_follow_every_hours() -> None:
    progress = PartitionProgress(config(every_hours=6))
    first = progress.passed(0, 10 * DAY + 7 * HOUR)
    assert first is not None
    assert sorted(first.sketches) == [10 * DAY, 10 * DAY + 6 * HOUR]
    later = progress.passed(0, 10 * DAY + 12 * HOUR)
    assert later is not None
    assert sorted(later.sketches) == [10 * DAY + 12 * HOUR]


def test_a_boundarys_sketch_values_each_buyer_at_their_last_purchase_before_it_within_the_window() -> None:
    progress = PartitionProgress(config(window_days=30, relative_accuracy=0.05))
    progress.buyer(0, b"steady", 2 * DAY, ((2 * DAY, 40.0), (8 * DAY + HOUR, 90.0)))
    progress.buyer(0, b"lapsed", 1 * DAY, ((1 * DAY, 1000.0),))  # 31 days before day 32
    progress.passed(0, 5 * DAY)
    at_9 = progress.passed(0, 9 * DAY)
    assert at_9 is not None
    nine = sketch_at(at_9, 9 * DAY)
    assert nine.alpha == 0.05  # the rules file's relative accuracy
    assert nine.count == 2
    assert close_to(nine.quantile(0.0), 90.0, 0.05)  # the steady buyer's latest value before day 9
    assert close_to(nine.quantile(1.0), 1000.0, 0.05)
    progress.buyer(0, b"just-lapsed", DAY, ((DAY - 10, 5.0),))  # 30 days and 10 s before day 31
    at_32 = progress.passed(0, 32 * DAY)
    assert at_32 is not None
    assert sketch_at(at_32, 31 * DAY).count == 2  # day 1 is exactly 30 days before day 31: still current
    late = sketch_at(at_32, 32 * DAY)
    assert late.count == 1  # the lapsed buyer's purchase is 31 days old at day 32
    assert close_to(late.quantile(0.5), 90.0, 0.05)


def test_a_partition_says_before_when_it_had_no_buyer() -> None:
    progress = PartitionProgress(default_config())
    nobody = progress.passed(0, 3 * DAY + HOUR)
    assert nobody is not None
    assert nobody.empty_before == 3 * DAY + HOUR  # no buyer yet: empty up to its clock
    progress.buyer(0, b"later", 4 * DAY + HOUR, ((4 * DAY + HOUR, 60.0),))
    progress.buyer(0, b"earlier", 3 * DAY + 2 * HOUR, ((3 * DAY + 2 * HOUR, 30.0),))
    progress.buyer(0, b"no-purchase", DAY, ())  # nothing bought: no buyer
    report = progress.passed(0, 5 * DAY)
    assert report is not None
    assert report.empty_before == 3 * DAY + 2 * HOUR
    assert sketch_at(report, 5 * DAY).count == 2


def test_a_buyer_merged_away_leaves_the_partitions_sketch() -> None:
    progress = PartitionProgress(default_config())
    progress.buyer(0, b"profile", DAY, ((DAY, 50.0),))
    progress.buyer(0, b"customer", DAY, ((DAY, 70.0),))
    progress.drop(0, b"profile")
    progress.drop(1, b"customer")  # another partition's: nothing to drop there
    assert progress.buyers(0) == {b"customer": (DAY, ((DAY, 70.0),))}
    assert progress.buyers(1) == {}
    report = progress.passed(0, 3 * DAY)
    assert report is not None
    whole = sketch_at(report, 3 * DAY)
    assert whole.count == 1
    assert close_to(whole.quantile(0.5), 70.0)


def test_after_a_rebalance_a_forgotten_partition_reports_afresh() -> None:
    progress = PartitionProgress(default_config())
    progress.buyer(0, b"cust-1", DAY, ((DAY, 50.0),))
    progress.passed(0, 5 * DAY + HOUR)
    progress.forget()
    assert progress.next_mark(0) is None
    again = progress.passed(0, 5 * DAY + HOUR)  # the same instant counts as new after forgetting
    assert again is not None
    assert sorted(again.sketches) == [4 * DAY, 5 * DAY]
    assert sketch_at(again, 5 * DAY).count == 0  # its buyers are rebuilt from the table, not remembered


def test_a_buyers_values_are_kept_until_the_boundaries_that_need_them_are_reported() -> None:
    progress = PartitionProgress(default_config())
    progress.passed(0, 10 * DAY + HOUR)
    # Two purchases before day 11, then the state hands over only the latest value each time.
    progress.buyer(0, b"cust-1", 10 * DAY + 2 * HOUR, ((10 * DAY + 2 * HOUR, 20.0),))
    progress.buyer(0, b"cust-1", 10 * DAY + 2 * HOUR, ((11 * DAY + 2 * HOUR, 45.0),))
    progress.buyer(0, b"cust-1", 10 * DAY + 2 * HOUR, ((12 * DAY + 2 * HOUR, 80.0),))
    report = progress.passed(0, 13 * DAY)
    assert report is not None
    values = [sketch_at(report, day * DAY).quantile(0.5) for day in (11, 12, 13)]
    assert all(close_to(value, expected) for value, expected in zip(values, (20.0, 45.0, 80.0), strict=True))


def test_the_records_carry_warnings_answers_and_progress_in_that_order() -> None:
    item = DueSoon(
        item_id="first_response_due_soon/cust-1/ev-1",
        customer_id="cust-1",
        channel="chat",
        location=None,
        evidence="ev-1",
        asked_at=100,
        warn_at=400,
        deadline=700,
        severity="info",
        reasons=("first_response_due_soon",),
        topic=None,
        stage="prospect",
        value_tier="bronze",
    )
    sketch = ValueSketch(ALPHA)
    sketch.add(12.5)
    records = list(
        encode_signals(
            3,
            [item],
            [(item.item_id, 650)],
            Progress(3, 900, {DAY: sketch.to_json()}, empty_before=500),
        )
    )
    decoded = [decode_signal(record) for record in records]
    assert [(kind, partition) for kind, partition, _ in decoded] == [
        (DUE_SOON, 3),
        (ANSWERED, 3),
        (PROGRESS, 3),
    ]
    assert DueSoon.from_json(decoded[0][2]) == item
    assert decoded[1][2] == {"item_id": item.item_id, "at": 650}
    assert decoded[2][2] == {"until": 900, "sketches": {str(DAY): sketch.to_json()}, "empty_before": 500}
    # A bare progress report carries its clock only.
    [bare] = encode_signals(1, [], [], Progress(1, 900))
    assert orjson.loads(bare) == {"kind": PROGRESS, "partition": 1, "body": {"until": 900}}
    assert list(encode_signals(1, [], [], None)) == []


def test_values_handed_over_after_a_boundary_was_reported_still_count_at_the_next_ones() -> None:
    progress = PartitionProgress(default_config())
    progress.passed(0, 10 * DAY + HOUR)  # day 10 reported
    # A backfill: each buyer's state hands over its latest values, from before day 10 and since.
    progress.buyer(0, b"before-and-after", 9 * DAY, ((9 * DAY, 20.0), (11 * DAY + 12 * HOUR, 45.0)))
    progress.buyer(
        0, b"at-midnight", 9 * DAY, ((9 * DAY, 300.0), (10 * DAY, 600.0), (12 * DAY + HOUR, 900.0))
    )
    report = progress.passed(0, 13 * DAY)
    assert report is not None
    day_11, day_12, day_13 = (sketch_at(report, day * DAY) for day in (11, 12, 13))
    assert (day_11.count, day_12.count, day_13.count) == (2, 2, 2)
    assert close_to(day_11.quantile(0.0), 20.0)  # before-and-after: still its day-9 value
    assert close_to(day_11.quantile(1.0), 600.0)  # at-midnight: bought exactly at day 10's boundary
    assert close_to(day_12.quantile(0.0), 45.0)
    assert close_to(day_13.quantile(1.0), 900.0)


def test_without_its_population_a_partition_reports_at_the_same_marks_with_no_sketch_and_keeps_no_buyer() -> (
    None
):
    # Replay's partitions: their thresholds come from the whole population, so nobody merges their sketches.
    # With a boundary every day and a mark every five minutes, each boundary is a mark too.
    full, bare = PartitionProgress(default_config()), PartitionProgress(default_config(), population=False)
    for progress in (full, bare):
        progress.buyer(0, b"c1", 3 * DAY, ((3 * DAY, 120.0),))
    clock = [3 * DAY + 7 * MINUTE, 3 * DAY + 2 * HOUR, 4 * DAY, 4 * DAY + 1, 6 * DAY + 3 * MINUTE]
    boundaries = 0
    for until in clock:
        with_population, without = full.passed(0, until), bare.passed(0, until)
        assert (with_population is None) == (without is None), until
        if without is not None:
            assert with_population is not None
            assert without.until == with_population.until
            assert (dict(without.sketches), without.empty_before) == ({}, None)
            boundaries += bool(with_population.sketches)
    assert boundaries == 3  # the first report, and the days 4 and 6 (5 with it)
    assert full.sketch(0, 5 * DAY).count == 1
    assert bare.sketch(0, 5 * DAY).count == 0


def test_replay_sketches_any_boundary_less_the_customers_erased_before_it() -> None:
    progress = PartitionProgress(config(window_days=30))
    progress.buyer(0, b"kept", DAY, ((DAY, 40.0),))
    progress.buyer(0, b"erased", DAY, ((DAY, 90.0),))
    assert progress.sketch(0, 2 * DAY).count == 2
    only = progress.sketch(0, 2 * DAY, excluded={b"erased"})
    assert only.count == 1
    assert close_to(only.quantile(0.5), 40.0)


def test_replay_marks_boundaries_sketched_so_buyers_keep_only_the_values_later_ones_need() -> None:
    progress = PartitionProgress(default_config())
    progress.buyer(0, b"cust-1", DAY, ((DAY, 20.0), (2 * DAY, 45.0)))
    progress.sketched(0, 3 * DAY)
    progress.buyer(0, b"cust-1", DAY, ((4 * DAY, 80.0),))
    # The latest value before day 3 stays (day 3's and day 4's need it), the older one goes.
    assert progress.buyers(0)[b"cust-1"][1] == ((2 * DAY, 45.0), (4 * DAY, 80.0))
    assert close_to(progress.sketch(0, 4 * DAY).quantile(0.5), 45.0)
    assert close_to(progress.sketch(0, 5 * DAY).quantile(0.5), 80.0)


def test_past_the_window_after_the_latest_purchase_every_sketch_is_empty() -> None:
    progress = PartitionProgress(config(window_days=30))
    assert progress.horizon(0) is None
    progress.buyer(0, b"early", DAY, ((DAY, 10.0),))
    progress.buyer(0, b"late", 5 * DAY, ((5 * DAY, 20.0),))
    horizon = progress.horizon(0)
    assert horizon == 35 * DAY
    assert progress.sketch(0, horizon).count == 1
    assert progress.sketch(0, horizon + 1).count == 0


# A buyer's touchpoints as the journey hands them over: after each, the state's latest values.
touchpoints = st.lists(
    st.tuples(
        st.sampled_from([b"cust-1", b"cust-2", b"cust-3"]),
        st.sampled_from(["purchase", "visit", "clock"]),
        st.integers(0, 3 * DAY),  # how long after the previous touchpoint
        st.integers(0, 2 * DAY),  # how late a purchase comes (a backfill)
        st.floats(1.0, 1000.0),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(touchpoints)
def test_each_boundarys_sketch_values_every_buyer_by_all_it_was_handed_whatever_came_again(
    steps: list[tuple[bytes, str, int, int, float]],
) -> None:
    # The journey hands over the same values again after every touchpoint that was no purchase; a
    # boundary's sketch must still value each buyer by the latest of everything it was ever handed.
    rules = config()
    progress = PartitionProgress(rules)
    window = round(rules.model.best_customers.window_days * DAY)
    states: dict[bytes, list[tuple[int, float]]] = {}
    firsts: dict[bytes, int] = {}
    handed: dict[bytes, dict[int, float]] = {}
    now = 10 * DAY
    for key, kind, gap, late, value in steps:
        now += gap
        if kind == "clock":
            report = progress.passed(0, now)
            for boundary, sketch in (report.sketches if report is not None else {}).items():
                expected = ValueSketch(rules.model.best_customers.relative_accuracy)
                for entries in handed.values():
                    worth = contribution(sorted(entries.items()), boundary, window)
                    if worth is not None:
                        expected.add(worth)
                assert sketch == expected.to_json(), boundary
            continue
        if kind == "purchase":
            at = now - late
            firsts[key] = min(firsts.get(key, at), at)
            history = [entry for entry in states.get(key, []) if entry[0] != at] + [(at, value)]
            states[key] = sorted(history)[-CLV_HISTORY:]
        if key in states:
            progress.buyer(0, key, firsts[key], tuple(states[key]))
            handed.setdefault(key, {}).update(states[key])


@settings(max_examples=150, deadline=None)
@given(touchpoints, st.integers(0, 2))
def test_values_handed_as_the_state_keeps_them_count_as_the_same_values_made_a_tuple(
    steps: list[tuple[bytes, str, int, int, float]], whole: int
) -> None:
    # The journey hands a state's clv_history over as it is, [instant, clv] lists (some clv whole
    # numbers, as a decoded state can hold them), and most of the time it is what was handed last.
    rules = config()
    as_lists, as_tuples = PartitionProgress(rules), PartitionProgress(rules)
    states: dict[bytes, list[list[Any]]] = {}
    firsts: dict[bytes, int] = {}
    now = 10 * DAY
    for key, kind, gap, late, value in steps:
        now += gap
        if kind == "clock":
            assert as_lists.passed(0, now) == as_tuples.passed(0, now)
            continue
        if kind == "purchase":
            at = now - late
            firsts[key] = min(firsts.get(key, at), at)
            clv: float | int = round(value) if whole else value
            history = [entry for entry in states.get(key, []) if entry[0] != at] + [[at, clv]]
            states[key] = sorted(history)[-CLV_HISTORY:]
        if key in states:
            as_lists.buyer(0, key, firsts[key], states[key])
            as_tuples.buyer(0, key, firsts[key], tuple((at, float(clv)) for at, clv in states[key]))
            assert as_lists.buyers(0) == as_tuples.buyers(0)


def merged(
    known: tuple[int, tuple[tuple[int, float], ...]] | None,
    first_purchase: int,
    values: list[list[Any]],
    sketched: int | None,
) -> tuple[int, tuple[tuple[int, float], ...]]:
    """What a buyer keeps, worked out the long way: every value merged, sorted and trimmed at the
    last boundary reported, with no shortcut for values seen before."""
    everything = dict(known[1]) if known is not None else {}
    everything.update((int(at), float(clv)) for at, clv in values)
    history = sorted(everything.items())
    if sketched is not None:
        older = [entry for entry in history if entry[0] < sketched]
        history = older[-1:] + [entry for entry in history if entry[0] >= sketched]
    return first_purchase, tuple(history[-KEPT_VALUES:])


# Calls as the journey and replay make them, and some no state would: values out of order, repeated
# instants, the same values again after a boundary was reported or sketched.
calls = st.lists(
    st.one_of(
        st.tuples(
            st.just("buyer"),
            st.sampled_from([b"cust-1", b"cust-2"]),
            st.sampled_from([DAY, 2 * DAY]),  # the first purchase
            st.lists(
                st.tuples(st.integers(0, 12).map(lambda day: day * DAY), st.sampled_from([10, 20.0, 30.5])),
                max_size=5,
            ),
        ),
        st.tuples(st.just("again"), st.sampled_from([b"cust-1", b"cust-2"])),
        st.tuples(st.just("passed"), st.integers(0, 14 * DAY)),
        st.tuples(st.just("sketched"), st.integers(0, 14).map(lambda day: day * DAY)),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(calls)
def test_a_buyer_keeps_what_merging_every_value_handed_over_would_keep(steps: list[tuple[Any, ...]]) -> None:
    # The quick comparison in ``buyer`` skips the merge when it would change nothing; whatever came
    # before, a buyer must keep exactly what the merge gives.
    progress = PartitionProgress(config(every_hours=24))
    expected: dict[bytes, tuple[int, tuple[tuple[int, float], ...]]] = {}
    sketched: int | None = None
    last: dict[bytes, tuple[int, list[list[Any]]]] = {}
    for step in steps:
        if step[0] == "passed":
            report = progress.passed(0, step[1])
            if report is not None and report.sketches:
                sketched = max(report.sketches)
            continue
        if step[0] == "sketched":
            progress.sketched(0, step[1])
            sketched = step[1] if sketched is None else max(sketched, step[1])
            continue
        if step[0] == "again":
            if step[1] not in last:
                continue
            first, values = last[step[1]]
        else:
            _, key, first, pairs = step
            values = [list(pair) for pair in sorted(dict(pairs).items())] if len(pairs) % 2 else pairs
            last[key] = (first, values)
        key = step[1]
        progress.buyer(0, key, first, values)
        if values:
            expected[key] = merged(expected.get(key), first, values, sketched)
        assert progress.buyers(0) == expected
