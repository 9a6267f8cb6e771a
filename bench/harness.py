"""Shared pieces of the end-to-end benchmarks: a pre-produced simulator stream, and processes measured
by their own counters and CPU time.

A measurement polls a counter of records fully processed (for the worker: touchpoints applied,
duplicates dropped and dead-letters, which add up to every raw record) and the CPU time of the
processes doing the work. The span runs from the first poll that sees progress to the first poll
that sees the final count, so start-up, the group join and table recovery are excluded; the
records counted are those between the two polls.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition

from agents.ingest.decode import Accepted, TouchpointDecoder
from streams import topics
from streams.kafka import produce
from streams.local.supervisor import WorkerProcess
from streams.runtime.faust_private import refresh_metadata
from streams.settings import Settings
from streams.sim import SimulationSpec, generate

#: Counters that together count each raw record once: applied, dropped as a duplicate, dead-lettered.
PROCESSED = (
    "touchpoint_journey_events_total",
    "touchpoint_duplicate_events_total",
    "touchpoint_dead_letters_total",
)
CHANGELOG = "touchpoint-customer_to_state-changelog"
_TICKS = os.sysconf("SC_CLK_TCK")
#: A process that has processed nothing this long after it was started is stuck (start-up takes ~10 s).
START_LIMIT_S = 180.0


@dataclass(frozen=True)
class Stream:
    """A simulator stream as produced to the raw topic."""

    records: int
    customers: int
    #: Distinct accepted events: what the journey applies.
    applied: int
    mean_bytes: float


@dataclass(frozen=True)
class Span:
    """Progress between two polls, and the CPU the measured processes spent meanwhile."""

    records: float
    seconds: float
    cpu_seconds: float
    #: CPU seconds of other processes watched alongside (the broker), same interval.
    other_cpu_seconds: float = 0.0
    #: Of cpu_seconds, the part spent in the kernel (socket writes and reads, mostly).
    system_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us(self) -> float:
        """CPU microseconds per record of the measured processes."""
        return self.cpu_seconds / self.records * 1e6 if self.records else float("nan")

    @property
    def other_cpu_us(self) -> float:
        return self.other_cpu_seconds / self.records * 1e6 if self.records else float("nan")


#: bench/hooks/sitecustomize.py, loaded by workers started with hooked_env().
HOOKS = Path(__file__).resolve().parent / "hooks"
#: Faust's own defaults, which the worker overrides: its worker sets the root logger to DEBUG (for its
#: terminal spinner) and its producer sends at once (linger 0). Forced through the environment:
#: bench/hooks for the root logger, Faust's own PRODUCER_LINGER setting (seconds) for the linger.
FAUST_DEBUG_ROOT = {"TOUCHPOINT_BENCH_ROOT_LEVEL": "DEBUG"}
WARNING_ROOT = {"TOUCHPOINT_BENCH_ROOT_LEVEL": "WARNING"}
NO_LINGER = {"PRODUCER_LINGER": "0"}
LINGER_5MS = {"PRODUCER_LINGER": "0.005"}


def worker_config() -> str:
    """The worker's logging and linger set-up in this working tree, for the results rows."""
    import streams.worker

    linger = getattr(Settings(), "producer_linger_ms", 0)
    own = hasattr(streams.worker, "Worker")
    return f"worker: producer linger {linger} ms, root logger {'at its level' if own else 'DEBUG (faust.Worker)'}"


