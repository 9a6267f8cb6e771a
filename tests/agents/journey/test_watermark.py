"""The partition clock: no single customer can move a partition's time on its own."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.journey.watermark import PartitionClock

pytestmark = pytest.mark.unit

Snapshot = list[tuple[int, str | bytes]]


def test_one_customer_alone_attests_nothing_however_far_its_clock_runs() -> None:
    clock = PartitionClock(quorum=2)
    assert clock.observe("anna", 100) is None
    assert clock.observe("anna", 4_102_444_800) is None  # 2100
    assert clock.time is None


def test_the_time_is_the_newest_that_two_customers_have_reached() -> None:
    clock = PartitionClock(quorum=2)
    clock.observe("anna", 4_102_444_800)
    assert clock.observe("ben", 200) == 200
    assert clock.observe("carl", 150) == 200
    assert clock.observe("ben", 300) == 300
    assert clock.observe("carl", 5_000_000_000) == 4_102_444_800  # two customers now say so


def test_by_default_two_customers_must_agree() -> None:
    clock = PartitionClock()
    assert clock.observe("anna", 4_102_444_800) is None
    assert clock.observe("ben", 200) == 200


def test_a_quorum_of_one_is_the_newest_event_seen() -> None:
    clock = PartitionClock(quorum=1)
    assert [clock.observe(c, t) for c, t in [("a", 5), ("b", 3), ("a", 9)]] == [5, 5, 9]


def test_a_quorum_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        PartitionClock(quorum=0)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 4),
    st.lists(st.tuples(st.sampled_from("abcdefg"), st.integers(0, 50)), max_size=60),
)
def test_the_clock_equals_the_quorum_th_latest_customer_clock_at_every_step(
    quorum: int, events: list[tuple[str, int]]
) -> None:
    clock = PartitionClock(quorum)
    latest: dict[str, int] = {}
    for customer, instant in events:
        latest[customer] = max(latest.get(customer, instant), instant)
        ranked = sorted(latest.values(), reverse=True)
        expected = ranked[quorum - 1] if len(ranked) >= quorum else None
        assert clock.observe(customer, instant) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("abcdef"), st.integers(0, 10**6)), min_size=1, max_size=40),
    st.integers(0, 2**40),
    st.sampled_from(["a", "z"]),
    st.integers(0, 40),
)
def test_one_more_record_moves_the_clock_no_further_than_another_customer_had_reached(
    events: list[tuple[str, int]], stray: int, stray_customer: str, position: int
) -> None:
    position = min(position, len(events))
    with_stray = [*events[:position], (stray_customer, stray), *events[position:]]
    clock = PartitionClock(2)
    for customer, instant in with_stray:
        clock.observe(customer, instant)
    # However far the stray record's clock runs, the partition's time stays within what the others reached.
    assert clock.time is None or clock.time <= max(instant for _, instant in events)


def test_random_order_of_the_same_events_gives_the_same_final_time() -> None:
    events = [(f"c{n % 7}", n * 13 % 101) for n in range(200)]
    expected = None
    for _ in range(20):
        random.shuffle(events)
        clock = PartitionClock(3)
        for customer, instant in events:
            clock.observe(customer, instant)
        expected = expected or clock.time
        assert clock.time == expected


def test_a_snapshot_holds_the_latest_instant_of_the_quorum_latest_customers_latest_first() -> None:
    clock = PartitionClock(quorum=2)
    for customer, instant in [("anna", 100), ("ben", 300), ("carl", 200), ("anna", 400)]:
        clock.observe(customer, instant)
    assert clock.snapshot() == [(400, "anna"), (300, "ben")]
    assert PartitionClock(quorum=2).snapshot() == []


def test_a_snapshot_is_a_copy_the_caller_may_change() -> None:
    clock = PartitionClock(quorum=1)
    clock.observe("anna", 100)
    clock.snapshot().clear()
    assert clock.time == 100


def test_combined_parts_keep_each_customers_latest_instant_whichever_part_comes_first() -> None:
    # Anna reached 500 in one part and only 100 in another: her clock is 500 in either order.
    newer: Snapshot = [(500, "anna")]
    older: Snapshot = [(100, "anna"), (300, "ben")]
    for parts in ([newer, older], [older, newer]):
        combined = PartitionClock.combined(2, *parts)
        assert combined.time == 300
        assert combined.snapshot() == [(500, "anna"), (300, "ben")]


def test_combined_counts_the_quorum_it_is_given() -> None:
    parts: tuple[Snapshot, ...] = [(500, "anna")], [(300, "ben"), (100, "carl")]
    assert PartitionClock.combined(1, *parts).time == 500
    assert PartitionClock.combined(3, *parts).time == 100
    assert PartitionClock.combined(4, *parts).time is None
    assert PartitionClock.combined(2).time is None


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 4),
    st.lists(st.tuples(st.sampled_from("abcdefg"), st.integers(0, 50), st.integers(0, 3)), max_size=60),
)
def test_the_clocks_of_parts_combined_equal_the_clock_of_all_their_events(
    quorum: int, events: list[tuple[str, int, int]]
) -> None:
    whole = PartitionClock(quorum)
    parts = [PartitionClock(quorum) for _ in range(4)]
    for customer, instant, part in events:
        whole.observe(customer, instant)
        parts[part].observe(customer, instant)
    snapshots = [part.snapshot() for part in parts]
    assert PartitionClock.combined(quorum, *snapshots).time == whole.time
    assert PartitionClock.combined(quorum, *reversed(snapshots)).time == whole.time


def _sorted_reference(quorum: int, events: list[tuple[str, int]]) -> list[Snapshot]:
    """The snapshot after each event as a stable sort latest-first keeps it (how the clock used to)."""
    top: Snapshot = []
    snapshots = []
    for customer, instant in events:
        index = next((i for i, (_, who) in enumerate(top) if who == customer), None)
        if index is not None:
            if instant > top[index][0]:
                top[index] = (instant, customer)
        elif len(top) < quorum:
            top.append((instant, customer))
        elif instant > top[-1][0]:
            top[-1] = (instant, customer)
        top.sort(key=lambda entry: entry[0], reverse=True)
        snapshots.append(list(top))
    return snapshots


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 4),
    st.lists(st.tuples(st.sampled_from("abcdefg"), st.integers(0, 5)), max_size=60),
)
def test_customers_at_the_same_instant_keep_their_order_as_a_stable_sort_keeps_it(
    quorum: int, events: list[tuple[str, int]]
) -> None:
    # Snapshots are kept with replay's states: ties must be ordered as they always were, not just the time.
    clock = PartitionClock(quorum)
    for (customer, instant), expected in zip(events, _sorted_reference(quorum, events), strict=True):
        clock.observe(customer, instant)
        assert clock.snapshot() == expected
