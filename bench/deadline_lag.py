"""Deadline-firing lag, live: how long after an SLA deadline its alert reaches a consumer.

    .venv/bin/python bench/deadline_lag.py --seconds 40 --rate 200

A fresh embedded broker and one worker; support is never open and chat inquiries
must be answered within 12 s on call. For --seconds, the script produces --rate
touchpoints per second stamped with the wall clock (page views of 2,000 customers,
plus 5 unanswered inquiries per second from new customers), then stops. Each alert's lag is
the time a plain consumer receives it minus its deadline. Deadlines that fall while
traffic flows fire on the partition's watermark (which trails by the allowed
lateness, 2 s by default); those after the traffic stops fire from the wall-clock
sweep once the partition is quiet. Both are reported, p50 and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from common import record

from streams import topics
from streams.local.broker import EmbeddedBroker, free_port
from streams.local.supervisor import WorkerProcess
from streams.runtime.faust_private import refresh_metadata

DEADLINE_SECONDS = 12
RULES = f"""
[calendars.default]
timezone = "Europe/Berlin"
hours = {{}}
[calendar_selection]
channels = {{}}
[sla]
warn_before_minutes = 0
[sla.channels.chat]
target_minutes = 15
after_hours = "on_call"
on_call_minutes = {DEADLINE_SECONDS / 60}
[alerts.cooldown_minutes]
default = 0
"""


def _event(customer: str, kind: str, **extra: object) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "event_id": uuid.uuid4().hex,
            "occurred_at": datetime.now(UTC).isoformat(),
            "customer_id": customer,
            "channel": "chat" if kind == "inquiry" else "web",
            "type": kind,
            "actor": "customer",
            **extra,
        }
    )


async def _traffic(bootstrap: str, seconds: float, rate: int) -> tuple[int, float]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    inquiries = 0
    started = time.time()
    try:
        for second in range(int(seconds)):
            for number in range(rate):
                if number < 5:
                    customer = f"lag-{uuid.uuid4().hex[:10]}"
                    value = _event(customer, "inquiry", conversation_id="c")
                    inquiries += 1
                else:
                    customer = f"browser-{random.randrange(2000)}"
                    value = _event(customer, "page_view")
                await producer.send(topics.RAW, value, key=customer.encode())
                await asyncio.sleep(max(0.0, started + second + (number + 1) / rate - time.time()))
        await producer.flush()
    finally:
        await producer.stop()
    return inquiries, time.time()


async def _measure(bootstrap: str, seconds: float, rate: int) -> tuple[list[float], list[float]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50)
    await consumer.start()
    name = topics.alert_topic("after_hours_unanswered")
    await refresh_metadata(consumer)
    partitions = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or ()]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    traffic = asyncio.create_task(_traffic(bootstrap, seconds, rate))
    during: list[float] = []
    after: list[float] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.time()
            for messages in batch.values():
                for message in messages:
                    alert = orjson.loads(message.value)
                    if alert["status"] != "open":
                        continue
                    deadline = datetime.fromisoformat(alert["details"]["deadline"]).timestamp()
                    ended = traffic.result()[1] if traffic.done() else None
                    (during if ended is None or deadline < ended else after).append(now - deadline)
            if traffic.done():
                inquiries, _ = traffic.result()
                if len(during) + len(after) >= inquiries:
                    return during, after
                if now > traffic.result()[1] + DEADLINE_SECONDS + 60:
                    raise SystemExit(f"only {len(during) + len(after)} of {inquiries} alerts arrived")
    finally:
        await consumer.stop()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tp-bench-") as workdir, EmbeddedBroker() as broker:
        rules = Path(workdir) / "rules.toml"
        rules.write_text(RULES)
        worker = WorkerProcess(
            broker.url, free_port(), Path(workdir) / "w", extra_args=["--config", str(rules)]
        ).start()
        try:
            worker.wait_ready()
            during, after = asyncio.run(_measure(broker.bootstrap, args.seconds, args.rate))
        finally:
            worker.stop()
    text = (
        f"under traffic (watermark, {len(during)} alerts): p50 {statistics.median(during):.2f} s, "
        f"p99 {_pct(during, 0.99):.2f} s; quiet (wall-clock sweep, {len(after)} alerts): "
        f"p50 {statistics.median(after):.2f} s, p99 {_pct(after, 0.99):.2f} s"
    )
    print(text)
    if not args.no_record:
        record(
            "deadline lag",
            f"{args.rate} events/s for {args.seconds:.0f} s, 5 unanswered inquiries/s, 12 s on-call deadline",
            text,
            f"python bench/deadline_lag.py --seconds {args.seconds:.0f} --rate {args.rate}",
        )


if __name__ == "__main__":
    main()
