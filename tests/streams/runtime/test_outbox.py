"""The outbox: records collected per topic partition, handed to the producer one closed batch each."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError
from aiokafka.partitioner import murmur2
from aiokafka.record.default_records import DefaultRecordBatch
from faust.exceptions import ProducerSendError

from streams.runtime.outbox import Outbox

pytestmark = pytest.mark.unit


class Producer:
    """The two calls the outbox makes of aiokafka's producer; each batch kept as the broker would read it."""

    def __init__(self, partitions: dict[str, int], error: Exception | None = None) -> None:
        self.partitions = partitions
        self.error = error
        self.batches: list[tuple[str, int, list[tuple[bytes | None, bytes, int | None, list[Any]]]]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.partitions[topic]))

    async def send_batch(self, builder: Any, topic: str, *, partition: int) -> asyncio.Future[Any]:
        if self.error:
            raise self.error
        assert builder.closed(), "a closed batch: sent at once, no linger"
        records = [
            (record.key, record.value, record.timestamp, list(record.headers))
            for record in DefaultRecordBatch(bytearray(builder._build()))
        ]
        self.batches.append((topic, partition, records))
        return asyncio.get_running_loop().create_future()


def outbox(producer: Producer, batch_bytes: int = 512 * 1024) -> Outbox:
    app = SimpleNamespace(
        conf=SimpleNamespace(producer_compression_type=None),
        producer=SimpleNamespace(_ensure_producer=lambda: producer),
    )
    return Outbox(app, batch_bytes)  # type: ignore[arg-type]


async def test_records_go_out_one_batch_per_topic_partition_in_the_order_added() -> None:
    producer = Producer({"enriched": 4, "alerts": 4})
    box = outbox(producer)
    await box.learn(["enriched", "alerts"])
    keys = [b"cust-%d" % n for n in range(20)]
    for number, key in enumerate(keys):
        box.add("enriched", key=key, value=b"e%d" % number, timestamp=1767225600.25)
        box.add("alerts", key=key, value=b"a%d" % number, partition=2, headers=[("h", b"v")])
    assert len(box) == 40
    sent = await box.flush()
    assert len(box) == 0
    assert {(s.topic, s.partition) for s in sent} == {(t, p) for t, p, _ in producer.batches}
    assert sum(s.records for s in sent) == 40
    for topic, partition, records in producer.batches:
        if topic == "alerts":
            assert partition == 2
            assert [value for _, value, _, _ in records] == [b"a%d" % n for n in range(20)]
            assert all(headers == [("h", b"v")] for *_, headers in records)
            continue
        for sent_key, _value, stamp, _ in records:
            assert sent_key is not None
            assert partition == (murmur2(sent_key) & 0x7FFFFFFF) % 4, "where the default partitioner puts it"
            assert stamp == 1767225600250
        values = [int(value[1:]) for _, value, _, _ in records]
        assert values == sorted(values), "in the order added"
    assert await box.flush() == [], "nothing left to send"


async def test_a_topic_whose_size_is_not_known_yet_is_asked_for_at_the_flush() -> None:
    producer = Producer({"by-customer": 3})
    box = outbox(producer)
    assert box.partition_of("by-customer", b"c") is None
    box.add("by-customer", key=b"c", value=b"x")
    await box.flush()
    assert producer.batches == [
        ("by-customer", (murmur2(b"c") & 0x7FFFFFFF) % 3, [(b"c", b"x", producer.batches[0][2][0][2], [])])
    ]
    assert box.partition_of("by-customer", b"c") == producer.batches[0][1]


async def test_a_full_batch_is_followed_by_another_of_the_same_partition() -> None:
    producer = Producer({"t": 1})
    box = outbox(producer, batch_bytes=1024)
    await box.learn(["t"])
    for number in range(50):
        box.add("t", key=None, value=b"%04d" % number + b"x" * 100)
    sent = await box.flush()
    assert len(sent) > 1
    assert [value[:4] for _, _, records in producer.batches for _, value, _, _ in records] == [
        b"%04d" % n for n in range(50)
    ]


async def test_each_batch_says_where_its_settled_records_are() -> None:
    """The batch host notes their offsets once the batch is acknowledged (streams.settled)."""
    producer = Producer({"by-customer": 2})
    box = outbox(producer, batch_bytes=1024)
    await box.learn(["by-customer"])
    mark = [("touchpoint-decided", b"applied")]
    for number in range(30):
        settled = number % 3 == 0
        value = b"%02d" % number + b"x" * 60
        box.add("by-customer", key=b"c%d" % number, value=value, partition=1, headers=mark, settled=settled)
    box.add("by-customer", key=b"keyed", value=b"y", headers=mark, settled=True)
    sent = await box.flush()
    assert len(sent) > 2, "several batches of partition 1, and one of the keyed record's"
    found = []
    for batch, (_, _, records) in zip(sent, producer.batches, strict=True):
        for position, headers in batch.settled or ():
            assert list(headers) == mark
            found.append(records[position][1])
    assert found == [b"%02d" % n + b"x" * 60 for n in range(0, 30, 3)] + [b"y"], (
        "every third record of partition 1, wherever its batch began, then the keyed one"
    )
    assert all(batch.settled is None for batch in await box.flush()), "nothing left over for the next flush"


async def test_a_producer_error_is_raised_as_fausts() -> None:
    box = outbox(Producer({"t": 1}, KafkaTimeoutError()))
    await box.learn(["t"])
    box.add("t", key=b"k", value=b"v")
    with pytest.raises(ProducerSendError, match="Error while sending to t"):
        await box.flush()
