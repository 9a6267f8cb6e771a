"""The collector is paused for the block only, and survivors can be kept out of later passes."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from streams.runtime.heap import collector_paused, parse_thresholds, set_thresholds

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def collector_state() -> Iterator[None]:
    enabled = gc.isenabled()
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_off_inside_and_on_again_after_even_when_the_block_fails() -> None:
    gc.enable()
    seen: list[bool] = []

    def fail_inside() -> None:
        with collector_paused():
            seen.append(gc.isenabled())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_inside()
    assert seen == [False]
    assert gc.isenabled()


def test_survivors_are_frozen_out_of_later_passes_only_when_asked() -> None:
    gc.enable()
    gc.unfreeze()
    with collector_paused():
        kept: list[list[int]] = [[] for _ in range(1000)]
    assert gc.get_freeze_count() == 0
    with collector_paused(freeze_survivors=True):
        kept += [[] for _ in range(1000)]
    assert gc.get_freeze_count() >= 2000


def _in_young_generation(item: object) -> bool:
    # gc.get_objects(generation) lists one generation's objects (Python 3.8+).
    return any(candidate is item for candidate in gc.get_objects(0))


def test_survivors_leave_the_young_generation_without_a_pass_over_them() -> None:
    gc.enable()
    gc.unfreeze()
    passes = gc.get_stats()[0]["collections"]
    with collector_paused():
        kept = [[index] for index in range(50_000)]
    assert gc.get_freeze_count() == 0
    assert not _in_young_generation(kept[-1])
    assert any(candidate is kept[-1] for candidate in gc.get_objects(2))
    assert gc.get_stats()[0]["collections"] == passes


def test_cycles_made_inside_are_freed_by_the_next_full_pass() -> None:
    gc.enable()
    gc.unfreeze()

    class Node:
        other: object = None

    with collector_paused():
        first, second = Node(), Node()
        first.other, second.other = second, first
        watch = weakref.ref(first)
        del first, second
    assert watch() is not None
    gc.collect()
    assert watch() is None


def test_objects_someone_else_froze_stay_frozen() -> None:
    gc.enable()
    gc.unfreeze()
    frozen: list[list[int]] = [[] for _ in range(100)]
    gc.freeze()
    before = gc.get_freeze_count()
    with collector_paused():
        made: list[list[int]] = [[] for _ in range(100)]
    assert gc.get_freeze_count() == before
    assert len(frozen) == len(made)


def test_a_collector_switched_off_by_someone_else_stays_off() -> None:
    gc.disable()
    with collector_paused(freeze_survivors=True):
        pass
    assert not gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_thresholds_are_set_and_the_previous_ones_given_back() -> None:
    gc.set_threshold(700, 10, 10)
    assert set_thresholds((50_000, 20, 10)) == (700, 10, 10)
    assert gc.get_threshold() == (50_000, 20, 10)


@pytest.mark.parametrize(
    ("text", "thresholds"), [("50000,20,10", (50_000, 20, 10)), (" 700 , 10 ,10 ", (700, 10, 10))]
)
def test_thresholds_are_read_from_three_numbers(text: str, thresholds: tuple[int, int, int]) -> None:
    assert parse_thresholds(text) == thresholds


@pytest.mark.parametrize("text", ["", "700", "700,10", "700,10,10,10", "7e2,10,10", "-1,10,10", "²,10,10"])
def test_anything_but_three_whole_numbers_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="three whole numbers"):
        parse_thresholds(text)


@pytest.mark.parametrize("text", ["0,10,10", "700,0,10", "700,10,0"])
def test_a_threshold_that_would_switch_the_collector_off_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        parse_thresholds(text)
