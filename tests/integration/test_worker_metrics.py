"""The worker's own metrics, scraped from /metrics over HTTP while real records flow through it.

The first test uses the session worker. It starts with a barrier (one record on every
by-customer partition, waited for on touchpoints.enriched), so whatever earlier tests
produced has been applied before the baseline; after that only this test's records
move the worker, which the test checks (journey events moved by exactly its own), so
the deltas it asserts are exact. The second test has its own broker and two workers,
to see the partition-bound metrics follow a rebalance.
"""

from __future__ import annotations

import time
import urllib.request
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.partitioner import murmur2
from aiokafka.structs import TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from agents.config import default_config
from agents.journey.after_hours import after_hours_slot
from streams import topics
from streams.local.broker import EmbeddedBroker, free_port
from streams.local.supervisor import WorkerProcess
from streams.settings import Settings
from tests.compiled import compiled_modules, core_build_note
from tests.kafka_helpers import collect, eventually

pytestmark = pytest.mark.integration

PARTITIONS = Settings().partitions
INPUTS = (topics.RAW, topics.BY_CUSTOMER, topics.ACTIONS, topics.ERASURE_REQUESTS, topics.IDENTITY_ACTIONS)
#: The coordinator's input: one partition, read by whichever worker owns it.
COORDINATION = {(topics.PROGRESS, "0")}
#: Every input partition a lone worker reads, with a consumer-lag series each.
LAG_SERIES = {(t, str(p)) for t in INPUTS for p in range(PARTITIONS)} | COORDINATION
CHANGELOG = "touchpoint-customer_to_state-changelog"
TIMEOUT = 60.0

T = TypeVar("T")
#: (sample name, sorted label pairs) → value
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(worker: WorkerProcess, query: str = "") -> Samples:
    with urllib.request.urlopen(f"{worker.base_url}/metrics{query}", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of *name* over every series whose labels include *labels*."""
    return sum(
        found
        for (sample, pairs), found in samples.items()
        if sample == name and labels.items() <= dict(pairs).items()
    )


def series(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {pairs: found for (sample, pairs), found in samples.items() if sample == name}


def lags(samples: Samples) -> dict[tuple[str, str], float]:
    return {
        (dict(pairs)["topic"], dict(pairs)["partition"]): found
        for pairs, found in series(samples, "touchpoint_consumer_lag_records").items()
    }


def touchpoint(customer: str, event_id: str, kind: str, occurred_at: str, **fields: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": event_id,
        "occurred_at": occurred_at,
        "customer_id": customer,
        "channel": fields.pop("channel", "chat"),
        "type": kind,
        "actor": fields.pop("actor", "customer"),
        **fields,
    }


def now() -> str:
    return datetime.now(UTC).isoformat()


async def send(bootstrap: str, events: Iterable[dict[str, Any]], timestamp_ms: int | None = None) -> None:
    """Produce *events* to the raw topic keyed by customer, as `touchpoint produce` does, in order."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                topics.RAW, orjson.dumps(event), key=event["customer_id"].encode(), timestamp_ms=timestamp_ms
            )
    finally:
        await producer.stop()


async def applied(bootstrap: str, events: list[dict[str, Any]]) -> None:
    """Wait until the journey has applied every one of *events* (its enriched record is out)."""
    wanted = {event["event_id"].encode() for event in events}

    def match(_key: bytes | None, record: bytes | None) -> bool:
        return record is not None and orjson.loads(record)["touchpoint"]["event_id"].encode() in wanted

    await collect(bootstrap, topics.ENRICHED, match, count=len(wanted), timeout=TIMEOUT)


def one_customer_per_partition(prefix: str) -> list[str]:
    customers: dict[int, str] = {}
    while len(customers) < PARTITIONS:
        candidate = f"{prefix}-{uuid.uuid4().hex[:8]}"
        customers.setdefault((murmur2(candidate.encode()) & 0x7FFFFFFF) % PARTITIONS, candidate)
    return [customers[partition] for partition in range(PARTITIONS)]


