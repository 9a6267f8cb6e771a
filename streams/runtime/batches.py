"""Records handed to the worker's steps a partition's batch at a time, beneath Faust's per-message path.

Faust delivers each record on its own: a message object, a conductor callback, a channel queue,
a stream iterator with a task per wait, an event, an acknowledgement. That costs more CPU per
record than all the product's own work (bench/PROFILE.md). The ``BatchHost`` takes the records
of the topics routed to it off the consumer's fetch result, before Faust turns them into
messages, and for each fetch:

1. gives each routed partition's records, in offset order, to that topic's handler, which
   applies them one after the other, synchronously, and adds what they publish to one
   ``Outbox`` (``streams.runtime.outbox``) and what they change to its state writers; then runs
   the hooks registered with ``after_apply``, still synchronously (metrics counted a batch at a
   time: no scrape comes between the records and their counts);
2. hands the outbox to the producer, a batch per topic partition; once the broker acknowledges a
   batch holding records sent settled (the shortcut's copies), notes their offsets, which the
   consumer then leaves out (``streams.settled``);
3. runs the hooks registered with ``after_flush`` with those batches: the state writers queue
   each customer's state changed in the fetch once, held back until the batches are acknowledged;
4. marks the records' offsets as processed, where Faust's commit finds them.

Faust keeps everything else: group membership and assignment (the routed topics are subscribed
through its conductor, co-partitioned like an agent's), offset commits (its producer flush before
every commit writes the held-back states first, see ``streams.runtime.transport``), tables and
changelogs, recovery, timers, the web server. Records of other topics (changelogs read by Faust's
own recovery) take Faust's way as before.

A rebalance waits for a fetch being applied to finish (``wait_idle``). Records are applied only
while the partitions stand still: not once a rebalance has begun, nor until Faust has moved every
partition of the new assignment to its committed offset (it ends the rebalance after that), nor
when the fetch was asked for in an earlier generation of the group (the consumer thread may answer
it from the new assignment). The consumer has moved past the records of a fetch when the host gets
them, so whatever it does not apply is read again: each partition still assigned is moved back to
its first record not applied (``read_again``). Left behind, those records would never be read, and
the offsets of the next records applied would commit past them.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Set
from typing import Any, Protocol

from faust.types import TP, AppT, TopicT

from agents.ports import BatchHandler
from streams.runtime.faust_private import acknowledge_through
from streams.runtime.outbox import Outbox, Sent
from streams.settled import SETTLED

__all__ = ["AfterFlush", "BatchConsumer", "BatchHandler", "BatchHost", "batch_host"]

log = logging.getLogger(__name__)

#: ``hook(sent)``: after the outbox was handed to the producer, with its batches.
AfterFlush = Callable[[list[Sent]], Awaitable[Any]]

#: Most records applied between two flushes: a backlog is fetched tens of thousands of records at a
#: time, and its outputs, state writes and offsets should not wait for all of them.
CHUNK_RECORDS = 2000
#: Attribute of the app that holds its host; the transport's consumer looks for it there.
_HOST_ATTRIBUTE = "_touchpoint_batch_host"
#: Records of one partition applied together, or not at all.
_Part = tuple[TP, list[Any]]


class BatchConsumer(Protocol):
    """The worker's consumer as the host uses it (``streams.runtime.transport``'s)."""

    #: False from the start of a rebalance until Faust resumes the flow.
    flow_active: bool

    def assignment(self) -> Set[TP]:
        """The partitions assigned to this worker now."""
        ...

    async def read_again(self, positions: Mapping[TP, int]) -> None:
        """Move each partition of *positions* still assigned back to its offset: the next fetch starts there."""
        ...


class BatchHost:
    """The topics whose records a worker applies in batches, and what to do after each batch."""

    def __init__(self, app: AppT, outbox: Outbox | None = None) -> None:
        self._app = app
        self.outbox = outbox if outbox is not None else Outbox(app)
        self._routes: dict[str, BatchHandler] = {}
        self._after: list[AfterFlush] = []
        self._applied: list[Callable[[], None]] = []
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

    def after_apply(self, hook: Callable[[], None]) -> None:
        """Run *hook* once the handlers have applied a batch's records, before anything is awaited."""
        self._applied.append(hook)

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
        self, consumer: BatchConsumer, records: Mapping[TP, list[Any]], generation: int
    ) -> dict[TP, list[Any]]:
        """Apply the routed records of one fetch; return the others, for Faust's own path.

        *generation* is the consumer group generation the fetch was asked for in. Records
        not applied (the partitions are moving, see the module's docstring) are read again.
        """
        rest: dict[TP, list[Any]] = {}
        routed: list[_Part] = []
        for tp, batch in records.items():
            if tp.topic in self._routes:
                if batch:
                    routed.append((tp, SETTLED.without(tp, batch)))
            else:
                rest[tp] = batch
        if not routed:
            return rest
        unapplied: dict[TP, int] = {}
        self._idle.clear()
        self._assigned = frozenset(consumer.assignment())
        try:
            # Handlers place records by key: know the size of every topic they read before they run.
            await self.outbox.learn(self._routes)
            chunks = _chunks(routed)
            for index, chunk in enumerate(chunks):
                applied = await self._apply(consumer, chunk, generation)
                if applied < len(chunk):
                    for tp, part in itertools.chain(chunk[applied:], *chunks[index + 1 :]):
                        unapplied.setdefault(tp, part[0].offset)
                    break
        finally:
            self._idle.set()
        if unapplied:
            log.info(
                "Fetched while the partitions moved, read again: %s",
                ", ".join(
                    f"{tp.topic}[{tp.partition}] from {offset}" for tp, offset in sorted(unapplied.items())
                ),
            )
            # After the host is idle again: a rebalance waiting for it must not wait for the consumer
            # thread too, which may be busy with that rebalance.
            await consumer.read_again(unapplied)
        return rest

    def _settled(self, consumer: BatchConsumer, generation: int) -> bool:
        """Whether records fetched in *generation* may be applied now (see the module's docstring)."""
        app = self._app
        return consumer.flow_active and not app.rebalancing and app.consumer_generation_id == generation

    async def _apply(self, consumer: BatchConsumer, chunk: list[_Part], generation: int) -> int:
        """Apply *chunk*, send what it publishes, write its states, mark its offsets; return how many parts
        were applied (fewer than all: the partitions began to move)."""
        applied: list[_Part] = []
        for tp, batch in chunk:
            if not self._settled(consumer, generation):
                break
            self._routes[tp.topic](tp.partition, batch)
            applied.append((tp, batch))
        for done in self._applied:
            done()
        sent = await self.outbox.flush()
        for batch_sent in sent:
            if batch_sent.settled:
                batch_sent.future.add_done_callback(functools.partial(_note_settled, batch_sent))
        for hook in self._after:
            await hook(sent)
        inbound = self._app.monitor.stream_inbound_time
        now = time.monotonic()
        for tp, batch in applied:
            acknowledge_through(consumer, tp, batch[0].offset, batch[-1].offset)
            # Faust's livelock check reads when a partition's stream last took a record.
            inbound[tp] = now
        return len(applied)

    async def wait_idle(self) -> None:
        """Return once no fetch is being applied (a rebalance waits for this before committing)."""
        await self._idle.wait()


def _note_settled(sent: Sent, acknowledged: asyncio.Future[Any]) -> None:
    """Once the broker has *sent*'s batch, its settled records' offsets (streams.settled)."""
    if acknowledged.cancelled() or acknowledged.exception() is not None:
        return
    SETTLED.note(sent.topic, sent.partition, acknowledged.result().offset, sent.settled or ())


def _chunks(routed: list[_Part]) -> list[list[_Part]]:
    """*routed* in chunks of about CHUNK_RECORDS records, each partition's records in offset order."""
    chunks: list[list[_Part]] = [[]]
    size = 0
    for tp, batch in routed:
        for start in range(0, len(batch), CHUNK_RECORDS):
            part = batch[start : start + CHUNK_RECORDS]
            if size >= CHUNK_RECORDS:
                chunks.append([])
                size = 0
            chunks[-1].append((tp, part))
            size += len(part)
    return chunks


def batch_host(app: AppT) -> BatchHost | None:
    """The app's host, if it has one."""
    host: BatchHost | None = getattr(app, _HOST_ATTRIBUTE, None)
    return host
