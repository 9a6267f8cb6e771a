"""A stray or hostile record on the real worker changes nothing but its own customer, or nothing at all.

Each test gives a few control customers real state (a purchase, so lapse and churn
deadlines are pending weeks ahead), sends the hostile record, then one sentinel
per partition after it: once a partition's sentinel is applied, anything the
hostile record could have caused on that partition has been published, so the
absence of outputs is checked, not hoped for.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from agents.domain.instants import describe_duration
from streams import topics
from streams.local.broker import EmbeddedBroker
from streams.local.supervisor import WorkerProcess
from tests.kafka_helpers import PARTITIONS, collect, partition_of, produce, sentinels, wait_for

pytestmark = pytest.mark.integration

ALERT_TOPICS = [topics.alert_topic(kind) for kind in topics.ALERT_TYPES]


def touchpoint(customer: str, event_id: str, kind: str, at: datetime, **extra: Any) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "event_id": event_id,
            "occurred_at": at.isoformat(),
            "customer_id": customer,
            "channel": "store",
            "type": kind,
            "actor": "customer",
            **extra,
        }
    )


def controls(run_id: str) -> list[str]:
    """Three control customers on every partition."""
    chosen: dict[int, list[str]] = {partition: [] for partition in range(PARTITIONS)}
    number = 0
    while any(len(names) < 3 for names in chosen.values()):
        name = f"{run_id}-control-{number}"
        number += 1
        if len(chosen[partition_of(name.encode())]) < 3:
            chosen[partition_of(name.encode())].append(name)
    return [name for names in chosen.values() for name in names]


async def give_state(bootstrap: str, customers: list[str], now: datetime) -> None:
    records = []
    for customer in customers:
        records.append(touchpoint(customer, f"{customer}-visit", "visit", now - timedelta(minutes=2)))
        records.append(
            touchpoint(
                customer,
                f"{customer}-buy",
                "purchase",
                now - timedelta(minutes=1),
                attributes={"amount": 20.0, "currency": "EUR"},
            )
        )
    await produce(bootstrap, topics.RAW, records)
    wanted = {customer.encode() for customer in customers}
    await collect(bootstrap, topics.ENRICHED, lambda key, _v: key in wanted, count=len(records))


async def after_sentinels(bootstrap: str, label: str) -> None:
    """Returns once every partition has applied a touchpoint sent now."""
    await produce(bootstrap, topics.RAW, sentinels(label, datetime.now(UTC).isoformat()))
    names = {f"{label}-{partition}" for partition in range(PARTITIONS)}
    await collect(
        bootstrap,
        topics.ENRICHED,
        lambda _k, value: value is not None and orjson.loads(value)["touchpoint"]["event_id"] in names,
        count=PARTITIONS,
    )


async def outputs_about(bootstrap: str, customers: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Every alert and time-caused transition about *customers* published so far."""
    wanted = {customer.encode() for customer in customers}
    found: dict[str, list[dict[str, Any]]] = {"alerts": [], "transitions": []}
    for topic in ALERT_TOPICS:
        for _key, value in await collect(
            bootstrap, topic, lambda key, _v: key in wanted, count=0, timeout=30
        ):
            found["alerts"].append(orjson.loads(value or b"{}"))
    for _key, value in await collect(
        bootstrap, topics.TRANSITIONS, lambda key, _v: key in wanted, count=0, timeout=30
    ):
        transition = orjson.loads(value or b"{}")
        if transition["cause"] not in ("visit", "purchase"):
            found["transitions"].append(transition)
    return found


async def dead_letter_of(bootstrap: str, source: str) -> dict[str, Any]:
    [(_key, value)] = await collect(
        bootstrap, topics.DEAD_LETTER, lambda key, _v: key == source.encode(), count=1, timeout=60
    )
    document: dict[str, Any] = orjson.loads(value or b"{}")
    return document


