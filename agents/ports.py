"""The seams between the thin agents and the app that runs them: where they send, where states live.

The agents (``agents/*/agent.py``) are written against these Protocols; ``streams/`` implements
them (``streams.runtime.direct.DirectTopic``, ``streams.runtime.state_writer.StateWriter``), and
mypy checks the fit where ``streams/app.py`` wires them together. Nothing here runs: it imports
no stream engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, Protocol

from agents.domain.state import CustomerState

__all__ = ["ErasureHook", "Sink", "StateStore"]

#: Called with (customer key, partition) when a customer is forgotten on request, after their state is
#: deleted: where a component co-partitioned with the customer table deletes what it keeps of them.
ErasureHook = Callable[[bytes, int], Awaitable[None]]


class Sink(Protocol):
    """An output topic: ``send`` hands the record over and returns the future of its acknowledgement."""

    def get_topic_name(self) -> str: ...

    async def send(
        self,
        *,
        key: bytes | None,
        value: bytes,
        partition: int | None = None,
        timestamp: float | None = None,
    ) -> asyncio.Future[Any]: ...


class StateStore(Protocol):
    """Customers' states by key, each write held back until the outputs derived from it are sent."""

    def get(self, key: bytes) -> CustomerState | None:
        """The newest state of *key*, written or still held back."""
        ...

    async def put(
        self,
        key: bytes,
        value: CustomerState,
        partition: int,
        outputs: Iterable[asyncio.Future[Any]] = (),
    ) -> None:
        """Write *value*: readable now, durable once every future in *outputs* is done."""
        ...

    async def delete(self, key: bytes, partition: int, outputs: Iterable[asyncio.Future[Any]] = ()) -> None:
        """Delete *key*: gone for ``get`` now; a tombstone on the changelog once *outputs* are done."""
        ...

    def retain(self, owned: set[int]) -> None:
        """Forget held-back writes of partitions other than *owned* (after a rebalance)."""
        ...

    def stored_items(self) -> Iterator[tuple[bytes, CustomerState | bytes]]:
        """Every (key, state) stored locally; a state kept encoded comes as its bytes."""
        ...