async def record_timestamp(bootstrap: str, topic: str, event_id: str) -> int:
    """The Kafka timestamp (ms) of the record on *topic* whose value has *event_id*."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or range(PARTITIONS)
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                for record in records:
                    # Touchpoints only: identity's signed records on the topic start with byte 0x00.
                    if record.value is None or not record.value.startswith(b"{"):
                        continue
                    if orjson.loads(record.value).get("event_id") == event_id:
                        return int(record.timestamp)
    finally:
        await consumer.stop()
    raise AssertionError(f"{event_id} not found on {topic}")


async def test_worker_metrics_measure_lag_latency_ownership_and_open_work(
    broker: EmbeddedBroker, worker: WorkerProcess, run_id: str
) -> None:
    # --- Ownership and identity: the only worker of its group owns every partition. -------------------
    samples = await eventually(
        "the session worker owns every partition",
        lambda: scrape(worker),
        lambda s: all(value(s, "touchpoint_partitions_owned", topic=t) == PARTITIONS for t in INPUTS),
        timeout=TIMEOUT,
    )
    assert value(samples, "touchpoint_partitions_owned", topic=CHANGELOG) == PARTITIONS
    ready = worker.readiness() or {}
    for topic in (*INPUTS, CHANGELOG):
        assigned = [p for p in ready["partitions"] if p.rsplit(":", 1)[0] == topic]
        assert len(assigned) == value(samples, "touchpoint_partitions_owned", topic=topic), topic
    assert series(samples, "touchpoint_worker_info") == {
        (
            ("app_id", "touchpoint"),
            ("core", "compiled" if compiled_modules() else "pure"),
            ("profile_guided", "true" if core_build_note() == "profile-guided" else "false"),
            ("version", metadata.version("touchpoint")),
        ): 1.0
    }

    # --- Barrier: everything produced before this test has been applied. ----------------------------
    sentinels = [
        touchpoint(customer, f"{customer}-visit", "visit", now(), channel="web")
        for customer in one_customer_per_partition(f"{run_id}-sentinel")
    ]
    await send(broker.bootstrap, sentinels)
    await applied(broker.bootstrap, sentinels)
    # Consumer lag: one series per owned input partition, back to 0 once the worker has caught up.
    # A partition's series appears once its end offset is known (a fetch answered for it), and the
    # gauge is refreshed every few seconds: wait for the whole set, not the first refresh.
    await eventually(
        "consumer lag 0 on every input partition",
        lambda: scrape(worker),
        lambda s: set(lags(s)) == LAG_SERIES and set(lags(s).values()) == {0.0},
        timeout=TIMEOUT,
    )
    before = scrape(worker)

    # --- Phase 1: an inquiry opens an inquiry and a first-response case; the reply closes both. -------
    asker = f"{run_id}-asker"
    asked_at = now()
    ask = touchpoint(asker, f"{asker}-ask", "inquiry", asked_at, conversation_id="c1")
    await send(broker.bootstrap, [ask])
    await applied(broker.bootstrap, [ask])
    asked = scrape(worker)
    assert value(asked, "touchpoint_open_inquiries") - value(before, "touchpoint_open_inquiries") == 1
    assert value(asked, "touchpoint_open_sla_cases") - value(before, "touchpoint_open_sla_cases") == 1
    answer = touchpoint(asker, f"{asker}-reply", "reply", now(), actor="agent", conversation_id="c1")
    await send(broker.bootstrap, [answer])
    await applied(broker.bootstrap, [answer])
    answered = scrape(worker)
    assert value(answered, "touchpoint_open_inquiries") == value(before, "touchpoint_open_inquiries")
    assert value(answered, "touchpoint_open_sla_cases") == value(before, "touchpoint_open_sla_cases")

    # --- Phase 2: alerts raised by a touchpoint, timed from its raw record; after-hours inquiries. ------
    waited, quick = f"{run_id}-waited", f"{run_id}-quick"
    started = time.time()
    produced_ms = int(started * 1000) - 120_000  # a raw record stamped two minutes ago
    slow = touchpoint(
        waited, f"{waited}-q", "queue_wait", now(), channel="phone", attributes={"wait_seconds": 90}
    )
    fast = touchpoint(quick, f"{quick}-q", "queue_wait", now(), attributes={"wait_seconds": 45})
    saturday, store, holiday, agent = (f"{run_id}-{name}" for name in ("sat", "store", "holiday", "agent"))
    after_hours = [
        # Saturday 15:10 in Berlin: support is closed (counted at sat/15) …
        touchpoint(saturday, f"{saturday}-ask", "inquiry", "2026-01-10T15:10:00+01:00", conversation_id="s"),
        # … and the same record again: a duplicate, applied and counted once.
        touchpoint(saturday, f"{saturday}-ask", "inquiry", "2026-01-10T15:10:00+01:00", conversation_id="s"),
        # Stores are open on Saturdays until 20:00: not after hours on the store's calendar.
        touchpoint(store, f"{store}-ask", "inquiry", "2026-01-10T15:20:00+01:00", channel="store"),
        # New Year's Day, a public holiday in Berlin: closed all day (thu/11).
        touchpoint(holiday, f"{holiday}-ask", "inquiry", "2026-01-01T11:05:00+01:00", conversation_id="h"),
        # An agent's inquiry is not a customer asking.
        touchpoint(agent, f"{agent}-ask", "inquiry", "2026-01-11T03:00:00+01:00", actor="agent"),
    ]
    await send(broker.bootstrap, [slow], timestamp_ms=produced_ms)
    await send(broker.bootstrap, [fast, *after_hours])
    long_waits = await collect(
        broker.bootstrap,
        topics.alert_topic("long_wait"),
        lambda key, _v: key in {waited.encode(), quick.encode()},
        count=2,
        timeout=TIMEOUT,
    )
    elapsed = time.time() - started
    assert len(long_waits) == 2
    await applied(broker.bootstrap, [slow, fast, *after_hours])
    after = scrape(worker)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    def moved_total(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    # Only this test's records moved the worker since the baseline: 2 + 2 + 4 applied, 1 duplicate.
    live, old = 4, 4
    assert moved("touchpoint_journey_events_total") == live + old
    assert moved("touchpoint_duplicate_events_total") == 1

    # The ingest forwarded the raw record's timestamp with the touchpoint.
    assert await record_timestamp(broker.bootstrap, topics.BY_CUSTOMER, slow["event_id"]) == produced_ms

    # Event-to-alert: both long waits, measured from their raw records' timestamps.
    assert moved("touchpoint_event_to_alert_seconds_count", type="long_wait") == 2
    assert moved_total("touchpoint_event_to_alert_seconds_count") == 2, "deadline alerts are not counted here"
    assert moved("touchpoint_event_to_alert_seconds_bucket", type="long_wait", le="60.0") == 1, (
        "the quick one"
    )
    assert moved("touchpoint_event_to_alert_seconds_bucket", type="long_wait", le="300.0") == 2
    assert 120 <= moved("touchpoint_event_to_alert_seconds_sum", type="long_wait") <= 120 + 2 * elapsed + 0.01
    assert {dict(pairs)["type"] for pairs in series(after, "touchpoint_event_to_alert_seconds_count")} == set(
        topics.ALERT_TYPES
    ), "a series per alert type from start-up"

    # Processing lag: one observation per applied touchpoint, live ones fast, history beyond the buckets.
    assert moved("touchpoint_processing_lag_seconds_count") == live + old
    assert value(after, "touchpoint_processing_lag_seconds_count") == value(
        after, "touchpoint_journey_events_total"
    )
    assert moved("touchpoint_processing_lag_seconds_bucket", le="60.0") == live
    assert (
        moved("touchpoint_processing_lag_seconds_bucket", le="+Inf")
        - moved("touchpoint_processing_lag_seconds_bucket", le="3600.0")
        == old
    )

    # After-hours inquiries, by weekday and hour on the calendar's clock. The first inquiry, asked now,
    # counts too when now is after hours (a Saturday afternoon, say, in the very slot of the one above).
    asked_after_hours = after_hours_slot(ask, datetime.fromisoformat(asked_at), default_config().calendars)
    for (weekday, hour), count in {("sat", "15"): 1, ("thu", "11"): 1, ("sun", "03"): 0}.items():
        expected = count + (asked_after_hours == (weekday, hour))
        assert moved("touchpoint_after_hours_inquiries_total", weekday=weekday, hour=hour) == expected
    assert moved_total("touchpoint_after_hours_inquiries_total") == 2 + (asked_after_hours is not None)
    assert len(series(after, "touchpoint_after_hours_inquiries_total")) == 7 * 24, (
        "all slots exist from start"
    )

    # New customers: the asker, two waiters and four after-hours askers; the gauge agrees with the stages.
    # (Absolute values differ by the identifiers' records that other tests' identity claims left in the table.)
    assert moved("touchpoint_table_keys", table="customer_to_state") == 7
    assert moved_total("touchpoint_customers") == 7
    assert value(after, "touchpoint_table_keys", table="customer_to_state") >= total(
        after, "touchpoint_customers"
    )
    # Open work: Saturday's chat and the holiday's chat have a case each; the store inquiry has none.
    assert moved("touchpoint_open_inquiries") == 3
    assert moved("touchpoint_open_sla_cases") == 2

    # Held-back state writes reach the changelog without more traffic (at the next commit at the latest).
    await eventually(
        "every held-back state write written",
        lambda: scrape(worker).get(("touchpoint_state_writes_held", ())),  # None: not exported
        lambda held: held == 0,
        timeout=TIMEOUT,
    )

    # And the consumer lag settles at 0 again.
    await eventually(
        "consumer lag back to 0",
        lambda: lags(scrape(worker)),
        lambda found: set(found) == LAG_SERIES and set(found.values()) == {0.0},
        timeout=TIMEOUT,
    )


async def test_a_scrape_can_ask_for_some_metrics_by_name(worker: WorkerProcess) -> None:
    whole = await eventually(
        "the session worker owns every partition",
        lambda: scrape(worker),
        lambda s: all(value(s, "touchpoint_partitions_owned", topic=t) == PARTITIONS for t in INPUTS),
        timeout=TIMEOUT,
    )
    only = scrape(worker, "?name[]=touchpoint_partitions_owned&name[]=touchpoint_worker_info")
    assert {name for name, _ in only} == {"touchpoint_partitions_owned", "touchpoint_worker_info"}
    assert series(only, "touchpoint_partitions_owned") == series(whole, "touchpoint_partitions_owned")
    assert series(only, "touchpoint_worker_info") == series(whole, "touchpoint_worker_info")
    # As the harness polls it: the counters of records processed, by their samples' names.
    polled = worker.metrics(["touchpoint_journey_events_total", "touchpoint_dead_letters_total"])
    assert polled, "the counters exist once the worker has applied records"
    assert {key.split("{", 1)[0] for key in polled} <= {
        "touchpoint_journey_events_total",
        "touchpoint_dead_letters_total",
    }
    assert len(whole) > 20 * len(only), "the whole page is far larger"


async def test_partition_metrics_follow_a_rebalance(tmp_path: Path) -> None:
    """A second worker takes half the partitions: each reports only its own, and the counts add up."""
    customers = one_customer_per_partition("rebal-a") + one_customer_per_partition("rebal-b")  # 2 a partition
    inquiries = [
        touchpoint(customer, f"{customer}-ask", "inquiry", "2026-01-10T15:10:00+01:00", conversation_id="c")
        for customer in customers
    ]
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        first = WorkerProcess(broker.url, free_port(), tmp_path / "a").start()
        second = WorkerProcess(broker.url, free_port(), tmp_path / "b")
        try:
            first.wait_ready()
            await send(broker.bootstrap, inquiries)
            await applied(broker.bootstrap, inquiries)
            alone = scrape(first)
            assert value(alone, "touchpoint_table_keys", table="customer_to_state") == len(customers)
            assert value(alone, "touchpoint_open_inquiries") == len(customers)
            assert value(alone, "touchpoint_open_sla_cases") == len(customers)

            second.start().wait_ready()

            def both() -> tuple[Samples, Samples, dict[str, Any], dict[str, Any]]:
                return scrape(first), scrape(second), first.readiness() or {}, second.readiness() or {}

            def settled(found: tuple[Samples, Samples, dict[str, Any], dict[str, Any]]) -> bool:
                a, b, ready_a, ready_b = found
                if not (ready_a.get("ready") and ready_b.get("ready")):
                    return False
                for samples, ready in ((a, ready_a), (b, ready_b)):
                    owned = {
                        (topic, partition)
                        for topic, partition in (p.rsplit(":", 1) for p in ready["partitions"])
                        if topic in INPUTS or topic == topics.PROGRESS
                    }
                    # Lag series for exactly the partitions this worker owns, caught up.
                    if set(lags(samples)) != owned or set(lags(samples).values()) != {0.0}:
                        return False
                owned_by = [value(s, "touchpoint_partitions_owned", topic=topics.BY_CUSTOMER) for s in (a, b)]
                keys = [value(s, "touchpoint_table_keys", table="customer_to_state") for s in (a, b)]
                return sum(owned_by) == PARTITIONS and 0 not in owned_by and sum(keys) == len(customers)

            a, b, _, _ = await eventually(
                "both workers report their own partitions", both, settled, timeout=TIMEOUT
            )
            for topic in (*INPUTS, CHANGELOG):
                counts = [value(s, "touchpoint_partitions_owned", topic=topic) for s in (a, b)]
                assert sum(counts) == PARTITIONS, (topic, counts)
            assert not set(lags(a)) & set(lags(b)), "no partition reported by both"
            # Recounted from the table after recovery: the open work is split, not lost or doubled.
            for name in ("touchpoint_open_inquiries", "touchpoint_open_sla_cases"):
                assert value(a, name) + value(b, name) == len(customers), name
                assert value(a, name) > 0, name
                assert value(b, name) > 0, name
        finally:
            second.stop()
            first.stop()
