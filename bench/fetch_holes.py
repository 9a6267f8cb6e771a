"""Holes in a fetch on the embedded broker: records a live reader skips without the check, and its cost.

    .venv/bin/python bench/fetch_holes.py --producers 8 --sends 1500 --runs 3

Each run starts a broker of its own, has --producers producers write --sends batches of 3 records
each to partition 0 of touchpoints.by-customer at once, and has a reader follow the partition live
from the start: once with aiokafka's records as they come, once through the hole check
(streams/fetch_holes.py), in alternating order. It reports the records each reader never got and
the holes the checked reader fetched again. Then, in one process, the CPU of reading 1,000 fetched
batches of 1, 3 and 50 records with and without the check (best of 5 rounds of 20).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import struct
import time
import timeit
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer
from aiokafka.consumer import fetcher
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition
from common import record

from streams import fetch_holes, metrics, topics
from streams.kafka import producer
from streams.local.broker import EmbeddedBroker
from streams.runtime.declare import create_missing_topics
from streams.topics import TopicSpec

TOPIC = topics.BY_CUSTOMER
RECORDS = 3
#: aiokafka's own class (bench/common.py installs the check at import).
UNCHECKED = fetch_holes._PartitionRecords.__base__


async def _write(bootstrap: str, number: int, sends: int) -> None:
    async with producer(bootstrap) as client:
        for send in range(sends):
            sent = [
                await client.send(TOPIC, b"%d:%d:%d" % (number, send, n), key=b"p%d" % number, partition=0)
                for n in range(RECORDS)
            ]
            await asyncio.gather(*sent)


async def _run(producers: int, sends: int) -> tuple[int, float]:
    """Records a live reader of partition 0 never got, and seconds until it had them all or gave up."""
    total = producers * sends * RECORDS
    with EmbeddedBroker() as broker:
        await create_missing_topics([TopicSpec(TOPIC, 4)], {"bootstrap_servers": broker.bootstrap})
        seen: set[int] = set()
        stop = asyncio.Event()
        positioned = asyncio.Event()

        async def read() -> None:
            # A plain consumer: it reads with whichever records class main() put in place.
            consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, fetch_max_wait_ms=100)
            await consumer.start()
            try:
                partition = TopicPartition(TOPIC, 0)
                consumer.assign([partition])
                await consumer.seek_to_beginning(partition)
                await consumer.position(partition)
                positioned.set()
                while not stop.is_set():
                    for messages in (await consumer.getmany(timeout_ms=200)).values():
                        seen.update(message.offset for message in messages)
            finally:
                await consumer.stop()

        reader = asyncio.create_task(read())
        await positioned.wait()
        started = time.monotonic()
        await asyncio.gather(*(_write(broker.bootstrap, n, sends) for n in range(producers)))
        # The reader has everything, or has moved past what it skipped: it gets nothing more.
        quiet_since = time.monotonic()
        count = len(seen)
        while len(seen) < total and time.monotonic() - quiet_since < 3.0:
            await asyncio.sleep(0.05)
            if len(seen) != count:
                count, quiet_since = len(seen), time.monotonic()
        seconds = time.monotonic() - started
        stop.set()
        await reader
    return total - len(seen), seconds


def _batches(size: int, count: int = 1000) -> bytes:
    builder = DefaultRecordBatchBuilder(2, 0, 0, -1, -1, -1, 1 << 20)
    for delta in range(size):
        builder.append(delta, timestamp=None, key=b"cust-000123", value=b"x" * 300, headers=[])
    built = bytes(builder.build())
    return b"".join(struct.pack(">q", n * size) + built[8:] for n in range(count))


def _read_costs(data: bytes, rounds: int = 7) -> tuple[float, float]:
    """Seconds to read *data*'s batches without and with the check: the best of *rounds*, alternating."""
    tp = TopicPartition(TOPIC, 0)

    def reader(cls: type) -> Callable[[], None]:
        def read() -> None:
            for _ in cls(tp, MemoryRecords(data), [], 0, None, None, False, fetcher.READ_UNCOMMITTED):
                pass

        return read

    plain, checked = reader(UNCHECKED), reader(fetch_holes._PartitionRecords)
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        times[0].append(timeit.timeit(plain, number=20) / 20)
        times[1].append(timeit.timeit(checked, number=20) / 20)
    return min(times[0]), min(times[1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--producers", type=int, default=8)
    parser.add_argument("--sends", type=int, default=1500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    args = parser.parse_args()
    skipped: dict[str, list[int]] = {"unchecked": [], "checked": []}
    filled: list[float] = []
    for number in range(args.runs):
        for name in ("unchecked", "checked") if number % 2 == 0 else ("checked", "unchecked"):
            fetcher.PartitionRecords = UNCHECKED if name == "unchecked" else fetch_holes._PartitionRecords
            before = metrics.FETCH_HOLES.labels("filled")._value.get()
            missed, seconds = asyncio.run(_run(args.producers, args.sends))
            if name == "checked":
                filled.append(metrics.FETCH_HOLES.labels("filled")._value.get() - before)
            skipped[name].append(missed)
            print(f"run {number + 1} {name:<9}: {missed} records never read ({seconds:.1f} s)", flush=True)
    costs = []
    for size in (1, 3, 50):
        data = _batches(size)
        plain, checked = _read_costs(data)
        costs.append(
            f"batches of {size}: {plain / size * 1e3:.2f} → {checked / size * 1e3:.2f} µs a record"
            f" ({(checked - plain) * 1e3:+.2f} µs a batch)"
        )
    total = args.producers * args.sends * RECORDS
    text = (
        f"records a live reader never got, per run: without the check {skipped['unchecked']},"
        f" with it {skipped['checked']} (holes fetched again: {[round(f) for f in filled]});"
        f" reading fetched batches: {'; '.join(costs)}"
    )
    print(text)
    print(f"median skipped without the check: {statistics.median(skipped['unchecked'])} of {total:,}")
    if not args.no_record:
        record(
            "fetch holes (embedded broker)",
            f"{args.producers} producers × {args.sends} sends of {RECORDS} records to one partition, a live"
            f" reader; {args.runs} runs each way, alternating",
            text,
            f"python bench/fetch_holes.py --producers {args.producers} --sends {args.sends} --runs {args.runs}",
        )


if __name__ == "__main__":
    main()