def hooked_env(env: dict[str, str]) -> dict[str, str]:
    """*env* for a worker process, with bench/hooks on its PYTHONPATH."""
    path = os.pathsep.join(p for p in (str(HOOKS), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, **env}


def simulator_records(events: int, seed: int, customers: int | None = None) -> tuple[list[bytes], Stream]:
    """*events* simulator records (1 % malformed, duplicates included) for *customers* (default events / 10)."""
    customers = customers or max(100, events // 10)
    records = list(itertools.islice(generate(SimulationSpec(customers=customers, seed=seed)), events))
    decoder = TouchpointDecoder(identity_salt=Settings.from_env().identity_key)
    applied = {
        (outcome.customer_id, outcome.event["event_id"])
        for outcome in map(decoder, records)
        if isinstance(outcome, Accepted)
    }
    mean = sum(map(len, records)) / max(len(records), 1)
    return records, Stream(len(records), customers, len(applied), mean)


async def _create(
    bootstrap: str, names: Iterable[str], partitions: int, configs: Mapping[str, str] | None = None
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(n, partitions, 1, topic_configs=dict(configs or {})) for n in names if n not in existing
        ]
        if new:
            await admin.create_topics(new)
    finally:
        await admin.close()


def preproduce(
    bootstrap: str,
    records: Sequence[bytes],
    partitions: int | None = None,
    configs: Mapping[str, str] | None = None,
) -> None:
    """Create the raw topic with the worker's partition count (and *configs*), then send *records* keyed by customer."""
    partitions = partitions or Settings().partitions
    asyncio.run(_create(bootstrap, [topics.RAW], partitions, configs))
    asyncio.run(produce(bootstrap, topics.RAW, records))


def accepted(records: Iterable[bytes]) -> list[tuple[bytes, bytes]]:
    """(customer key, normalised body) of each record ingest accepts: what it sends to by-customer."""
    decoder = TouchpointDecoder(identity_salt=Settings.from_env().identity_key)
    return [
        (outcome.customer_id.encode(), outcome.body)
        for outcome in map(decoder, records)
        if isinstance(outcome, Accepted)
    ]


async def _produce_keyed(bootstrap: str, topic: str, pairs: Sequence[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        pending = []
        for key, value in pairs:
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def preproduce_keyed(bootstrap: str, topic: str, pairs: Sequence[tuple[bytes, bytes]]) -> None:
    """Create *topic* with the worker's partition count and send (key, value) *pairs* to it."""
    asyncio.run(_create(bootstrap, [topic], Settings().partitions))
    asyncio.run(_produce_keyed(bootstrap, topic, pairs))


def cpu_times(pid: int | None) -> tuple[float, float]:
    """User and system CPU seconds of process *pid* (all its threads); zeros if it is gone."""
    if pid is None:
        return 0.0, 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    return int(fields[11]) / _TICKS, int(fields[12]) / _TICKS


def machine_cpu_seconds() -> float:
    """CPU seconds all processes have used since boot (every core; /proc/stat, idle and iowait excluded)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]
    return busy / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class _Poll:
    at: float
    value: float
    user: float
    system: float
    other: float


def measure(
    read: Callable[[], float | None],
    pids: Sequence[int | None],
    expected: float,
    *,
    others: Sequence[int | None] = (),
    time_limit: float = 900.0,
    interval: float = 1.0,
    what: str = "processing",
    on_start: Callable[[], object] | None = None,
) -> Span:
    """Poll *read* (records processed so far; None while unreachable) until it reaches *expected*.

    The span runs from the first poll that sees progress to the last poll before the final
    count, so both ends are instants with exact counts and the idle tail is left out.
    """
    began = time.monotonic()
    deadline = began + time_limit
    start: _Poll | None = None
    previous: _Poll | None = None
    last_change = time.monotonic()
    while True:
        before = time.monotonic()
        value = read()
        now = (before + time.monotonic()) / 2
        times = [cpu_times(p) for p in pids]
        poll = _Poll(
            now,
            -1.0 if value is None else value,
            sum(t[0] for t in times),
            sum(t[1] for t in times),
            sum(sum(cpu_times(p)) for p in others),
        )
        if previous is None or poll.value != previous.value:
            last_change = now
        if start is None and poll.value > 0:
            start = poll
            if on_start is not None:
                on_start()
        if start is not None and poll.value >= expected:
            end = previous if previous is not None and previous.at > start.at else poll
            if end.value <= start.value:
                raise SystemExit(f"{what}: done within one poll of the first progress; use more events")
            return Span(
                end.value - start.value,
                end.at - start.at,
                end.user + end.system - start.user - start.system,
                end.other - start.other,
                end.system - start.system,
            )
        if now > deadline:
            raise SystemExit(f"{what}: {poll.value:,.0f} of {expected:,.0f} records after {time_limit:.0f}s")
        if start is None and now > began + START_LIMIT_S:
            raise SystemExit(f"{what}: no record processed {START_LIMIT_S:.0f}s after start")
        if start is not None and now - last_change > 60:
            raise SystemExit(f"{what}: stuck at {poll.value:,.0f} of {expected:,.0f} records for 60 s")
        previous = poll if start is not None else None
        time.sleep(interval)


def processed(worker: WorkerProcess) -> float | None:
    """Raw records the worker has fully processed (see PROCESSED); None while it does not answer."""
    # Those counters only: the whole page (hundreds of series) cost the worker about 3 % of its CPU
    # at one poll a second, which the naive app's one-number page does not.
    samples = worker.metrics(PROCESSED)
    if not samples:
        return None
    return sum(v for k, v in samples.items() if k.split("{", 1)[0] in PROCESSED)


def measure_worker(
    worker: WorkerProcess,
    stream: Stream,
    broker_pid: int | None,
    time_limit: float = 900.0,
    on_start: Callable[[], object] | None = None,
    expected: float | None = None,
) -> Span:
    """Start-up excluded: from the first processed record to the last, by the worker's own counters."""
    try:
        return measure(
            lambda: processed(worker),
            [worker.pid],
            stream.records if expected is None else expected,
            others=[broker_pid],
            time_limit=time_limit,
            what=f"worker (log {worker.log_path})",
            on_start=on_start,
        )
    except SystemExit as failed:
        # The worker's directory is a temporary one, gone when the benchmark exits: say now what it showed.
        raise SystemExit(
            f"{failed}\nthe worker's /ready: {worker.readiness()}\nits last log lines:\n{worker.log_tail()}"
        ) from None


async def topic_sizes(bootstrap: str, names: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Records and value bytes per topic, read from the beginning (exact on any broker)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100)
    await consumer.start()
    sizes: dict[str, tuple[int, int]] = {}
    try:
        await refresh_metadata(consumer)
        partitions = [
            TopicPartition(name, p) for name in names for p in consumer.partitions_for_topic(name) or ()
        ]
        if not partitions:
            return sizes
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        idle = 0
        while idle < 3:
            batch = await consumer.getmany(timeout_ms=500, max_records=20000)
            idle = 0 if batch else idle + 1
            for tp, messages in batch.items():
                count, size = sizes.get(tp.topic, (0, 0))
                sizes[tp.topic] = (count + len(messages), size + sum(len(m.value or b"") for m in messages))
        return sizes
    finally:
        await consumer.stop()


async def latest_values(bootstrap: str, topic: str) -> dict[bytes, bytes]:
    """The latest value of every key of *topic* (a compacted changelog's live state)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100)
    await consumer.start()
    latest: dict[bytes, bytes] = {}
    try:
        await refresh_metadata(consumer)
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return latest
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        idle = 0
        while idle < 3:
            batch = await consumer.getmany(timeout_ms=500, max_records=20000)
            idle = 0 if batch else idle + 1
            for messages in batch.values():
                for message in messages:
                    if message.key is not None and message.value is not None:
                        latest[message.key] = message.value
        return latest
    finally:
        await consumer.stop()


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")
