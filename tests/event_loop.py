"""How often other tasks got the event loop while a piece of work ran: long work must yield to them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def turns_during(work: Awaitable[T]) -> tuple[T, int]:
    """Await *work*; return its result and how many turns another task had meanwhile."""
    turns = 0
    running = True

    async def other_task() -> None:
        nonlocal turns
        while running:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.ensure_future(other_task())
    await asyncio.sleep(0)
    before = turns
    try:
        result = await work
    finally:
        running = False
        await other
    return result, turns - before
