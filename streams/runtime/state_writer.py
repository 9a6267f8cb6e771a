"""Table writes that reach the changelog only after the outputs derived from them.

A customer's state carries the ids of the events already applied (the dedupe
ring), so after a crash a redelivered event is dropped when the restored state
holds it. If that state reached the changelog while the event's outputs (an
alert, a transition, the enriched event) were still in the producer's buffer, a
kill -9 keeps the state and loses the outputs for good. Sending the outputs
first is not enough: the producer batches per partition, and the changelog's
batch can be delivered before the output's.

``StateWriter`` closes that gap without waiting per event. A write is visible to
the next read at once (``get``), but its changelog record, and with a durable
store its local copy, is written only once every output sent for it is
acknowledged by the broker, in the order the writes were made. The batch host
(``streams.runtime.batches``) stages states while it applies a fetch (``stage``)
and writes each customer's state once per fetch, held back until that fetch's
output batches are acknowledged (``write_staged``). Offsets are
committed only after ``drain`` (the transport's producer calls it on every
flush, and Faust flushes before each commit and on rebalance), so a committed
offset still implies that the state and the outputs of its events are written.

Changelog records are sent straight to the aiokafka producer, the released ones a batch per
partition at a time (``streams.runtime.outbox``), not through Faust's ``send_soon`` buffer: that
buffer's ``flush`` gives up after 0.1 s without a message going out, and misses the message its
task is publishing, so on a busy worker an offset could be committed before the changelog record
of its event was even produced.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiokafka.structs import RecordMetadata
from faust.stores.base import SerializedStore
from faust.stores.memory import Store as MemoryStore
from faust.types import AppT, TableT

from streams.runtime.faust_private import changelog_sent, durable_writer, encoded_items
from streams.runtime.outbox import Outbox, Sent

__all__ = ["StateWriter", "drain_all", "stored_items"]

log = logging.getLogger(__name__)

V = TypeVar("V")

#: The writers of each app, drained by the transport's producer before every flush completes.
_WRITERS_ATTRIBUTE = "_touchpoint_state_writers"


#: The value of a deletion in the queue: ``get`` answers None, the changelog gets a tombstone.
_DELETED: Any = object()


@dataclass(slots=True)
class _Write(Generic[V]):
    key: bytes
    value: V
    #: None for a deletion: a tombstone (null value) on the changelog.
    encoded: bytes | None
    partition: int
    outputs: list[asyncio.Future[Any]]
    number: int


class StateWriter(Generic[V]):
    """Writes of one Faust table, each held back until its outputs are acknowledged."""

    def __init__(
        self,
        app: AppT,
        table: TableT[bytes, Any],
        encode: Callable[[V], bytes],
        send_changelog: Callable[[int, bytes, bytes | None], Awaitable[Any]] | None = None,
        decode: Callable[[bytes], V] | None = None,
    ) -> None:
        """*send_changelog(partition, key, encoded)* sends one record; by default released writes go to the
        table's changelog a batch per partition."""
        self._table = table
        self._encode = encode
        self._decode = decode
        self._send_changelog: Callable[[list[_Write[V]]], Awaitable[Any]] = (
            _one_by_one(send_changelog) if send_changelog is not None else _changelog_sender(app, table)
        )
        self._releasing = asyncio.Lock()
        self._queue: deque[_Write[V]] = deque()
        # Newest value of each key with a write still queued or staged, and how many of its writes are.
        self._newest: dict[bytes, V] = {}
        self._queued: dict[bytes, int] = {}
        # Keys staged in the batch being applied, with their partitions (see stage).
        self._staged: dict[bytes, int] = {}
        self._written = 0  # number of writes made so far: the next write's number
        self._local_write = _local_writer(table)
        self._read = _local_reader(table)
        writers: list[StateWriter[Any]] = app.__dict__.setdefault(_WRITERS_ATTRIBUTE, [])
        writers.append(self)

    def __len__(self) -> int:
        """Writes whose outputs are not all acknowledged yet."""
        return len(self._queue)

    def get(self, key: bytes) -> V | None:
        """The newest value of *key*, written or still held back.

        A value the memory store holds in its encoded form (restored in bulk, see
        ``streams.tables``) is decoded here, once: the decoded one replaces it in the store.
        """
        value = self._newest.get(key)
        if value is not None:
            return None if value is _DELETED else value
        stored = self._read(key)
        if isinstance(stored, bytes) and self._decode is not None:
            decoded = self._decode(stored)
            self._table.data[key] = decoded  # the same value: a local cache, not a write
            return decoded
        found: V | None = stored
        return found

    async def put(
        self, key: bytes, value: V, partition: int, outputs: Iterable[asyncio.Future[Any]] = ()
    ) -> None:
        """Write *value*: readable now, in the changelog once every future in *outputs* is done.

        The value is encoded now: the caller may keep mutating the object for later events.
        Writes made earlier whose outputs are done meanwhile are released on the way.
        """
        self._newest[key] = value
        self._queued[key] = self._queued.get(key, 0) + 1
        self._enqueue(key, value, partition, [output for output in outputs if not output.done()])
        if self._ready():
            await self.release()

    def stage(self, key: bytes, value: V, partition: int) -> None:
        """Make *value* the newest value of *key* now, and write it at the next ``write_staged``.

        For a batch of records applied together: a key staged several times is written once,
        as it is when the batch ends.
        """
        self._newest[key] = value
        if key not in self._staged:
            # Counted as queued already, so that a release meanwhile does not forget the newest value.
            self._queued[key] = self._queued.get(key, 0) + 1
        self._staged[key] = partition

    async def write_staged(self, sent: Iterable[Sent] = ()) -> None:
        """Queue one write of each staged key, held back until the batches *sent* are acknowledged."""
        if not self._staged:
            return
        staged, self._staged = self._staged, {}
        outputs = [batch.future for batch in sent if not batch.future.done()]
        for key, partition in staged.items():
            self._enqueue(key, self._newest[key], partition, outputs)
        if self._ready():
            await self.release()

    def stage_delete(self, key: bytes, partition: int) -> None:
        """Delete *key* now for ``get``; its tombstone is written at the next ``write_staged``, in order."""
        self.stage(key, _DELETED, partition)

    def _enqueue(self, key: bytes, value: V, partition: int, outputs: list[asyncio.Future[Any]]) -> None:
        self._written += 1
        encoded = None if value is _DELETED else self._encode(value)
        self._queue.append(_Write(key, value, encoded, partition, outputs, self._written))

    async def delete(self, key: bytes, partition: int, outputs: Iterable[asyncio.Future[Any]] = ()) -> None:
        """Delete *key*: gone for ``get`` now; from the store, and as a tombstone on the changelog, once
        every future in *outputs* is done (a forgotten customer, in order with the writes before)."""
        self._newest[key] = _DELETED
        self._queued[key] = self._queued.get(key, 0) + 1
        self._enqueue(key, _DELETED, partition, [output for output in outputs if not output.done()])
        if self._ready():
            await self.release()

    def _ready(self) -> bool:
        """Whether the oldest queued write can be released."""
        return bool(self._queue) and all(output.done() for output in self._queue[0].outputs)

    async def release(self) -> int:
        """Write, in order, every queued value whose outputs are all acknowledged; return how many."""
        queue = self._queue
        # One releaser at a time (the agent and a commit's drain): the sends must leave in queue order.
        async with self._releasing:
            ready: list[_Write[V]] = []
            checked: list[asyncio.Future[Any]] | None = None
            while queue:
                head = queue[0]
                # Writes of one batch share one list of outputs: check it once.
                if head.outputs is not checked:
                    if any(not output.done() for output in head.outputs):
                        break
                    failed = next(
                        (o.exception() for o in head.outputs if not o.cancelled() and o.exception()), None
                    )
                    if failed is not None:
                        # The producer could not deliver an output: the state must not get ahead of it.
                        # The producer's error crashes the worker; the events are then processed again.
                        log.error(
                            "not writing the state of %r: an output was not delivered: %r", head.key, failed
                        )
                        break
                    checked = head.outputs
                ready.append(queue.popleft())
            if ready:
                await self._store(ready)
        return len(ready)

    async def drain(self) -> int:
        """Wait for the outputs of every write queued now and write them; return how many were written.

        Writes queued while this waits are left to the next release: under steady traffic the queue
        is never empty, and a commit must not wait for events after its offsets.
        """
        if not self._queue:
            return 0
        last = self._queue[-1].number
        written = 0
        while self._queue and self._queue[0].number <= last:
            head = self._queue[0]
            if head.outputs:
                await asyncio.wait(head.outputs)
            count = await self.release()
            if not count and self._queue and self._queue[0] is head:
                raise RuntimeError(f"state of {head.key!r} held back: an output was not delivered")
            written += count
        return written

    def stored_items(self) -> Iterator[tuple[bytes, V | bytes]]:
        """Every (key, value) of the table's local store; a value the store keeps encoded comes as bytes."""
        return stored_items(self._table)

    def items(self) -> Iterator[tuple[bytes, V | bytes]]:
        """Every key's newest value, as ``get`` reads it: the local store's, or a write still held back.

        A deleted key is left out; a value the store keeps encoded comes as bytes.
        """
        newest = dict(self._newest)
        for key, value in self.stored_items():
            if key not in newest:
                yield key, value
        for key, value in newest.items():
            if value is not _DELETED:
                yield key, value

    def retain(self, owned: set[int]) -> None:
        """Drop queued writes of partitions other than *owned* (after a rebalance; Faust drains first)."""
        staged = {key: partition for key, partition in self._staged.items() if partition in owned}
        if not self._queue and len(staged) == len(self._staged):
            return
        kept = deque(write for write in self._queue if write.partition in owned)
        dropped = len(self._queue) - len(kept) + len(self._staged) - len(staged)
        newest = {key: self._newest[key] for key in staged}
        self._queue = kept
        self._staged = staged
        self._newest.clear()
        self._queued.clear()
        for write in kept:
            self._newest[write.key] = write.value  # _DELETED for a queued deletion
            self._queued[write.key] = self._queued.get(write.key, 0) + 1
        for key, value in newest.items():
            self._newest[key] = value
            self._queued[key] = self._queued.get(key, 0) + 1
        if dropped:
            log.warning("dropped %d unwritten state changes of partitions not in %s", dropped, sorted(owned))

    async def _store(self, writes: list[_Write[V]]) -> None:
        for write in writes:
            self._local_write(write)
        await self._send_changelog(writes)
        queued, newest = self._queued, self._newest
        for write in writes:
            left = queued[write.key] - 1
            if left:
                queued[write.key] = left
            else:
                del queued[write.key]
                del newest[write.key]


