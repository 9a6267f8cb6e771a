"""Ingest throughput on the embedded broker: raw touchpoints → by-customer / dead-letter.

    .venv/bin/python bench/ingest_throughput.py --events 50000 --runs 3

Each run: a fresh embedded broker, the simulator's records pre-produced to
`touchpoints`, then one worker started. Throughput is counted from the first to
the last output record (their broker timestamps), so worker start-up and the
group join are excluded. Prints the median of the runs and appends it to
bench/RESULTS.md with the date, machine and commit.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from streams import topics
from streams.broker import EmbeddedBroker, free_port
from streams.kafka import produce
from streams.simulator import SimulationSpec, generate
from streams.supervisor import WorkerProcess

ROOT = Path(__file__).resolve().parent.parent


async def _count_outputs(bootstrap: str, expected: int, time_limit: float) -> tuple[int, float, float]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(name, p) for name in (topics.BY_CUSTOMER, topics.DEAD_LETTER) for p in range(4)
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen, first, last = 0, float("inf"), 0.0
        deadline = time.monotonic() + time_limit
        while seen < expected and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=500, max_records=10000)).values():
                for message in messages:
                    seen += 1
                    first = min(first, message.timestamp / 1000)
                    last = max(last, message.timestamp / 1000)
        return seen, first, last
    finally:
        await consumer.stop()


def one_run(events: int, seed: int) -> float:
    with tempfile.TemporaryDirectory(prefix="tp-bench-") as workdir, EmbeddedBroker() as broker:
        records = list(
            itertools.islice(generate(SimulationSpec(customers=max(100, events // 10), seed=seed)), events)
        )
        asyncio.run(produce(broker.bootstrap, topics.RAW, records))
        worker = WorkerProcess(broker.url, free_port(), Path(workdir)).start()
        try:
            worker.wait_ready()
            seen, first, last = asyncio.run(_count_outputs(broker.bootstrap, events, time_limit=600))
        finally:
            worker.stop()
        if seen < events:
            raise SystemExit(f"only {seen} of {events} records came out; see {worker.log_path}")
        return (seen - 1) / (last - first)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    args = parser.parse_args()
    rates = []
    for run in range(args.runs):
        rate = one_run(args.events, seed=run + 1)
        rates.append(rate)
        print(f"run {run + 1}: {rate:,.0f} events/s")
    median = statistics.median(rates)
    print(f"median of {args.runs}: {median:,.0f} events/s")
    if not args.no_record:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        )
        line = (
            f"| {datetime.now(UTC):%Y-%m-%d} | ingest throughput | {args.events:,} events | "
            f"{median:,.0f} events/s (median of {args.runs}: {', '.join(f'{r:,.0f}' for r in rates)}) | "
            f"{platform.machine()}, {os.cpu_count()} cores | {commit.stdout.strip() or '-'} | "
            f"`python bench/ingest_throughput.py --events {args.events} --runs {args.runs}` |\n"
        )
        results = ROOT / "bench" / "RESULTS.md"
        if not results.exists():
            results.write_text(
                "# Benchmark results\n\nAppended by the scripts in bench/; each row names its command.\n\n"
                "| date | benchmark | input | result | machine | commit | command |\n"
                "| --- | --- | --- | --- | --- | --- | --- |\n"
            )
        with results.open("a") as handle:
            handle.write(line)


if __name__ == "__main__":
    main()
