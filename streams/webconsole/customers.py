"""What the console shows about one customer: state from a worker, recent touchpoints from the topic.

Stateless, so several consoles can run side by side: the customer's state comes from any
worker's ``GET /customers/{id}`` (which forwards to the owner), and their recent
touchpoints are read back from their partition of ``touchpoints.enriched`` on each
request, at most ``console_touchpoint_scan`` records from its end.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any, Final
from urllib.parse import quote

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from streams import topics
from streams.kafka import Connection, connection, start_client
from streams.partitioner import partition_for
from streams.runtime.faust_private import refresh_metadata

#: Most recent touchpoints shown.
RECENT: Final = 20
#: A read-back gives up after this long, with what it has (a busy partition, a slow broker).
SCAN_TIME_LIMIT_S: Final = 5.0


class CustomerUnavailable(RuntimeError):
    """No worker answered for the customer's state."""


async def customer_state(
    session: aiohttp.ClientSession, worker_url: str, customer_id: str
) -> dict[str, Any] | None:
    """The worker's document for *customer_id*, None for an unknown customer."""
    url = f"{worker_url.rstrip('/')}/customers/{quote(customer_id, safe='')}"
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as response:
            if response.status == 404:
                return None
            if response.status != 200:
                raise CustomerUnavailable(f"the worker answered {response.status} for the customer's state")
            document: dict[str, Any] = orjson.loads(await response.read())
            return document
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise CustomerUnavailable(f"no worker answers at {worker_url} ({type(exc).__name__})") from None


async def recent_touchpoints(
    bootstrap: Connection | str, customer_id: str, scan: int, limit: int = RECENT
) -> list[dict[str, Any]]:
    """The customer's last *limit* enriched touchpoints among the last *scan* records of their partition,
    newest first."""
    if scan <= 0:
        return []
    key = customer_id.encode()
    target = connection(bootstrap)
    consumer = AIOKafkaConsumer(enable_auto_commit=False, fetch_max_wait_ms=100, **target.client_options())
    await start_client(consumer, target)
    found: deque[dict[str, Any]] = deque(maxlen=limit)
    try:
        partitions = consumer.partitions_for_topic(topics.ENRICHED)
        if not partitions:
            await refresh_metadata(consumer)
            partitions = consumer.partitions_for_topic(topics.ENRICHED)
        if not partitions:
            return []
        tp = TopicPartition(topics.ENRICHED, partition_for(key, len(partitions)))
        consumer.assign([tp])
        first = (await consumer.beginning_offsets([tp]))[tp]
        end = (await consumer.end_offsets([tp]))[tp]
        consumer.seek(tp, max(first, end - scan))
        deadline = time.monotonic() + SCAN_TIME_LIMIT_S
        while time.monotonic() < deadline:
            batch = await consumer.getmany(tp, timeout_ms=300, max_records=5000)
            for message in batch.get(tp, ()):
                if message.key == key and message.value:
                    try:
                        found.append(orjson.loads(message.value))
                    except orjson.JSONDecodeError:
                        continue
            # The fetch's high watermark is the partition's true end (the ListOffsets answer may not be).
            highwater = consumer.highwater(tp)
            if highwater is not None and await consumer.position(tp) >= highwater:
                break
            if not batch:
                await asyncio.sleep(0)
    finally:
        await consumer.stop()
    return list(reversed(found))
