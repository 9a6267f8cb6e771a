"""The journey's rebuild after a rebalance lets the event loop run: a worker's heartbeats must not wait for it.

It walks every state of the table in recovery; held for seconds (a million customers take some 7 s),
the loop would send no heartbeat past the session timeout, and the group would put the worker out.
"""

from __future__ import annotations

import asyncio

import pytest

from agents.domain.state import CustomerState
from agents.journey.rebuild import REBUILD_YIELD_EVERY, owned_summaries
from tests.event_loop import turns_during

pytestmark = pytest.mark.unit


def stored(count: int) -> list[tuple[bytes, CustomerState | bytes]]:
    """States as a store holds them: decoded, or still encoded (restored in bulk, or RocksDB)."""
    states: list[tuple[bytes, CustomerState | bytes]] = []
    for number in range(count):
        state = CustomerState(partition=number % 4, stage="first_time" if number % 3 else "prospect")
        states.append((f"cust-{number}".encode(), state.encode() if number % 2 else state))
    return states


async def test_other_tasks_run_while_the_walk_goes_over_every_state() -> None:
    items = stored(5 * REBUILD_YIELD_EVERY)

    async def walk() -> list[tuple[bytes, str]]:
        return [(key, summary.stage) async for key, summary in owned_summaries(items, {0, 1})]

    walked, during = await turns_during(walk())
    assert during >= 4, "the loop ran other tasks only before and after the walk"
    # A turn every REBUILD_YIELD_EVERY states, not after each one, and without waiting: the walk
    # lets others run without taking much longer itself.
    assert during <= 6, f"{during} turns for 5 * {REBUILD_YIELD_EVERY} states"
    expected = [(key, "first_time" if n % 3 else "prospect") for n, (key, _) in enumerate(items) if n % 4 < 2]
    assert walked == expected


async def test_records_reaching_the_store_between_two_turns_do_not_stop_the_walk() -> None:
    store = dict(stored(3 * REBUILD_YIELD_EVERY))

    async def standby_replica() -> None:
        for number in range(100):
            store[f"standby-{number}".encode()] = CustomerState(partition=3).encode()
            await asyncio.sleep(0)

    replicating = asyncio.ensure_future(standby_replica())
    walked = [key async for key, _ in owned_summaries(store.items(), {0, 1, 2, 3})]
    await replicating
    assert len(walked) == 3 * REBUILD_YIELD_EVERY
    assert len(store) == 3 * REBUILD_YIELD_EVERY + 100
