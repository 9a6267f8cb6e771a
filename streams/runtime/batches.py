"""Records handed to the worker's steps a partition's batch at a time, beneath Faust's per-message path.

Faust delivers each record on its own: a message object, a conductor callback, a channel queue,
a stream iterator with a task per wait, an event, an acknowledgement. That costs more CPU per
record than all the product's own work (bench/PROFILE.md). The ``BatchHost`` takes the records
of the topics routed to it off the consumer's fetch result, before Faust turns them into
messages, and for each fetch:

1. gives each routed partition's records, in offset order, to that topic's handler, which
   applies them one after the other, synchronously, and adds what they publish to one
   ``Outbox`` (``streams.runtime.outbox``) and what they change to its state writers;
2. hands the outbox to the producer, a batch per topic partition;
3. runs the hooks registered with ``after_flush`` with those batches: the state writers queue
   each customer's state changed in the fetch once, held back until the batches are acknowledged;
4. marks the records' offsets as processed, where Faust's commit finds them.

Faust keeps everything else: group membership and assignment (the routed topics are subscribed
through its conductor, co-partitioned like an agent's), offset commits (its producer flush before
every commit writes the held-back states first, see ``streams.runtime.transport``), tables and
changelogs, recovery, timers, the web server. Records of other topics (changelogs read by Faust's
own recovery) take Faust's way as before. A rebalance waits for a fetch being applied to finish
(``wait_idle``); records of a fetch not yet applied when the rebalance began are left unacknowledged
and are read again by the partition's next owner, as Faust's own buffered messages are.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from faust.transport.consumer import Consumer
from faust.types import TP, AppT, TopicT

from agents.ports import BatchHandler
from streams.runtime.faust_private import acknowledge_through
from streams.runtime.outbox import Outbox, Sent

__all__ = ["AfterFlush", "BatchHandler", "BatchHost", "batch_host"]

#: ``hook(sent)``: after the outbox was handed to the producer, with its batches.
AfterFlush = Callable[[list[Sent]], Awaitable[Any]]

#: Most records applied between two flushes: a backlog is fetched tens of thousands of records at a
#: time, and its outputs, state writes and offsets should not wait for all of them.
CHUNK_RECORDS = 2000
#: Attribute of the app that holds its host; the transport's consumer looks for it there.
_HOST_ATTRIBUTE = "_touchpoint_batch_host"


class BatchHost:
    """The topics whose records a worker applies in batches, and what to do after each batch."""

    def __init__(self, app: AppT, outbox: Outbox | None = None) -> None:
        self._app = app
        self.outbox = outbox if outbox is not None else Outbox(app)
        self._routes: dict[str, BatchHandler] = {}
        self._after: list[AfterFlush] = []
        #: The partitions this worker owns, as of the fetch being applied.
        self._assigned: frozenset[TP] = frozenset()
        self._idle = asyncio.Event()
        self._idle.set()
        setattr(app, _HOST_ATTRIBUTE, self)

    def route(self, topic: TopicT, handler: BatchHandler) -> None:
        """Subscribe to *topic* (every name it has) and give its records to *handler*, a partition at a time."""
        for name in topic.topics:
            if name in self._routes:
                raise ValueError(f"{name} is already routed")
            self._routes[name] = handler
        self._app.topics.add(topic)

    def after_flush(self, hook: AfterFlush) -> None:
        """Run *hook* after each batch's outbox is handed to the producer, before its offsets are marked."""
        self._after.append(hook)

    def topic_names(self) -> list[str]:
        """The topics routed here: the worker's inputs."""
        return sorted(self._routes)

    def partition_of(self, topic: str, key: bytes) -> int | None:
        """The partition of *topic* a record with *key* goes to, if the topic's size is known yet."""
        return self.outbox.partition_of(topic, key)

    def owns(self, topic: str, partition: int) -> bool:
        """Whether this worker owns *partition* of *topic* while the current fetch is applied."""
        return TP(topic, partition) in self._assigned

    def co_partitioned(self, topic: str, other: str) -> bool:
        """Whether both topics have as many partitions, by the producer's metadata (False while unknown)."""
        sizes = self.outbox.partitions
        size = sizes.get(topic)
        return size is not None and size == sizes.get(other)

    async def deliver(
        self, consumer: Consumer, records: Mapping[TP, list[Any]], generation: int
    ) -> dict[TP, list[Any]]:
        """Apply the routed records of one fetch; return the others, for Faust's own path.

        *generation* is the consumer group generation the fetch was made in: after a rebalance
        its records may belong to another worker, and are dropped unapplied.
        """
        rest: dict[TP, list[Any]] = {}
        routed: list[tuple[TP, list[Any]]] = []
        for tp, batch in records.items():
            if tp.topic in self._routes:
                if batch:
                    routed.append((tp, batch))
            else:
                rest[tp] = batch
        if not routed:
            return rest
        self._idle.clear()
        self._assigned = frozenset(consumer.assignment())
        try:
            # Handlers place records by key: know the size of every topic they read before they run.
            await self.outbox.learn(self._routes)
            chunk: list[tuple[TP, list[Any]]] = []
            size = 0
            for tp, batch in routed:
                for start in range(0, len(batch), CHUNK_RECORDS):
                    part = batch[start : start + CHUNK_RECORDS]
                    chunk.append((tp, part))
                    size += len(part)
                    if size >= CHUNK_RECORDS:
                        if not await self._apply(consumer, chunk, generation):
                            return rest
                        chunk, size = [], 0
            if chunk:
                await self._apply(consumer, chunk, generation)
        finally:
            self._idle.set()
        return rest

    async def _apply(self, consumer: Consumer, chunk: list[tuple[TP, list[Any]]], generation: int) -> bool:
        """Apply *chunk*, send what it publishes, write its states, mark its offsets; False: a rebalance began."""
        applied: list[tuple[TP, list[Any]]] = []
        stopped = False
        for tp, batch in chunk:
            if not consumer.flow_active or self._app.consumer_generation_id != generation:
                stopped = True  # a rebalance began: the next owner reads the rest again
                break
            self._routes[tp.topic](tp.partition, batch)
            applied.append((tp, batch))
        sent = await self.outbox.flush()
        for hook in self._after:
            await hook(sent)
        inbound = self._app.monitor.stream_inbound_time
        now = time.monotonic()
        for tp, batch in applied:
            acknowledge_through(consumer, tp, batch[0].offset, batch[-1].offset)
            # Faust's livelock check reads when a partition's stream last took a record.
            inbound[tp] = now
        return not stopped

    async def wait_idle(self) -> None:
        """Return once no fetch is being applied (a rebalance waits for this before committing)."""
        await self._idle.wait()


def batch_host(app: AppT) -> BatchHost | None:
    """The app's host, if it has one."""
    host: BatchHost | None = getattr(app, _HOST_ATTRIBUTE, None)
    return host
