"""The batch host: routed records applied a partition's batch at a time, their offsets where Faust commits them."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiokafka.structs import ConsumerRecord
from faust.transport.consumer import Consumer as FaustConsumer
from faust.types import TP, TopicT
from intervaltree import IntervalTree

from streams.runtime.batches import CHUNK_RECORDS, BatchHost, batch_host
from streams.runtime.outbox import Sent

pytestmark = pytest.mark.unit


def raw_topic(name: str = "raw") -> TopicT:
    """What the host reads of a Faust topic it routes: its names."""
    return cast(TopicT, SimpleNamespace(topics=(name,)))


class Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int, int]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1}

    async def send_batch(self, builder: Any, topic: str, *, partition: int) -> asyncio.Future[Any]:
        self.sent.append((topic, partition, builder.record_count()))
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


class Consumer:
    """The bookkeeping of Faust's consumer that the host touches, and Faust's own commit arithmetic."""

    def __init__(self, assigned: set[TP]) -> None:
        self.flow_active = True
        self.assigned = assigned
        #: Where the next fetch of each partition starts, as the Kafka client keeps it.
        self.position: dict[TP, int] = {}
        self._read_offset: dict[TP, int | None] = defaultdict(lambda: None)
        self._committed_offset: dict[TP, int | None] = defaultdict(lambda: None)
        self._acked: dict[TP, list[int]] = defaultdict(list)
        self._acked_index: dict[TP, set[int]] = defaultdict(set)
        self._gap: dict[TP, IntervalTree] = defaultdict(IntervalTree)

    def assignment(self) -> set[TP]:
        return self.assigned

    async def read_again(self, positions: dict[TP, int]) -> None:
        self.position.update(positions)

    def fetch(self, tp: TP, end: int) -> dict[TP, list[ConsumerRecord[bytes, bytes]]]:
        """The records of *tp* from its position up to *end* (exclusive); the position moves past them."""
        start, self.position[tp] = self.position[tp], end
        return {tp: records(tp.topic, tp.partition, range(start, end))}

    def commit_offset(self, tp: TP) -> int | None:
        """The offset Faust's next commit would store for *tp*."""
        offset: int | None = FaustConsumer._new_offset(self, tp)  # type: ignore[arg-type]
        if offset is not None:
            self._committed_offset[tp] = offset
        return offset


class App:
    def __init__(self) -> None:
        self.subscribed: list[Any] = []
        self.topics = SimpleNamespace(add=self.subscribed.append)
        self.consumer_generation_id = 7
        self.rebalancing = False
        self.monitor = SimpleNamespace(stream_inbound_time={})
        self.producer_ = Producer()
        self.producer = SimpleNamespace(_ensure_producer=lambda: self.producer_)
        self.conf = SimpleNamespace(producer_compression_type=None)


def records(topic: str, partition: int, offsets: Sequence[int]) -> list[ConsumerRecord[bytes, bytes]]:
    return [
        ConsumerRecord(topic, partition, offset, 0, 0, b"k%d" % offset, b"v%d" % offset, None, 2, 2, ())
        for offset in offsets
    ]


RAW0, RAW1, OTHER = TP("raw", 0), TP("raw", 1), TP("changelog", 0)


async def test_routed_records_reach_their_handler_and_the_rest_goes_faust_s_way() -> None:
    app = App()
    host = BatchHost(app)  # type: ignore[arg-type]
    seen: list[tuple[int, list[int]]] = []
    host.route(
        raw_topic(),
        lambda partition, batch: seen.append((partition, [r.offset for r in batch])),
    )
    assert [topic.topics for topic in app.subscribed] == [("raw",)]
    assert batch_host(app) is host  # type: ignore[arg-type]
    consumer = Consumer({RAW0, RAW1, OTHER})
    fetched = {
        RAW0: records("raw", 0, [3, 4, 5]),
        RAW1: records("raw", 1, [0]),
        OTHER: records("changelog", 0, [9]),
    }
    rest = await host.deliver(consumer, fetched, 7)  # type: ignore[arg-type]
    assert rest == {OTHER: fetched[OTHER]}
    assert seen == [(0, [3, 4, 5]), (1, [0])]
    assert set(app.monitor.stream_inbound_time) == {RAW0, RAW1}


