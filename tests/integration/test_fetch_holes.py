"""Producers writing one partition at once: a reader following it live skips no record.

The embedded broker numbers a batch before it stores it, so a fetch can show a later producer's
batch without an earlier one's (streams/fetch_holes.py). Eight producers and about 36,000 records
show such a hole a few times a run on this broker; a reader that moved past one would never read
its records.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams import metrics, topics
from streams.kafka import consume, producer
from streams.local.broker import EmbeddedBroker
from tests.kafka_helpers import PARTITIONS, create_topic

pytestmark = pytest.mark.integration

PRODUCERS = 8
#: Sends per producer, of RECORDS records each, every send waiting for the one before.
SENDS = 1500
RECORDS = 3
TOPIC = topics.BY_CUSTOMER


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker of this test's own: it writes records no worker of the session could read."""
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as running:
        yield running


async def _write(bootstrap: str, number: int) -> None:
    async with producer(bootstrap) as client:
        for send in range(SENDS):
            sent = [
                await client.send(
                    TOPIC, b"%d:%d:%d" % (number, send, record), key=b"p%d" % number, partition=0
                )
                for record in range(RECORDS)
            ]
            await asyncio.gather(*sent)


async def _follow(bootstrap: str, total: int) -> list[int]:
    """The offsets of partition 0 that a reader following it live gets, once the writers are done."""
    offsets: list[int] = []
    stop = asyncio.Event()
    positioned = asyncio.Event()

    async def read() -> None:
        async for record in consume(bootstrap, [TOPIC], stop=stop, on_positioned=lambda: _set(positioned)):
            if record.partition == 0:
                offsets.append(record.offset)

    reader = asyncio.create_task(read())
    await asyncio.wait_for(positioned.wait(), 60)
    await asyncio.gather(*(_write(bootstrap, number) for number in range(PRODUCERS)))
    deadline = time.monotonic() + 120
    while (not offsets or offsets[-1] < total - 1) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stop.set()
    await reader
    return offsets


async def _set(event: asyncio.Event) -> None:
    event.set()


def test_a_live_reader_of_a_partition_many_producers_write_skips_no_record(broker: EmbeddedBroker) -> None:
    total = PRODUCERS * SENDS * RECORDS
    asyncio.run(create_topic(broker.bootstrap, TOPIC, PARTITIONS))
    filled = metrics.FETCH_HOLES.labels("filled")._value.get()
    stepped_over = metrics.FETCH_HOLES.labels("stepped_over")._value.get()
    offsets = asyncio.run(_follow(broker.bootstrap, total))
    holes = metrics.FETCH_HOLES.labels("filled")._value.get() - filled
    print(f"{total:,} records from {PRODUCERS} producers: {holes:.0f} holes fetched again")
    skipped = sorted(set(range(total)) - set(offsets))
    assert not skipped, f"{len(skipped)} records never read, from offset {skipped[0]}: {skipped[:12]}"
    assert offsets == list(range(total))
    assert metrics.FETCH_HOLES.labels("stepped_over")._value.get() == stepped_over
