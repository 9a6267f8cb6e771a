"""The deadline index: which customers are due, per partition, without scanning them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.journey.deadlines import DeadlineIndex

pytestmark = pytest.mark.unit


def filled(*entries: tuple[int, bytes, int | None]) -> DeadlineIndex:
    index = DeadlineIndex()
    for partition, key, instant in entries:
        index.schedule(partition, key, instant)
    return index


def test_only_due_entries_are_popped_in_time_order_and_removed() -> None:
    index = filled((0, b"c", 300), (0, b"a", 100), (0, b"d", 400), (0, b"b", 200))
    assert list(index.pop_due(0, 300)) == [(b"a", 100), (b"b", 200), (b"c", 300)]
    assert list(index.pop_due(0, 300)) == []
    assert len(index) == 1
    assert index.next_due(0) == 400


def test_nothing_is_popped_before_its_instant() -> None:
    index = filled((0, b"a", 100))
    assert list(index.pop_due(0, 99)) == []
    assert list(index.pop_due(0, 100)) == [(b"a", 100)]


def test_partitions_are_independent() -> None:
    index = filled((0, b"a", 100), (1, b"b", 50), (1, b"c", 150))
    assert list(index.pop_due(1, 1_000)) == [(b"b", 50), (b"c", 150)]
    assert index.next_due(0) == 100
    assert index.partitions() == [0]
    assert (index.scheduled(0), index.scheduled(1), index.scheduled(2)) == ({b"a": 100}, {}, {})
    assert list(index.pop_due(2, 1_000)) == []
    assert index.next_due(2) is None


def test_the_same_key_in_two_partitions_is_two_entries() -> None:
    index = filled((0, b"a", 100), (1, b"a", 200))
    assert len(index) == 2
    assert list(index.pop_due(0, 1_000)) == [(b"a", 100)]
    assert list(index.pop_due(1, 1_000)) == [(b"a", 200)]


def test_rescheduling_a_key_supersedes_its_old_instant() -> None:
    index = filled((0, b"a", 100), (0, b"a", 300), (0, b"b", 200))
    assert len(index) == 2
    assert list(index.pop_due(0, 250)) == [(b"b", 200)]
    assert list(index.pop_due(0, 1_000)) == [(b"a", 300)]


def test_rescheduling_a_key_earlier_fires_it_once_at_the_earlier_instant() -> None:
    index = filled((0, b"a", 300), (0, b"a", 100))
    assert list(index.pop_due(0, 1_000)) == [(b"a", 100)]


def test_scheduling_none_cancels_the_deadline() -> None:
    index = filled((0, b"a", 100), (0, b"b", 200), (0, b"a", None))
    assert len(index) == 1
    assert index.next_due(0) == 200
    assert list(index.pop_due(0, 1_000)) == [(b"b", 200)]
    assert index.partitions() == []


def test_a_cancelled_then_rescheduled_key_fires_once() -> None:
    index = filled((0, b"a", 100), (0, b"a", None), (0, b"a", 100))
    assert list(index.pop_due(0, 1_000)) == [(b"a", 100)]
    assert list(index.pop_due(0, 1_000)) == []


def test_cancelling_an_unknown_key_is_harmless() -> None:
    index = filled((0, b"zzz", None))
    assert len(index) == 0
    assert index.next_due(0) is None


def test_next_due_skips_superseded_and_cancelled_entries() -> None:
    index = filled((0, b"a", 100), (0, b"b", 150), (0, b"a", 500), (0, b"b", None), (0, b"c", 400))
    assert index.next_due(0) == 400
    assert list(index.pop_due(0, 450)) == [(b"c", 400)]
    assert index.next_due(0) == 500


def test_a_key_rescheduled_while_its_partition_is_being_popped_is_not_fired_twice() -> None:
    # The agent reschedules each customer it advances while it iterates pop_due.
    index = filled(*((0, bytes([n]), n) for n in range(10)))
    fired = []
    for key, instant in index.pop_due(0, 5):
        fired.append(key)
        index.schedule(0, key, instant + 100)
    assert fired == [bytes([n]) for n in range(6)]
    assert index.next_due(0) == 6
    assert len(index) == 10


def test_the_heap_stays_bounded_when_one_key_is_rescheduled_10000_times() -> None:
    index = DeadlineIndex()
    for instant in range(10_000, 0, -1):  # each one earlier: none can be skipped as already scheduled
        index.schedule(0, b"a", instant)
    heap = index._heaps[0]
    assert len(heap) <= 2 * len(index) + 1024, len(heap)
    assert list(index.pop_due(0, 20_000)) == [(b"a", 1)]


def test_a_heap_compaction_in_the_middle_of_pop_due_neither_loses_nor_repeats_a_deadline() -> None:
    keys = [n.to_bytes(2, "big") for n in range(1_100)]
    index = filled(*((0, key, n) for n, key in enumerate(keys)))
    fired = []
    for key, instant in index.pop_due(0, 5_000):
        fired.append(key)
        for later in (10_000, 20_000, 30_000 + instant):  # three pushes per pop: the heap must compact
            index.schedule(0, key, later)
    assert sorted(fired) == keys
    assert len(index._heaps[0]) <= 2 * len(keys) + 1024
    assert list(index.pop_due(0, 40_000)) == [(key, 30_000 + n) for n, key in enumerate(keys)]
    assert len(index) == 0


def test_clear_forgets_everything() -> None:
    index = filled((0, b"a", 100), (1, b"b", 100))
    index.clear()
    assert len(index) == 0
    assert index.partitions() == []
    assert list(index.pop_due(0, 1_000)) == []


operations = st.lists(
    st.tuples(st.sampled_from([b"a", b"b", b"c", b"d"]), st.none() | st.integers(0, 50)), max_size=60
)


@settings(max_examples=200, deadline=None)
@given(operations, st.integers(0, 60))
def test_pop_due_yields_exactly_each_keys_latest_deadline_if_due(
    schedule: list[tuple[bytes, int | None]], until: int
) -> None:
    index = DeadlineIndex()
    latest: dict[bytes, int] = {}
    for key, instant in schedule:
        index.schedule(0, key, instant)
        if instant is None:
            latest.pop(key, None)
        else:
            latest[key] = instant
    due = sorted((instant, key) for key, instant in latest.items() if instant <= until)
    assert index.next_due(0) == min(latest.values(), default=None)
    assert list(index.pop_due(0, until)) == [(key, instant) for instant, key in due]
    assert len(index) == len(latest) - len(due)
