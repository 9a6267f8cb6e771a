"""The seams between the thin agents and the app that runs them: what they read, where they send,
where states live.

The agents (``agents/*/agent.py``) are written against these Protocols; ``streams/`` implements
them (``streams.runtime.batches.BatchHost`` hands them ``Record``s, ``streams.runtime.outbox.Outbox``,
``streams.runtime.direct.DirectTopic``, ``streams.runtime.state_writer.StateWriter``), and
mypy checks the fit where ``streams/app.py`` wires them together. Nothing here runs: it imports
no stream engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from agents.domain.state import CustomerState

__all__ = [
    "BatchHandler",
    "Batches",
    "ErasedStore",
    "ErasureHook",
    "KeptBytes",
    "Observed",
    "Outbox",
    "Record",
    "Sink",
    "StateStore",
]

#: Called with (customer key, partition) when a customer is forgotten on request, after their state is
#: deleted: where a component co-partitioned with the customer table deletes what it keeps of them.
ErasureHook = Callable[[bytes, int], Awaitable[None]]


class Record(Protocol):
    """One consumed record, as the Kafka client gives it (aiokafka's ``ConsumerRecord``)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    #: Broker timestamp in epoch milliseconds (the producer's create time on most topics).
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


class Outbox(Protocol):
    """Where a batch's records go: collected now, handed to the producer once the batch is applied."""

    def add(
        self,
        topic: str,
        *,
        key: bytes | None,
        value: bytes,
        partition: int | None = None,
        timestamp: float | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
        settled: bool = False,
    ) -> None: ...


#: ``handler(partition, records)``: apply one partition's records of one topic, in offset order.
BatchHandler = Callable[[int, Sequence[Record]], None]


class ErasedStore(Protocol):
    """Each erased customer's instant (epoch seconds), by customer key: read now, written after the batch."""

    def get(self, key: bytes) -> int | None: ...
    def stage(self, key: bytes, value: int, partition: int) -> None: ...
    def retain(self, owned: set[int]) -> None: ...


class KeptBytes(Protocol):
    """A table's values as bytes by key: read now, written once after the current batch's outputs."""

    def get(self, key: bytes) -> bytes | None: ...
    def stage(self, key: bytes, value: bytes, partition: int) -> None: ...
    def stage_delete(self, key: bytes, partition: int) -> None: ...
    def retain(self, owned: set[int]) -> None: ...

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every key's newest value, written or still held back (the deleted left out)."""
        ...


class Observed(Protocol):
    """A histogram that takes a batch's observations at once (``streams.labelled.Histogram``)."""

    def observe_all(self, amounts: Sequence[float]) -> None:
        """Observe each of *amounts*, as one ``observe`` call each would."""
        ...


class Batches(Protocol):
    """Where an agent registers for records a batch at a time, and where its batches' records go."""

    @property
    def outbox(self) -> Outbox:
        """Collects what the records of one fetch publish; sent when the fetch is applied."""
        ...

    def after_apply(self, hook: Callable[[], None]) -> None:
        """Run *hook* once a batch's records are applied, before anything is awaited (see streams.runtime.batches)."""
        ...

    def after_flush(self, hook: Callable[[Any], Awaitable[Any]]) -> None:
        """Run *hook* after each batch's outbox is handed to the producer, before its offsets are marked."""
        ...

    def route(self, topic: Any, handler: BatchHandler) -> None:
        """Give the records of *topic* (a Faust topic, one or more names) to *handler*."""
        ...

    def partition_of(self, topic: str, key: bytes) -> int | None:
        """The partition of *topic* a record with *key* goes to (None while the topic's size is unknown)."""
        ...

    def owns(self, topic: str, partition: int) -> bool:
        """Whether this worker owns *partition* of *topic* while the current batch is applied."""
        ...

    def co_partitioned(self, topic: str, other: str) -> bool:
        """Whether *topic* and *other* have as many partitions (so each partition of both has one owner)."""
        ...


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

    def stage(self, key: bytes, value: CustomerState, partition: int) -> None:
        """Make *value* the newest state of *key* now; it is written once, after the current batch's outputs."""
        ...

    def stage_delete(self, key: bytes, partition: int) -> None:
        """Delete *key* now for ``get``; its tombstone is written once, after the current batch's outputs."""
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
