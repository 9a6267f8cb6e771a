"""Records sent a batch at a time: one producer batch per topic partition instead of one send per record.

``AIOKafkaProducer.send`` costs about 9 µs of CPU per record (partitioning, a future per
message, a coroutine chain); appending to a record batch costs about 1 µs. The worker
collects everything one fetch's records produce (outputs, dead-letters, forwarded
touchpoints, changelog records) in an ``Outbox``, then hands the producer one closed batch
per topic partition (``flush``). Each batch's future is done when the broker has the batch;
the state writer waits for those futures before it writes the states the batch's records
changed (``streams.runtime.state_writer``).

A record without a partition goes where the producer's default partitioner would put it
(murmur2 of the key, as the Java client and Faust do), so consumers keyed by customer find
every record of a customer in one partition, whichever path produced it.

It is the same producer Faust flushes before every offset commit, so a committed offset
still means that the records sent for its events are acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import KafkaError
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.structs import TopicPartition
from faust.exceptions import ProducerSendError
from faust.types import AppT

from streams.partitioner import partition_for
from streams.runtime.faust_private import direct_producer

__all__ = ["BATCH_BYTES", "Outbox", "Sent"]

#: Largest record batch the outbox builds. The producer keeps one batch per partition in flight, so
#: bigger batches mean fewer round trips per fetch; Kafka's default limit for a batch is 1 MiB.
BATCH_BYTES = 512 * 1024
#: Kafka's codes for the record batch compression a Faust app may be configured with.
COMPRESSION_CODES = {None: 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
#: The Kafka client's producer log: its ``send`` logs every record there at debug level. The outbox adds
#: records to batches without ``send``, so it logs the same line there itself (streams/redaction.py
#: replaces the record's contents with their sizes).
_client_log = logging.getLogger("aiokafka.producer.producer")
#: Headers of a record: (name, value) pairs.
Headers = Sequence[tuple[str, bytes]]


@dataclass(slots=True)
class Sent:
    """One batch handed to the producer: where it went, how many records, and the broker's answer."""

    topic: str
    partition: int
    records: int
    #: Done when the broker has acknowledged the batch; its result is the batch's RecordMetadata
    #: (the offset is the first record's).
    future: asyncio.Future[Any]
    #: (position in the batch, headers) of each record added as settled (``Outbox.add``), if any.
    settled: list[tuple[int, Headers]] | None = None


class Outbox:
    """Records to send, collected per topic partition until ``flush`` hands them to the producer."""

    def __init__(self, app: AppT, batch_bytes: int = BATCH_BYTES) -> None:
        self._app = app
        self._batch_bytes = batch_bytes
        self._compression = COMPRESSION_CODES[app.conf.producer_compression_type]
        self._open: dict[tuple[str, int], list[BatchBuilder]] = {}
        #: id of an open batch → (position, headers) of the records added to it as settled.
        self._settled: dict[int, list[tuple[int, Headers]]] = {}
        #: Records waiting for their topic's partition count (first records to a topic not yet known).
        self._unplaced: list[tuple[str, bytes | None, bytes | None, float | None, Headers]] = []
        #: Partitions per topic, as far as known.
        self.partitions: dict[str, int] = {}
        self._records = 0

    def __len__(self) -> int:
        """Records added since the last flush."""
        return self._records

    def add(
        self,
        topic: str,
        *,
        key: bytes | None,
        value: bytes | None,
        partition: int | None = None,
        timestamp: float | None = None,
        headers: Headers = (),
        settled: bool = False,
    ) -> None:
        """Add a record for *topic*: *partition* (None: by its key), *timestamp* in epoch seconds (None: now).

        A *value* of None is a tombstone (a deleted key on a compacted topic). A *settled* record needs
        nothing more when this worker reads it back: ``Sent.settled`` says where it is in its batch (a
        record added before its topic's size is known goes out as any other)."""
        self._records += 1
        if partition is None:
            count = self.partitions.get(topic)
            if count is None:
                self._unplaced.append((topic, key, value, timestamp, headers))
                return
            partition = partition_for(key, count) if key is not None else random.randrange(count)
        self._append(topic, partition, key, value, timestamp, headers, settled)

    async def learn(self, topics: Iterable[str]) -> None:
        """Know how many partitions each of *topics* has (asks the broker for those not known yet)."""
        for topic in topics:
            if topic not in self.partitions:
                self.partitions[topic] = len(await direct_producer(self._app).partitions_for(topic))

    def partition_of(self, topic: str, key: bytes) -> int | None:
        """The partition a record of *topic* with *key* goes to (None until the topic's size is known)."""
        count = self.partitions.get(topic)
        return None if count is None else partition_for(key, count)

    def _append(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        timestamp: float | None,
        headers: Headers,
        settled: bool = False,
    ) -> None:
        if _client_log.isEnabledFor(logging.DEBUG):
            _client_log.debug("Sending (key=%s value=%s) to %s", key, value, TopicPartition(topic, partition))
        builders = self._open.get((topic, partition))
        if builders is None:
            builders = self._open[(topic, partition)] = [self._builder()]
        stamp = int(timestamp * 1000) if timestamp else None
        appended = builders[-1].append(timestamp=stamp, key=key, value=value, headers=list(headers))
        if appended is None:
            builders.append(self._builder())
            appended = builders[-1].append(timestamp=stamp, key=key, value=value, headers=list(headers))
        if settled:
            # The metadata's offset is the record's position in its batch.
            self._settled.setdefault(id(builders[-1]), []).append((appended.offset, headers))

    def _builder(self) -> BatchBuilder:
        return BatchBuilder(self._batch_bytes, self._compression)

    async def flush(self) -> list[Sent]:
        """Hand every collected record to the producer, a batch per topic partition, in the order added.

        Waits only where the producer already holds a batch of the same partition that it has not
        put on the wire yet; returns the batches, whose futures complete on the broker's acknowledgement.
        """
        if not self._records:
            return []
        producer = direct_producer(self._app)
        if self._unplaced:
            unplaced, self._unplaced = self._unplaced, []
            for topic in {item[0] for item in unplaced}:
                self.partitions[topic] = len(await producer.partitions_for(topic))
            for topic, key, value, timestamp, headers in unplaced:
                count = self.partitions[topic]
                partition = partition_for(key, count) if key is not None else random.randrange(count)
                self._append(topic, partition, key, value, timestamp, headers)
        opened, self._open = self._open, {}
        # Taken with the batches: an id is unique only while its batch lives.
        settled_in, self._settled = self._settled, {}
        self._records = 0
        sent: list[Sent] = []
        for (topic, partition), builders in opened.items():
            for builder in builders:
                # Closed: the producer sends it at once instead of waiting its linger for more records.
                builder.close()
                try:
                    future = await producer.send_batch(builder, topic, partition=partition)
                except KafkaError as exc:
                    raise ProducerSendError(f"Error while sending to {topic}: {exc!r}") from exc
                settled = settled_in.get(id(builder))
                sent.append(Sent(topic, partition, builder.record_count(), future, settled))
        return sent
