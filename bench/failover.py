"""Failover time and state-recovery rate: two workers share the work, one is killed with SIGKILL.

    .venv/bin/python bench/failover.py --customers 100000 --store memory
    .venv/bin/python bench/failover.py --customers 100000 --store rocksdb --standby-replicas 1

Each run: a fresh embedded broker; one visit per customer (so every customer has a
state) followed by as many simulator events, decoded offline and pre-produced to
`touchpoints.by-customer` keyed by customer; then two workers in one group. Once
they have applied everything, a trickle of new events starts (--trickle per
second, all partitions) and one worker is killed with SIGKILL. Measured:

* failover time: from the kill to the first event the survivor applies on one of
  the dead worker's partitions (the broker timestamp of its enriched event). It
  includes the group noticing the dead member (the session timeout, 6 s), the
  rebalance, the state recovery and catching up;
* state recovery: the survivor's table recovery after the rebalance, from its own
  log (Faust's end offsets and start offsets, and the time to "Recovery complete"),
  with the distinct customers in the changelog ranges it read.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from common import record

from agents.ingest.decode import Accepted, TouchpointDecoder
from streams import topics
from streams.local.broker import EmbeddedBroker, free_port
from streams.local.supervisor import Recovery, WorkerProcess
from streams.settings import Settings
from streams.sim import SimulationSpec, generate

APP_ID = "touchpoint"
CHANGELOG = f"{APP_ID}-customer_to_state-changelog"
PARTITIONS = Settings().partitions
#: Deterministic work: deadlines fire on event time only, never on the wall clock of the machine.
RULES = "[deadlines]\nwall_clock_sweep = false\n"


@dataclass
class Result:
    failover_s: float
    rebalance_s: float
    recovery_s: float
    customers: int
    records: int

    @property
    def customers_per_s(self) -> float:
        return self.customers / max(self.recovery_s, 1e-3)

    @property
    def records_per_s(self) -> float:
        return self.records / max(self.recovery_s, 1e-3)


def _workload(customers: int, events: int, trickle: int, seed: int) -> tuple[list[Accepted], list[Accepted]]:
    """One visit per customer, then *events* simulator events; and *trickle* later events for the failover."""
    decoder = TouchpointDecoder(identity_salt=Settings.from_env().identity_key)
    spec = SimulationSpec(customers=customers, seed=seed, malformed_share=0.0)
    before = (spec.start - timedelta(days=1)).isoformat()
    visits = (
        orjson.dumps(
            {
                "schema_version": 1,
                "event_id": f"visit-{number}",
                "occurred_at": before,
                "customer_id": f"cust-{number:06d}",
                "channel": "web",
                "type": "visit",
                "actor": "customer",
            }
        )
        for number in range(customers)
    )
    stream = generate(spec)
    bulk = itertools.chain(visits, itertools.islice(stream, events))
    later = itertools.islice(stream, trickle)
    accepted = [o for o in map(decoder, bulk) if isinstance(o, Accepted)]
    return accepted, [o for o in map(decoder, later) if isinstance(o, Accepted)]


async def _produce(bootstrap: str, events: Iterable[Accepted], rate: float | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        started = time.monotonic()
        for number, event in enumerate(events):
            if rate:
                delay = started + number / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await producer.send(topics.BY_CUSTOMER, event.body, key=event.customer_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def _first_output_after(bootstrap: str, partitions: set[int], after_ms: float, limit: float) -> float:
    """Broker timestamp (s) of the first enriched event on *partitions* stamped after *after_ms*."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100)
    await consumer.start()
    try:
        tps = [TopicPartition(topics.ENRICHED, p) for p in sorted(partitions)]
        consumer.assign(tps)
        # The broker's end offsets may be a little short (see streams/runtime/transport.py): a few records early.
        for tp, end in (await consumer.end_offsets(tps)).items():
            consumer.seek(tp, max(end - 1000, 0))
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            stamps: list[int] = [
                m.timestamp
                for messages in (await consumer.getmany(timeout_ms=500, max_records=10000)).values()
                for m in messages
                if m.timestamp > after_ms
            ]
            if stamps:
                return min(stamps) / 1000
        raise SystemExit(f"no output on partitions {sorted(partitions)} within {limit:.0f}s of the kill")
    finally:
        await consumer.stop()


async def _distinct_keys(bootstrap: str, ranges: dict[tuple[str, int], tuple[int, int]]) -> int:
    if not ranges:
        return 0
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100)
    await consumer.start()
    keys: set[bytes] = set()
    try:
        pending = {TopicPartition(topic, p): span for (topic, p), span in ranges.items()}
        consumer.assign(list(pending))
        for tp, (first, _) in pending.items():
            consumer.seek(tp, first)
        while pending:
            for tp, messages in (
                await consumer.getmany(*pending, timeout_ms=1000, max_records=20000)
            ).items():
                last = pending[tp][1]
                keys.update(m.key for m in messages if m.offset <= last and m.key is not None)
                if messages and messages[-1].offset >= last:
                    del pending[tp]
        return len(keys)
    finally:
        await consumer.stop()


def _owned(worker: WorkerProcess) -> set[int]:
    status = worker.readiness() or {}
    if not status.get("ready"):
        return set()
    prefix = f"{topics.BY_CUSTOMER}:"
    return {int(tp[len(prefix) :]) for tp in status["partitions"] if tp.startswith(prefix)}


def _wait(what: str, condition: Callable[[], bool], limit: float) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {limit:.0f}s waiting for {what}")
        time.sleep(0.1)


