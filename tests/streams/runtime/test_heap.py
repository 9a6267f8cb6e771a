"""The collector is paused for the block only, and survivors can be kept out of later passes."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from streams.runtime.heap import collector_paused

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def collector_state() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
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


def test_a_collector_switched_off_by_someone_else_stays_off() -> None:
    gc.disable()
    with collector_paused(freeze_survivors=True):
        pass
    assert not gc.isenabled()
    assert gc.get_freeze_count() == 0