def _one_by_one(
    send: Callable[[int, bytes, bytes | None], Awaitable[Any]],
) -> Callable[[list[_Write[Any]]], Awaitable[None]]:
    async def send_each(writes: list[_Write[Any]]) -> None:
        for write in writes:
            await send(write.partition, write.key, write.encoded)

    return send_each


def _changelog_sender(app: AppT, table: TableT[bytes, Any]) -> Callable[[list[_Write[Any]]], Awaitable[None]]:
    """Send changelog records of *table* straight to the producer, a batch per partition."""
    topic = table.changelog_topic.get_topic_name()
    outbox = Outbox(app)
    # Keeps RocksDB's record of the changelog offsets its files hold, as for Faust's own writes.
    on_sent = changelog_sent(table)

    def record_offset(batch: Sent) -> Callable[[asyncio.Future[Any]], None]:
        def last_offset(future: asyncio.Future[Any]) -> None:
            if future.cancelled() or future.exception() is not None or future.result() is None:
                return
            # The batch's metadata names its first record; the store wants the last one it holds.
            first = future.result()
            last: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            last.set_result(
                RecordMetadata(
                    first.topic,
                    first.partition,
                    first.topic_partition,
                    first.offset + batch.records - 1,
                    first.timestamp,
                    first.timestamp_type,
                    first.log_start_offset,
                )
            )
            on_sent(last)

        return last_offset

    async def send(writes: list[_Write[Any]]) -> None:
        for write in writes:
            outbox.add(topic, key=write.key, value=write.encoded, partition=write.partition)
        for batch in await outbox.flush():
            batch.future.add_done_callback(record_offset(batch))

    return send