async def test_an_event_dated_2099_is_dead_lettered_as_future_and_no_other_customer_hears_of_it(
    broker: EmbeddedBroker, worker: WorkerProcess, run_id: str
) -> None:
    now = datetime.now(UTC)
    customers = controls(run_id)
    await give_state(broker.bootstrap, customers, now)
    stray = touchpoint(
        f"{run_id}-stray",
        f"{run_id}-2099",
        "purchase",
        datetime(2099, 1, 1, tzinfo=UTC),
        attributes={"amount": 1.0, "currency": "EUR"},
    )
    [(partition, offset)] = await produce(broker.bootstrap, topics.RAW, [stray])
    dead = await dead_letter_of(broker.bootstrap, f"{topics.RAW}:{partition}:{offset}")
    assert (dead["reason"], dead["field"]) == ("future", "occurred_at")
    # How far ahead depends on when the test runs: read it against the timestamp the message names,
    # which drops the record's fraction of a second.
    said = re.fullmatch(
        r"occurred_at 2099-01-01T00:00:00\+00:00 is (.+) ahead of the record's timestamp (\S+) "
        r"\(at most 5 minutes\)",
        dead["message"],
    )
    assert said is not None, dead["message"]
    ahead = (datetime(2099, 1, 1, tzinfo=UTC) - datetime.fromisoformat(said[2])).total_seconds()
    assert said[1] in (describe_duration(ahead), describe_duration(ahead - 1))
    await after_sentinels(broker.bootstrap, f"{run_id}-after")
    assert await outputs_about(broker.bootstrap, customers) == {"alerts": [], "transitions": []}
    enriched = await collect(
        broker.bootstrap,
        topics.ENRICHED,
        lambda key, _v: key == f"{run_id}-stray".encode(),
        count=0,
        timeout=30,
    )
    assert enriched == [], "the refused event was not applied to its own customer either"


async def test_a_forged_timer_tick_is_dead_lettered_and_fires_nothing(
    broker: EmbeddedBroker, worker: WorkerProcess, run_id: str
) -> None:
    customers = controls(run_id)
    await give_state(broker.bootstrap, customers, datetime.now(UTC))
    # Any client can write to touchpoints.by-customer: the old unsigned tick, at 2100, on every partition.
    from aiokafka import AIOKafkaProducer

    client = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await client.start()
    try:
        sent = [
            await client.send_and_wait(
                topics.BY_CUSTOMER, orjson.dumps({"now": 4102444800}), key=b"\x00tick", partition=partition
            )
            for partition in range(PARTITIONS)
        ]
    finally:
        await client.stop()
    for metadata in sent:
        dead = await dead_letter_of(
            broker.bootstrap, f"{topics.BY_CUSTOMER}:{metadata.partition}:{metadata.offset}"
        )
        assert dead["reason"] == "forged_control"
        assert "proof of origin" in dead["message"]
    await after_sentinels(broker.bootstrap, f"{run_id}-after")
    assert await outputs_about(broker.bootstrap, customers) == {"alerts": [], "transitions": []}


