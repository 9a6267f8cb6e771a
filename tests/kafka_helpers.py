"""Real Kafka clients for the integration tests: produce records, collect what the worker wrote; and
the few helpers several of those tests share (partitioning, watermark sentinels, polling)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import murmur2
from aiokafka.structs import ConsumerRecord, TopicPartition

from streams.runtime.faust_private import refresh_metadata
from streams.settings import Settings

#: Partitions of every topic the worker creates (the default settings).
PARTITIONS = Settings().partitions

T = TypeVar("T")


def partition_of(key: bytes) -> int:
    """The partition of a customer key on every customer-keyed topic (the Kafka client's default)."""
    return int(murmur2(key) & 0x7FFFFFFF) % PARTITIONS


#: Distinct customers whose clocks move a partition's watermark (the default time.watermark_quorum).
QUORUM = 2


def sentinels(label: str, at: str) -> list[bytes]:
    """Visits at instant *at* by ``QUORUM`` customers on every partition (event ids ``{label}-{partition}``,
    then ``{label}-{partition}.{n}``): moves every partition's watermark there, since no single customer can."""
    keys: dict[int, list[str]] = {partition: [] for partition in range(PARTITIONS)}
    for number in itertools.count():
        customer = f"sentinel-{number}"
        chosen = keys[partition_of(customer.encode())]
        if len(chosen) < QUORUM:
            chosen.append(customer)
        if all(len(customers) == QUORUM for customers in keys.values()):
            break
    return [
        orjson.dumps(
            {
                "schema_version": 1,
                "event_id": f"{label}-{partition}" + (f".{n}" if n else ""),
                "occurred_at": at,
                "customer_id": customer,
                "channel": "web",
                "type": "visit",
                "actor": "customer",
            }
        )
        for partition, customers in sorted(keys.items())
        for n, customer in enumerate(customers)
    ]


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, interval: float = 0.1) -> T:
    """Poll *probe* until it returns something other than None or False; fail after *timeout*."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None and result is not False:
            return result
        _give_up_after(deadline, what, timeout, result)
        time.sleep(interval)


async def eventually(
    what: str, probe: Callable[[], T], done: Callable[[T], bool], timeout: float, interval: float = 0.2
) -> T:
    """Poll *probe* until *done* holds for its result, without blocking the loop; fail after *timeout*."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if done(result):
            return result
        _give_up_after(deadline, what, timeout, result)
        await asyncio.sleep(interval)


def _give_up_after(deadline: float, what: str, timeout: float, last: object) -> None:
    if time.monotonic() > deadline:
        pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")


async def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    """Create *topic* with *partitions* partitions (one replica) before anyone else names it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, values: Iterable[bytes | None]) -> list[tuple[int, int]]:
    """Send *values* and return each record's (partition, offset) as the broker assigned them."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        futures = []
        for number, value in enumerate(values):
            # A null value needs a key (Kafka's tombstone); other records go keyless, as most producers do.
            key = b"tombstone-%d" % number if value is None else None
            futures.append(await producer.send(topic, value, key=key))
        metadata = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return [(meta.partition, meta.offset) for meta in metadata]


async def collect(
    bootstrap: str,
    topic: str,
    wanted: Callable[[bytes | None, bytes], bool],
    count: int,
    timeout: float = 60.0,
) -> list[tuple[bytes | None, bytes]]:
    """Read *topic* from the start until *count* records match *wanted*(key, value), then drain once more.

    Returns every matching (key, value); more than *count* means duplicates. The
    final drain polls until a poll returns nothing, so late duplicates are seen
    without sleeping for a fixed time. The topics read this way are outputs, never
    compacted: a record without a value on one fails the test.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    matches: list[tuple[bytes | None, bytes]] = []

    def take(messages: list[ConsumerRecord]) -> None:
        for message in messages:
            if message.value is None:
                raise AssertionError(f"a record without a value on {topic} at offset {message.offset}")
            if wanted(message.key, message.value):
                matches.append((message.key, message.value))

    try:
        partitions = None
        deadline = time.monotonic() + timeout
        while not partitions:
            await refresh_metadata(consumer)
            partitions = consumer.partitions_for_topic(topic)
            if not partitions and time.monotonic() > deadline:
                raise AssertionError(f"topic {topic} never appeared")
            if not partitions:
                await asyncio.sleep(0.1)
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        while len(matches) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"only {len(matches)} of {count} matching records on {topic} after {timeout}s"
                )
            for messages in (await consumer.getmany(timeout_ms=300)).values():
                take(messages)
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            if not batch:
                break
            for messages in batch.values():
                take(messages)
    finally:
        await consumer.stop()
    return matches