def _local_reader(table: TableT[bytes, Any]) -> Callable[[bytes], Any]:
    """How ``get`` reads the table's local store: ``read(key)``, None for a missing key.

    The memory store's dict directly: through the table a read runs its sensors and, for a key
    not there (every customer never erased, every new identifier), raises and catches a KeyError;
    that cost a few µs on every record the journey applies. Other stores are read through the table.
    """
    store = table.data
    if isinstance(store, MemoryStore):

        def read_memory(key: bytes) -> Any:
            return store.data.get(key)

        return read_memory
    return table.get


def _local_writer(table: TableT[bytes, Any]) -> Callable[[_Write[Any]], None]:
    """How a released write reaches the table's local store."""
    store = table.data
    durable = durable_writer(store)
    if durable is not None:
        # RocksDB: the local copy survives a restart and is trusted by the next start's recovery, so it
        # must never be ahead of the outputs either; write the bytes encoded when the change was made.
        # Faust's own Store._set takes the partition from the current event, which a release has none of.
        def write_durable(write: _Write[Any]) -> None:
            durable(write.key, write.encoded, write.partition)

        return write_durable

    def write_in_memory(write: _Write[Any]) -> None:
        if write.encoded is None:
            store.pop(write.key, None)
        else:
            store[write.key] = write.value

    return write_in_memory


async def drain_all(app: AppT) -> int:
    """Drain every StateWriter of *app*; return how many writes were released."""
    written = 0
    for writer in app.__dict__.get(_WRITERS_ATTRIBUTE, ()):
        written += await writer.drain()
    return written


def stored_items(table: TableT[bytes, V]) -> Iterator[tuple[bytes, V | bytes]]:
    """Every (key, state) of *table*'s local store; a state the store keeps encoded comes as bytes.

    For a walk over every customer (after a rebalance): RocksDB keeps encoded states, and
    decoding each one there would cost more than everything else the walk does.
    """
    store = table.data
    if isinstance(store, SerializedStore):
        return encoded_items(store)
    return iter(table.items())