def customer_state(worker: WorkerProcess, customer: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{worker.base_url}/customers/{customer}", timeout=5) as response:
            document: dict[str, Any] = json.load(response)
            return document
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


async def test_ids_whose_crc32_collide_are_two_purchases_and_a_conflicting_repeat_is_dead_lettered(
    broker: EmbeddedBroker, worker: WorkerProcess, run_id: str
) -> None:
    customer = f"{run_id}-buyer"
    at = datetime.now(UTC) - timedelta(minutes=1)

    def buys(event_id: str, amount: float) -> bytes:
        return touchpoint(
            customer, event_id, "purchase", at, attributes={"amount": amount, "currency": "EUR"}
        )

    await produce(broker.bootstrap, topics.RAW, [buys("order-29685295", 100.0)])
    await produce(broker.bootstrap, topics.RAW, [buys("order-32060020", 200.0)])

    def both_applied() -> dict[str, Any] | None:
        state = customer_state(worker, customer)
        return state if state is not None and state["purchase_count"] == 2 else None

    state = wait_for("both purchases", both_applied, timeout=60)
    assert state["net_value"] == 300.0
    await produce(broker.bootstrap, topics.RAW, [buys("order-29685295", 999.0)])
    by_customer = await collect(
        broker.bootstrap,
        topics.BY_CUSTOMER,
        lambda key, value: key == customer.encode() and b'"amount":999.0' in (value or b""),
        count=1,
    )
    assert len(by_customer) == 1
    dead = await collect(
        broker.bootstrap,
        topics.DEAD_LETTER,
        lambda _k, value: (
            value is not None and b"conflicting_duplicate" in value and customer.encode() in value
        ),
        count=1,
    )
    document = orjson.loads(dead[0][1] or b"{}")
    assert document["reason"] == "conflicting_duplicate"
    assert document["source"]["topic"] == topics.BY_CUSTOMER
    assert set(document["details"]) == {"kept_digest", "refused_digest"}
    assert customer_state(worker, customer)["net_value"] == 300.0  # type: ignore[index]


async def test_a_snooze_until_2099_is_clamped_to_a_week_and_the_alert_says_so(
    broker: EmbeddedBroker, worker: WorkerProcess, run_id: str
) -> None:
    customer = f"{run_id}-asker"
    # Yesterday evening's chat inquiry (20:30 in Berlin, after hours): its first-response deadline has
    # passed, so the worker raises at once, and it is recent enough not to have expired
    # (alerts.expire_after_hours: a week), as one from months ago would have.
    asked = (datetime.now(UTC) - timedelta(days=1)).replace(hour=19, minute=30, second=0, microsecond=0)
    inquiry = touchpoint(customer, f"{customer}-ask", "inquiry", asked, channel="chat", conversation_id="c-1")
    await produce(broker.bootstrap, topics.RAW, [inquiry])
    wanted = customer.encode()
    # Chat after hours: the on-call deadline (30 minutes) passed long ago, so the worker's sweep raises it now.
    raised = await collect(
        broker.bootstrap,
        topics.alert_topic("after_hours_unanswered"),
        lambda key, _v: key == wanted,
        count=1,
        timeout=90,
    )
    alert = orjson.loads(raised[0][1] or b"{}")
    result = subprocess.run(
        [
            sys.executable, "-m", "streams.cli", "alerts", "snooze", alert["alert_id"],
            "--minutes", str(80 * 365 * 24 * 60), "--by", "anna", "--broker", broker.url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "clamped from" in result.stdout
    [(_key, value)] = await collect(
        broker.bootstrap,
        topics.alert_topic(alert["type"]),
        lambda key, value: key == wanted and value is not None and b"snooze_clamped_from" in value,
        count=1,
    )
    snoozed = orjson.loads(value or b"{}")
    assert snoozed["status"] == "acknowledged"
    assert snoozed["status_changed_by"] == "anna"
    until = datetime.fromisoformat(snoozed["details"]["snoozed_until"])
    at = datetime.fromisoformat(snoozed["status_changed_at"])
    assert until - at == timedelta(days=7)
    assert datetime.fromisoformat(snoozed["details"]["snooze_clamped_from"]).year > 2100


async def test_an_action_and_an_erasure_dated_by_a_leap_second_are_refused_by_their_contracts(
    broker: EmbeddedBroker, worker: WorkerProcess, run_id: str
) -> None:
    # RFC 3339 has leap seconds; no datetime does. They used to pass the contract and fail where the
    # time was read, dead-lettered as "internal": a bug, as far as anyone watching could tell.
    customer = f"{run_id}-leap"
    await give_state(broker.bootstrap, [customer], datetime.now(UTC))
    leap = "2026-06-30T23:59:60Z"
    from aiokafka import AIOKafkaProducer

    action = {
        "schema_version": 1,
        "alert_id": f"long_wait/{customer}/0123456789ab",
        "action": "acknowledge",
        "by": "anna@support",
        "at": leap,
    }
    erasure = {
        "schema_version": 1,
        "request_id": f"{run_id}-dsr",
        "customer_id": customer,
        "requested_at": leap,
        "by": "dpo",
        "reason": "gdpr-art-17",
    }
    client = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await client.start()
    try:
        sent = [
            (await client.send_and_wait(topic, orjson.dumps(record), key=customer.encode()), field)
            for topic, record, field in (
                (topics.ACTIONS, action, "at"),
                (topics.ERASURE_REQUESTS, erasure, "requested_at"),
            )
        ]
    finally:
        await client.stop()
    for metadata, field in sent:
        dead = await dead_letter_of(
            broker.bootstrap, f"{metadata.topic}:{metadata.partition}:{metadata.offset}"
        )
        assert dead["reason"] == "schema", dead
        assert f"data.{field} must be date-time" in dead["message"]
    await after_sentinels(broker.bootstrap, f"{run_id}-after")
    assert customer_state(worker, customer) is not None, "the erasure request changed nothing"
