"""Shared pieces of the benchmarks: output timing from broker timestamps, and the results file."""

from __future__ import annotations

import os
import platform
import secrets
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from streams import fetch_holes
from streams.runtime.faust_private import refresh_metadata
from streams.worker_metrics import core_description

ROOT = Path(__file__).resolve().parent.parent
#: How mypyc names a compiled function in C (native profiles): the function itself, and its wrapper taking
#: Python arguments (``CPyDef_track___JourneyTracker___track``, ``CPyPy_…``).
COMPILED_PREFIXES = ("CPyDef_", "CPyPy_")
RESULTS = ROOT / "bench" / "RESULTS.md"

# Workers started by a benchmark share one secret for their timer ticks, as the workers of one app must,
# and one identity key (a worker refuses to start without one).
os.environ.setdefault("TOUCHPOINT_CONTROL_SECRET", secrets.token_hex(32))
os.environ.setdefault("TOUCHPOINT_IDENTITY_SALT", secrets.token_hex(32))
# The benchmarks read outputs several workers write with plain consumers: they too fetch a hole in a
# partition's offsets again instead of moving past it (streams/fetch_holes.py).
fetch_holes.install()


async def output_span(
    bootstrap: str, topics: Iterable[str], expected: int, time_limit: float
) -> tuple[int, float]:
    """Read *topics* until *expected* records; return (count, seconds from the first to the last record).

    Broker timestamps are the producer's create time, so the span excludes
    start-up and measures processing only.
    """
    seen, first, last = await output_times(bootstrap, topics, expected, time_limit)
    return seen, last - first


async def output_times(
    bootstrap: str, topics: Iterable[str], expected: int, time_limit: float
) -> tuple[int, float, float]:
    """Read *topics* until *expected* records; return (count, first and last timestamp, epoch seconds)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100)
    await consumer.start()
    try:
        partitions: list[TopicPartition] = []
        for topic in topics:
            await refresh_metadata(consumer)
            ids = consumer.partitions_for_topic(topic) or set()
            partitions.extend(TopicPartition(topic, p) for p in ids)
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


def record(benchmark: str, workload: str, result: str, command: str) -> None:
    """Append one row to bench/RESULTS.md with the date, machine and commit."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Benchmark results\n\nAppended by the scripts in `bench/`; each row names its command.\n\n"
            "| date | benchmark | input | result | machine | commit | command |\n"
            "| --- | --- | --- | --- | --- | --- | --- |\n"
        )
    # The interpreter too: builds of one Python version differ by up to 30 %
    # (docs/development.md#the-interpreter).
    interpreter = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    # And the core's build: the profile-guided one takes 8-15 % less CPU (docs/development.md).
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()} ({interpreter}), "
        f"core {core_description()}"
    )
    with RESULTS.open("a") as handle:
        handle.write(
            f"| {datetime.now(UTC):%Y-%m-%d} | {benchmark} | {workload} | {result} | {machine} | "
            f"{commit.stdout.strip() or '-'} | `{command}` |\n"
        )