async def test_offsets_are_committed_only_after_the_batch_s_outbox_and_hooks() -> None:
    app = App()
    host = BatchHost(app)  # type: ignore[arg-type]
    consumer = Consumer({RAW0})
    order: list[str] = []

    def handle(partition: int, batch: Sequence[Any]) -> None:
        for record in batch:
            host.outbox.add("out", key=record.key, value=record.value)
        order.append("applied")

    async def after(sent: list[Sent]) -> None:
        assert sum(batch.records for batch in sent) == 3
        assert consumer.commit_offset(RAW0) is None, "nothing acknowledged before the states are written"
        order.append("states written")

    host.route(raw_topic(), handle)
    host.after_flush(after)
    consumer._committed_offset[RAW0] = 10
    await host.deliver(consumer, {RAW0: records("raw", 0, [10, 11, 12])}, 7)  # type: ignore[arg-type]
    assert order == ["applied", "states written"]
    assert consumer.commit_offset(RAW0) == 13


async def test_after_apply_hooks_run_once_per_chunk_after_its_handlers_before_its_flush() -> None:
    app = App()
    host = BatchHost(app)  # type: ignore[arg-type]
    order: list[str] = []
    host.route(raw_topic(), lambda partition, batch: order.append(f"applied {partition}:{len(batch)}"))
    host.route(raw_topic("raw2"), lambda partition, batch: order.append(f"applied2 {partition}:{len(batch)}"))
    host.after_apply(lambda: order.append("counted"))

    async def after(sent: list[Sent]) -> None:
        order.append("flushed")

    host.after_flush(after)
    consumer = Consumer({RAW0, TP("raw2", 0)})
    fetched = {RAW0: records("raw", 0, range(CHUNK_RECORDS + 1)), TP("raw2", 0): records("raw2", 0, [0])}
    await host.deliver(consumer, fetched, 7)  # type: ignore[arg-type]
    # One chunk's handlers, then its hook; the next chunk's; each before the chunk's outbox is flushed.
    assert order == [
        f"applied 0:{CHUNK_RECORDS}",
        "counted",
        "flushed",
        "applied 0:1",
        "applied2 0:1",
        "counted",
        "flushed",
    ]


async def test_skipped_offsets_are_acknowledged_so_the_commit_moves_past_them() -> None:
    app = App()
    host = BatchHost(app)  # type: ignore[arg-type]
    host.route(raw_topic(), lambda partition, batch: None)
    consumer = Consumer({RAW0})
    consumer._committed_offset[RAW0] = consumer._read_offset[RAW0] = 100  # as after a seek
    await host.deliver(consumer, {RAW0: records("raw", 0, [103, 104])}, 7)  # type: ignore[arg-type]
    await host.deliver(consumer, {RAW0: records("raw", 0, [110])}, 7)  # type: ignore[arg-type]
    assert consumer.commit_offset(RAW0) == 111


async def test_a_backlog_is_applied_and_acknowledged_a_chunk_at_a_time() -> None:
    app = App()
    host = BatchHost(app)  # type: ignore[arg-type]
    sizes: list[int] = []
    host.route(raw_topic(), lambda partition, batch: sizes.append(len(batch)))
    flushes: list[int] = []

    async def after(sent: list[Sent]) -> None:
        flushes.append(len(sizes))

    host.after_flush(after)
    consumer = Consumer({RAW0})
    await host.deliver(consumer, {RAW0: records("raw", 0, range(CHUNK_RECORDS * 2 + 5))}, 7)  # type: ignore[arg-type]
    assert sizes == [CHUNK_RECORDS, CHUNK_RECORDS, 5]
    assert flushes == [1, 2, 3]
    assert consumer.commit_offset(RAW0) == CHUNK_RECORDS * 2 + 5


