"""The walk over a recovered table that rebuilds the journey's deadlines and gauges, the event loop let run.

An asynchronous generator, so in a module of its own: the journey agent's module is compiled
(setup.py), and mypyc does not compile asynchronous generators.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from agents.domain.state import CustomerState, StateSummary, summarize

__all__ = ["REBUILD_YIELD_EVERY", "owned_summaries"]

#: States summarized between two turns of the event loop in the rebuild after a rebalance (about 15 ms).
REBUILD_YIELD_EVERY = 2048


async def owned_summaries(
    items: Iterable[tuple[bytes, CustomerState | bytes]], owned: set[int], every: int = REBUILD_YIELD_EVERY
) -> AsyncIterator[tuple[bytes, StateSummary]]:
    """The summary of each state of *items* in a partition of *owned*, letting the event loop run between.

    The walk runs in table recovery, and a worker's heartbeats wait while it holds the loop: a
    million customers take some 7 s, past the default session timeout (6 s), and a worker that
    misses its heartbeats that long is put out of the group, to rebalance and walk again. Other
    partitions' records (standby replicas) may reach the store between two turns, so the store is
    listed first.
    """
    for count, (key, state) in enumerate(list(items), 1):
        if count % every == 0:
            await asyncio.sleep(0)
        summary = summarize(state)
        if summary.partition in owned:
            yield key, summary