def _applied(workers: list[WorkerProcess]) -> float:
    return sum(w.metrics().get("touchpoint_journey_events_total", 0.0) for w in workers)


def one_run(args: argparse.Namespace, seed: int) -> Result:
    bulk, later = _workload(args.customers, args.events, args.trickle * 300, seed)
    distinct = len({(o.customer_id, o.event["event_id"]) for o in bulk})
    env = {"TOUCHPOINT_STORE": args.store, "TOUCHPOINT_STANDBY_REPLICAS": str(args.standby_replicas)}
    with tempfile.TemporaryDirectory(prefix="tp-bench-") as workdir, EmbeddedBroker() as broker:
        rules = Path(workdir) / "rules.toml"
        rules.write_text(RULES)
        print(f"producing {len(bulk):,} events for {args.customers:,} customers …", flush=True)
        asyncio.run(_produce(broker.bootstrap, bulk))
        workers = [
            WorkerProcess(
                broker.url,
                free_port(),
                Path(workdir) / f"worker-{number}",
                app_id=APP_ID,
                extra_env=env,
                extra_args=["--config", str(rules), "--log-level", "info"],
            ).start()
            for number in (1, 2)
        ]
        stop = threading.Event()
        try:
            for worker in workers:
                worker.wait_ready()
            started = time.monotonic()
            _wait("all events applied", lambda: _applied(workers) >= distinct, args.time_limit)
            print(f"applied {distinct:,} events in {time.monotonic() - started:.0f}s", flush=True)
            _wait(
                "the workers to split the partitions",
                lambda: (
                    len(_owned(workers[0]) | _owned(workers[1])) == PARTITIONS
                    and not _owned(workers[0]) & _owned(workers[1])
                ),
                120,
            )
            victim, survivor = workers
            dead = _owned(victim)
            trickle = threading.Thread(
                target=lambda: asyncio.run(_produce(broker.bootstrap, _until(stop, later), args.trickle)),
                daemon=True,
            )
            trickle.start()
            _wait("the trickle to flow", lambda: _applied(workers) >= distinct + args.trickle, 120)
            victim.kill()
            killed_at = time.time()
            first = asyncio.run(_first_output_after(broker.bootstrap, dead, killed_at * 1000, 300))
            stop.set()
            trickle.join(30)
            dead_tps = {(CHANGELOG, p) for p in dead}
            takeover = next(
                (
                    r
                    for r in survivor.recoveries()
                    if r.started_at >= killed_at - 1 and dead_tps <= set(r.highwaters)
                ),
                None,
            )
            if takeover is None:
                raise SystemExit(f"no recovery after the kill in {survivor.log_path}")
            customers = asyncio.run(_distinct_keys(broker.bootstrap, takeover.ranges))
            return _result(first - killed_at, takeover, killed_at, customers)
        finally:
            stop.set()
            for worker in workers:
                worker.stop()


def _until(stop: threading.Event, events: list[Accepted]) -> Iterable[Accepted]:
    for event in events:
        if stop.is_set():
            return
        yield event


def _result(failover: float, takeover: Recovery, killed_at: float, customers: int) -> Result:
    return Result(
        failover_s=failover,
        rebalance_s=takeover.started_at - killed_at,
        recovery_s=takeover.seconds,
        customers=customers,
        records=takeover.records,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument(
        "--events", type=int, default=None, help="simulator events after the visits (default: --customers)"
    )
    parser.add_argument("--store", choices=("memory", "rocksdb"), default="memory")
    parser.add_argument("--standby-replicas", type=int, default=0)
    parser.add_argument("--trickle", type=int, default=200, help="events per second during the failover")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--time-limit", type=float, default=1800, help="seconds to apply the pre-produced events"
    )
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    args = parser.parse_args()
    args.events = args.customers if args.events is None else args.events
    results = []
    for run in range(args.runs):
        result = one_run(args, seed=run + 1)
        results.append(result)
        print(
            f"run {run + 1}: failover {result.failover_s:.1f}s (rebalance done after {result.rebalance_s:.1f}s,"
            f" recovery {result.recovery_s:.1f}s); recovered {result.customers:,} customers"
            f" ({result.records:,} changelog records): {result.customers_per_s:,.0f} customers/s,"
            f" {result.records_per_s:,.0f} records/s",
            flush=True,
        )
    median = sorted(results, key=lambda r: r.failover_s)[len(results) // 2]
    failovers = ", ".join(f"{r.failover_s:.1f}" for r in results)
    rates = statistics.median(r.customers_per_s for r in results)
    recovery = (
        f"state recovery {rates:,.0f} customers/s ({median.customers:,} customers from"
        f" {median.records:,} changelog records in {median.recovery_s:.1f} s)"
        if median.records
        else "state recovery: nothing to read, the survivor's standby copy was up to date"
    )
    summary = (
        f"failover {median.failover_s:.1f} s (median of {args.runs}: {failovers}; group noticed and rebalanced"
        f" after {median.rebalance_s:.1f} s, recovery {median.recovery_s:.1f} s); {recovery}"
    )
    print(summary)
    if not args.no_record:
        command = (
            f"python bench/failover.py --customers {args.customers} --events {args.events} --store {args.store}"
            f" --standby-replicas {args.standby_replicas} --runs {args.runs}"
        )
        workload = (
            f"{args.customers:,} customers, {args.customers + args.events:,} events; 2 workers, one killed"
            f" (SIGKILL); store {args.store}, {args.standby_replicas} standby"
            f" replica{'' if args.standby_replicas == 1 else 's'}"
        )
        record("failover", workload, summary, command)


if __name__ == "__main__":
    main()
