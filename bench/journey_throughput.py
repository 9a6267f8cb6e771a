"""Journey throughput and state size on the embedded broker.

    .venv/bin/python bench/journey_throughput.py --events 50000 --runs 3

Each run: a fresh embedded broker; the simulator's traffic, decoded and
normalised offline, pre-produced to `touchpoints.by-customer` keyed by customer
(so ingest is idle); then one worker. Throughput counts enriched events from
the first to the last (broker timestamps: start-up and the group join are
excluded). Afterwards the changelog of `customer_to_state` is read back: the
latest record of every customer gives the bytes per customer, overall and for
customers with 45-55 touchpoints.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from common import output_span, record

from agents.ingest.decode import Accepted, TouchpointDecoder
from streams import topics
from streams.local.broker import EmbeddedBroker, free_port
from streams.local.supervisor import WorkerProcess
from streams.runtime.faust_private import refresh_metadata
from streams.settings import Settings
from streams.sim import SimulationSpec, generate

CHANGELOG = "touchpoint-customer_to_state-changelog"


async def _produce_keyed(bootstrap: str, events: list[Accepted]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for event in events:
            await producer.send(topics.BY_CUSTOMER, event.body, key=event.customer_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def _latest_states(bootstrap: str) -> dict[bytes, bytes]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100)
    await consumer.start()
    latest: dict[bytes, bytes] = {}
    try:
        await refresh_metadata(consumer)
        partitions = [TopicPartition(CHANGELOG, p) for p in consumer.partitions_for_topic(CHANGELOG) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        while True:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10000)
            if not batch:
                return latest
            for messages in batch.values():
                for message in messages:
                    latest[message.key] = message.value
    finally:
        await consumer.stop()


def one_run(events: int, seed: int) -> tuple[float, dict[bytes, bytes]]:
    decoder = TouchpointDecoder(identity_salt=Settings.from_env().identity_key)
    spec = SimulationSpec(customers=max(100, events // 25), seed=seed, malformed_share=0.0)
    accepted = [o for o in map(decoder, itertools.islice(generate(spec), events)) if isinstance(o, Accepted)]
    with tempfile.TemporaryDirectory(prefix="tp-bench-") as workdir, EmbeddedBroker() as broker:
        asyncio.run(_produce_keyed(broker.bootstrap, accepted))
        worker = WorkerProcess(broker.url, free_port(), Path(workdir)).start()
        try:
            worker.wait_ready()
            # Duplicates from the simulator yield no enriched event: expect the distinct ids.
            distinct = len({(o.customer_id, o.event["event_id"]) for o in accepted})
            seen, span = asyncio.run(output_span(broker.bootstrap, [topics.ENRICHED], distinct, 900))
            states = asyncio.run(_latest_states(broker.bootstrap))
        finally:
            worker.stop()
        if seen < distinct:
            raise SystemExit(f"only {seen} of {distinct} enriched events; see {worker.log_path}")
        return (seen - 1) / span, states


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    args = parser.parse_args()
    rates = []
    states: dict[bytes, bytes] = {}
    for run in range(args.runs):
        rate, states = one_run(args.events, seed=run + 1)
        rates.append(rate)
        print(f"run {run + 1}: {rate:,.0f} events/s")
    median = statistics.median(rates)
    sizes = sorted(len(value) for value in states.values())
    around_50 = sorted(len(v) for v in states.values() if 45 <= orjson.loads(v).get("n", 0) <= 55)
    size_text = (
        f"{len(sizes):,} customers: median {sizes[len(sizes) // 2]} B, p90 {sizes[int(len(sizes) * 0.9)]} B, "
        f"max {sizes[-1]} B; 45-55 touchpoints ({len(around_50)}): median "
        f"{around_50[len(around_50) // 2] if around_50 else '-'} B, max {around_50[-1] if around_50 else '-'} B"
    )
    print(f"median of {args.runs}: {median:,.0f} events/s")
    print(f"state in the changelog: {size_text}")
    if not args.no_record:
        command = f"python bench/journey_throughput.py --events {args.events} --runs {args.runs}"
        runs = ", ".join(f"{r:,.0f}" for r in rates)
        record(
            "journey throughput",
            f"{args.events:,} simulator events",
            f"{median:,.0f} events/s (median of {args.runs}: {runs})",
            command,
        )
        record("state size", f"changelog after {args.events:,} events", size_text, command)


if __name__ == "__main__":
    main()
