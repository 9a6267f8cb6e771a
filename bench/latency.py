"""Latency at a steady rate: produce → alert consumed, and deadline lag of SLA alerts, in one run.

    .venv/bin/python bench/latency.py --rate 1000 --seconds 40

A fresh embedded broker and one worker with bench/deadline_lag.py's rules (support never
open; chat inquiries answered within 12 s on call; no alert cooldowns). For --seconds, the
script sends --rate records per second to the raw `touchpoints` topic, paced against the
wall clock, each stamped with the current time:

* 10 per second: a 5-minute phone queue wait of a new customer, which raises `long_wait` at
  once. Latency: from the send call to a plain consumer receiving the alert whose evidence
  names that event;
* 5 per second: an unanswered chat inquiry of a new customer (deadline 12 s later). Deadline
  lag: from the deadline to the consumer receiving `after_hours_unanswered`. Deadlines that
  fall while traffic flows fire on the partition's watermark, later ones on the wall-clock
  sweep once the partition is quiet (as in bench/deadline_lag.py); both are reported;
* the rest: simulator traffic (1 % malformed, duplicates), restamped to the current time.

Also reported: the rate achieved and the worker's CPU use over the traffic.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from common import record
from deadline_lag import DEADLINE_SECONDS, RULES
from harness import cpu_times, hooked_env, machine_cpu_seconds, percentile, worker_config

from streams import topics
from streams.kafka import routing_key
from streams.local.broker import EmbeddedBroker, free_port
from streams.local.supervisor import WorkerProcess
from streams.runtime.faust_private import refresh_metadata
from streams.settings import Settings
from streams.sim import SimulationSpec, generate

LONG_WAITS_PER_S = 10
INQUIRIES_PER_S = 5
LONG_WAIT = topics.alert_topic("long_wait")
AFTER_HOURS = topics.alert_topic("after_hours_unanswered")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _probe(kind: str) -> tuple[str, bytes]:
    event_id = f"{kind}-{uuid.uuid4().hex}"
    event: dict[str, object] = {
        "schema_version": 1,
        "event_id": event_id,
        "occurred_at": _now(),
        "customer_id": f"{kind}-{uuid.uuid4().hex[:12]}",
        "actor": "customer",
    }
    if kind == "wait":
        event.update(channel="phone", type="queue_wait", attributes={"wait_seconds": 300})
    else:
        event.update(channel="chat", type="inquiry", conversation_id="c")
    return event_id, orjson.dumps(event)


def _restamped(value: bytes) -> bytes:
    """A simulator record stamped now; malformed ones go as they are."""
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
    if isinstance(event, dict) and isinstance(event.get("occurred_at"), str):
        try:
            if datetime.fromisoformat(event["occurred_at"]).tzinfo is not None:
                event["occurred_at"] = _now()
                return orjson.dumps(event)
        except ValueError:
            pass
    return value


class Run:
    def __init__(self) -> None:
        self.sent_at: dict[str, float] = {}  # long-wait event id → send time
        self.inquiries = 0
        self.sent = 0
        self.traffic_ended: float | None = None
        #: The worker's CPU use over the traffic, in cores.
        self.worker_cores = 0.0
        self.traffic_seconds = 0.0
        #: Cores the whole machine used over the traffic (anything else running included).
        self.machine_cores = 0.0
        self.latencies: list[float] = []
        self.lag_during: list[float] = []
        self.lag_after: list[float] = []


async def _traffic(bootstrap: str, run: Run, rate: int, seconds: float, pid: int | None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    background = generate(SimulationSpec(customers=20_000, seed=11, start=datetime.now(UTC)))
    total = int(rate * seconds)
    wait_every = max(1, rate // LONG_WAITS_PER_S)
    inquiry_every = max(1, rate // INQUIRIES_PER_S)
    # The workers' identity key (as the simulator's producer keys records: streams.kafka.routing_key).
    identity_key = Settings.from_env().identity_key
    started = time.time()
    cpu_before, machine_before = sum(cpu_times(pid)), machine_cpu_seconds()
    try:
        for number in range(total):
            delay = started + number / rate - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if number % wait_every == 0:
                event_id, value = _probe("wait")
                run.sent_at[event_id] = time.time()
            elif number % inquiry_every == 1:
                _, value = _probe("lag")
                run.inquiries += 1
            else:
                value = _restamped(next(background))
            await producer.send(topics.RAW, value, key=routing_key(value, identity_key))
            run.sent += 1
        await producer.flush()
    finally:
        await producer.stop()
        run.traffic_ended = time.time()
        run.traffic_seconds = run.traffic_ended - started
        run.worker_cores = (sum(cpu_times(pid)) - cpu_before) / run.traffic_seconds
        run.machine_cores = (machine_cpu_seconds() - machine_before) / run.traffic_seconds


async def _partitions(consumer: AIOKafkaConsumer, names: list[str]) -> list[TopicPartition]:
    for _ in range(100):
        await refresh_metadata(consumer)
        found = [TopicPartition(n, p) for n in names for p in consumer.partitions_for_topic(n) or ()]
        if {tp.topic for tp in found} == set(names):
            return found
        await asyncio.sleep(0.2)
    raise SystemExit(f"topics {names} do not exist")


async def _measure(bootstrap: str, rate: int, seconds: float, pid: int | None) -> Run:
    run = Run()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20)
    await consumer.start()
    try:
        partitions = await _partitions(consumer, [LONG_WAIT, AFTER_HOURS])
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        traffic = asyncio.create_task(_traffic(bootstrap, run, rate, seconds, pid))
        waits_seen: set[str] = set()
        lags_seen: set[str] = set()
        while True:
            batch = await consumer.getmany(timeout_ms=100)
            now = time.time()
            for tp, messages in batch.items():
                for message in messages:
                    alert = orjson.loads(message.value)
                    if alert["status"] != "open":
                        continue
                    if tp.topic == LONG_WAIT:
                        for event_id in alert["evidence"]:
                            sent = run.sent_at.get(event_id)
                            if sent is not None and event_id not in waits_seen:
                                waits_seen.add(event_id)
                                run.latencies.append(now - sent)
                    elif alert["customer_id"].startswith("lag-") and alert["alert_id"] not in lags_seen:
                        lags_seen.add(alert["alert_id"])
                        deadline = datetime.fromisoformat(alert["details"]["deadline"]).timestamp()
                        ended = run.traffic_ended
                        (run.lag_during if ended is None or deadline < ended else run.lag_after).append(
                            now - deadline
                        )
            if traffic.done():
                traffic.result()
                assert run.traffic_ended is not None
                if len(waits_seen) >= len(run.sent_at) and len(lags_seen) >= run.inquiries:
                    return run
                if now > run.traffic_ended + DEADLINE_SECONDS + 120:
                    raise SystemExit(
                        f"only {len(waits_seen)} of {len(run.sent_at)} long-wait alerts and {len(lags_seen)}"
                        f" of {run.inquiries} deadline alerts arrived"
                    )
    finally:
        await consumer.stop()


def _ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:,.0f} ms"


def _s(values: list[float], q: float) -> str:
    return f"{percentile(values, q):.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=1000, help="records per second to the raw topic")
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment of the worker, repeatable; Faust's defaults: PRODUCER_LINGER=0"
        " TOUCHPOINT_BENCH_ROOT_LEVEL=DEBUG (see bench/hooks)",
    )
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tp-bench-") as tmp, EmbeddedBroker() as broker:
        workdir = Path(tmp)
        rules = workdir / "rules.toml"
        rules.write_text(RULES)
        worker = WorkerProcess(
            broker.url,
            free_port(),
            workdir / "worker",
            extra_args=["--config", str(rules)],
            extra_env=hooked_env(dict(item.split("=", 1) for item in args.worker_env)),
        ).start()
        try:
            worker.wait_ready()
            run = asyncio.run(_measure(broker.bootstrap, args.rate, args.seconds, worker.pid))
        finally:
            worker.stop()
    achieved = run.sent / run.traffic_seconds
    text = (
        f"produce → long_wait alert consumed ({len(run.latencies)} alerts): p50 {_ms(run.latencies, 0.5)},"
        f" p99 {_ms(run.latencies, 0.99)}, max {_ms(run.latencies, 1.0)}; deadline lag under traffic"
        f" (watermark, {len(run.lag_during)} alerts): p50 {_s(run.lag_during, 0.5)}, p99"
        f" {_s(run.lag_during, 0.99)}; quiet (wall-clock sweep, {len(run.lag_after)}): p50"
        f" {_s(run.lag_after, 0.5)}, p99 {_s(run.lag_after, 0.99)}; sent {achieved:,.0f} records/s, worker"
        f" CPU {run.worker_cores:.0%} of a core over the traffic (machine busy {run.machine_cores:.2f} of"
        f" {os.cpu_count()} cores)"
    )
    print(text)
    if not args.no_record:
        record(
            "latency",
            f"{args.rate:,} records/s for {args.seconds:.0f} s to touchpoints (simulator traffic restamped,"
            f" {LONG_WAITS_PER_S} long queue waits/s, {INQUIRIES_PER_S} unanswered inquiries/s,"
            f" {DEADLINE_SECONDS} s on-call deadline), 1 worker; {worker_config()}"
            + (f" with {' '.join(args.worker_env)}" if args.worker_env else ""),
            text,
            f"python bench/latency.py --rate {args.rate} --seconds {args.seconds:.0f}"
            + "".join(f" --worker-env {item}" for item in args.worker_env),
        )


if __name__ == "__main__":
    main()