@pytest.mark.parametrize("rebalance", ["flow stopped", "new generation", "positions not settled yet"])
async def test_a_fetch_made_while_the_partitions_move_is_read_again_not_applied(rebalance: str) -> None:
    app = App()
    host = BatchHost(app)  # type: ignore[arg-type]
    seen: list[int] = []
    host.route(
        raw_topic(),
        lambda partition, batch: seen.extend(r.offset for r in batch),
    )
    consumer = Consumer({RAW0})
    consumer._committed_offset[RAW0] = consumer._read_offset[RAW0] = consumer.position[RAW0] = 100
    if rebalance == "flow stopped":
        consumer.flow_active = False
    elif rebalance == "new generation":
        app.consumer_generation_id = 8
    else:
        # Faust has the new assignment and has resumed the flow, but is still moving each partition
        # to its committed offset: a record read now may be read again from further back.
        app.rebalancing = True
    await host.deliver(consumer, consumer.fetch(RAW0, 105), 7)  # type: ignore[arg-type]
    assert seen == []
    assert consumer.commit_offset(RAW0) is None
    assert consumer.position[RAW0] == 100, "the unapplied records are fetched again"


async def test_a_fetch_made_before_a_rebalance_returning_records_of_the_new_assignment_loses_none() -> None:
    # The fetch was asked for before the rebalance and answered after it, from the new assignment's
    # positions (the committed offsets): its records are not applied, and the next fetch starts
    # where they did, not after them.
    app = App()
    host = BatchHost(app)  # type: ignore[arg-type]
    seen: list[int] = []
    host.route(
        raw_topic(),
        lambda partition, batch: seen.extend(r.offset for r in batch),
    )
    consumer = Consumer({RAW0})
    consumer._committed_offset[RAW0] = consumer._read_offset[RAW0] = consumer.position[RAW0] = 100
    stale = consumer.fetch(RAW0, 105)
    app.consumer_generation_id = 8
    await host.deliver(consumer, stale, 7)  # type: ignore[arg-type]
    await host.deliver(consumer, consumer.fetch(RAW0, 110), 8)  # type: ignore[arg-type]
    assert seen == list(range(100, 110))
    assert consumer.commit_offset(RAW0) == 110


async def test_a_rebalance_between_two_chunks_leaves_the_rest_to_be_read_again() -> None:
    app = App()
    host = BatchHost(app)  # type: ignore[arg-type]
    seen: dict[int, list[int]] = defaultdict(list)

    def handle(partition: int, batch: Sequence[Any]) -> None:
        seen[partition].extend(r.offset for r in batch)
        app.rebalancing = True  # begins while the first chunk is applied

    host.route(raw_topic(), handle)
    consumer = Consumer({RAW0, RAW1})
    consumer.position = {RAW0: 0, RAW1: 50}
    fetched = {**consumer.fetch(RAW0, CHUNK_RECORDS + 10), **consumer.fetch(RAW1, 60)}
    await host.deliver(consumer, fetched, 7)  # type: ignore[arg-type]
    assert seen == {0: list(range(CHUNK_RECORDS))}
    assert consumer.commit_offset(RAW0) == CHUNK_RECORDS
    assert consumer.position == {RAW0: CHUNK_RECORDS, RAW1: 50}


async def test_a_rebalance_waits_for_the_fetch_being_applied() -> None:
    app = App()
    host = BatchHost(app)  # type: ignore[arg-type]
    release = asyncio.Event()

    async def slow(sent: list[Sent]) -> None:
        await release.wait()

    host.route(raw_topic(), lambda partition, batch: None)
    host.after_flush(slow)
    delivering = asyncio.create_task(host.deliver(Consumer({RAW0}), {RAW0: records("raw", 0, [0])}, 7))  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    waiting = asyncio.create_task(host.wait_idle())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    release.set()
    await asyncio.wait_for(waiting, 1)
    await delivering
