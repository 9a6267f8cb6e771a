"""Erasure on request, end to end on the real worker, through a restart (changelog recovery).

A customer with state and an open alert is erased with ``touchpoint erase``: the worker confirms
on privacy.erasures, resolves the alert as ``auto:erased``, answers 404 for the customer, drops a
late touchpoint dated before the erasure, and after a restart still answers 404 and emits nothing
that names the customer, until a new touchpoint arrives. Another customer is untouched throughout.
Their identity links go with them: the e-mail address they logged in with, whose anonymous events
went to them before, forms a profile of its own afterwards.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from agents.identity.keys import identifier_key
from streams import topics
from streams.local.broker import EmbeddedBroker, free_port
from streams.local.supervisor import WorkerProcess
from streams.runtime.faust_private import refresh_metadata
from streams.settings import Settings
from tests.kafka_helpers import collect, produce, wait_for

pytestmark = pytest.mark.integration

TOKEN = "erasure-test-" + secrets.token_hex(12)


@dataclass
class Cluster:
    broker: EmbeddedBroker
    worker: WorkerProcess


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("erasure")
    with EmbeddedBroker(log_path=tmp / "broker.log") as broker:
        worker = WorkerProcess(
            broker.url,
            free_port(),
            tmp / "worker",
            extra_args=["--log-level", "info"],
            extra_env={"TOUCHPOINT_WEB_TOKEN": TOKEN},
        )
        try:
            worker.start().wait_ready()
            yield Cluster(broker, worker)
        finally:
            worker.stop()


def _status(worker: WorkerProcess, path: str, token: str | None = TOKEN) -> int:
    request = urllib.request.Request(f"{worker.base_url}{path}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _touchpoint(
    customer: str | None,
    event_id: str,
    at: datetime,
    kind: str = "visit",
    identifiers: dict[str, str] | None = None,
    **attributes: object,
) -> bytes:
    event: dict[str, object] = {
        "schema_version": 1,
        "event_id": event_id,
        "occurred_at": at.isoformat(),
        "channel": "phone",
        "type": kind,
        "actor": "customer",
    }
    if customer is not None:
        event["customer_id"] = customer
    if identifiers is not None:
        event["identifiers"] = identifiers
    if attributes:
        event["attributes"] = attributes
    return orjson.dumps(event)


def _enriched_customer(bootstrap: str, event_id: str) -> str:
    """The customer the worker filed touchpoint *event_id* under, read from touchpoints.enriched."""
    [(_, value)] = asyncio.run(
        collect(bootstrap, topics.ENRICHED, lambda k, v: f'"{event_id}"'.encode() in v, 1)
    )
    return str(orjson.loads(value)["touchpoint"]["customer_id"])


async def _ends(bootstrap: str, names: list[str]) -> dict[TopicPartition, int]:
    """The true end of each partition of *names*: from fetch responses (the embedded broker's
    ListOffsets answer stops at the start of a partition's last batch)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100)
    await consumer.start()
    try:
        await refresh_metadata(consumer)
        partitions = [
            TopicPartition(name, p)
            for name in names
            for p in sorted(consumer.partitions_for_topic(name) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        while await consumer.getmany(timeout_ms=500):
            pass
        return {tp: consumer.highwater(tp) or 0 for tp in partitions}
    finally:
        await consumer.stop()


async def _since(
    bootstrap: str, starts: dict[TopicPartition, int]
) -> list[tuple[str, bytes | None, bytes | None]]:
    """Every record written after *starts*, as (topic, key, value)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100)
    await consumer.start()
    found: list[tuple[str, bytes | None, bytes | None]] = []
    try:
        consumer.assign(list(starts))
        for tp, offset in starts.items():
            consumer.seek(tp, offset)
        while True:
            batch = await consumer.getmany(timeout_ms=1000)
            if not batch:
                return found
            for tp, messages in batch.items():
                found.extend((tp.topic, m.key, m.value) for m in messages)
    finally:
        await consumer.stop()


OUTPUTS = [
    topics.BY_CUSTOMER,
    topics.ENRICHED,
    topics.TRANSITIONS,
    topics.DEAD_LETTER,
    topics.ERASURES,
    *(topics.alert_topic(kind) for kind in topics.ALERT_TYPES),
]


def test_an_erased_customer_is_gone_through_a_restart_and_comes_back_only_with_a_new_event(
    cluster: Cluster, run_id: str
) -> None:
    bootstrap, worker = cluster.broker.bootstrap, cluster.worker
    erased, kept = f"{run_id}-erased", f"{run_id}-kept"
    email = {"email": f"{run_id}@example.com"}
    email_key = identifier_key("email", email["email"], Settings.from_env().identity_key)
    now = datetime.now(UTC).replace(microsecond=0)
    first = now - timedelta(minutes=10)
    asyncio.run(
        produce(bootstrap, topics.RAW, [_touchpoint(erased, f"{run_id}-1", first, "identify", email)])
    )
    assert _enriched_customer(bootstrap, f"{run_id}-1") == erased
    # Linked: an anonymous touchpoint with their e-mail address goes to them.
    asyncio.run(
        produce(
            bootstrap,
            topics.RAW,
            [
                _touchpoint(None, f"{run_id}-anonymous", first + timedelta(seconds=30), identifiers=email),
                _touchpoint(
                    erased, f"{run_id}-2", first + timedelta(minutes=1), "queue_wait", wait_seconds=95
                ),
                _touchpoint(kept, f"{run_id}-3", first),
            ],
        )
    )
    [(_, raised)] = asyncio.run(
        collect(bootstrap, topics.alert_topic("long_wait"), lambda k, v: k == erased.encode(), 1)
    )
    alert = orjson.loads(raised or b"")
    assert alert["status"] == "open"
    assert _enriched_customer(bootstrap, f"{run_id}-anonymous") == erased
    wait_for("both customers' state", lambda: _status(worker, f"/customers/{erased}") == 200, 30)
    wait_for("the other customer", lambda: _status(worker, f"/customers/{kept}") == 200, 30)

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "erase",
            erased,
            "--reason",
            "gdpr-art-17",
            "--by",
            "privacy-office",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TOUCHPOINT_BROKER": cluster.broker.url},
    )
    assert result.returncode == 0, result.stderr
    assert "their state was deleted, 1 open alert(s) resolved" in result.stdout

    [(_, confirmation)] = asyncio.run(
        collect(bootstrap, topics.ERASURES, lambda k, v: k == erased.encode(), 1)
    )
    erasure = orjson.loads(confirmation or b"")
    assert (erasure["customer_id"], erasure["by"], erasure["reason"]) == (
        erased,
        "privacy-office",
        "gdpr-art-17",
    )
    assert (erasure["found"], erasure["alerts_resolved"]) == (True, 1)
    records = asyncio.run(
        collect(bootstrap, topics.alert_topic("long_wait"), lambda k, v: k == erased.encode(), 2)
    )
    resolved = orjson.loads(records[-1][1] or b"")
    assert (resolved["alert_id"], resolved["status"], resolved["status_changed_by"]) == (
        alert["alert_id"],
        "resolved",
        "auto:erased",
    )
    assert _status(worker, f"/customers/{erased}") == 404
    assert _status(worker, f"/customers/{kept}") == 200

    # A late touchpoint dated before the erasure (a redelivery, a slow producer) does not bring them back.
    asyncio.run(
        produce(bootstrap, topics.RAW, [_touchpoint(erased, f"{run_id}-late", first + timedelta(minutes=2))])
    )
    wait_for(
        "the late touchpoint to be dropped",
        lambda: worker.metrics().get("touchpoint_erased_touchpoints_total", 0) >= 1,
        30,
    )
    assert _status(worker, f"/customers/{erased}") == 404

    worker.stop()
    marks = asyncio.run(_ends(bootstrap, OUTPUTS))
    worker.start().wait_ready()
    assert _status(worker, f"/customers/{erased}") == 404, "the changelog's tombstone survives recovery"
    assert _status(worker, f"/customers/{kept}") == 200

    # The other customer moves on; nothing emitted since the restart names the erased one.
    asyncio.run(produce(bootstrap, topics.RAW, [_touchpoint(kept, f"{run_id}-4", now)]))
    asyncio.run(collect(bootstrap, topics.ENRICHED, lambda k, v: b"-4" in v and k == kept.encode(), 1))
    emitted = asyncio.run(_since(bootstrap, marks))
    assert any(key == kept.encode() for _, key, _ in emitted), "the check below saw the worker's output"
    naming = [
        (topic, key) for topic, key, value in emitted if erased.encode() in (key or b"") + (value or b"")
    ]
    assert naming == [], [(t, v) for t, k, v in emitted if erased.encode() in (k or b"") + (v or b"")]

    # Their e-mail address is linked to nobody now: its anonymous touchpoints, even dated after the
    # erasure, form a profile of their own (a link left behind would file this one under them).
    asyncio.run(
        produce(
            bootstrap,
            topics.RAW,
            [_touchpoint(None, f"{run_id}-after", datetime.now(UTC), identifiers=email)],
        )
    )
    assert _enriched_customer(bootstrap, f"{run_id}-after") == email_key
    assert _status(worker, f"/customers/{erased}") == 404

    # Until a new touchpoint arrives, dated after the erasure: then they are a new customer.
    later = datetime.now(UTC)
    asyncio.run(produce(bootstrap, topics.RAW, [_touchpoint(erased, f"{run_id}-new", later)]))
    wait_for("the new customer", lambda: _status(worker, f"/customers/{erased}") == 200, 30)


def test_every_route_but_metrics_and_ready_needs_the_token_and_faust_views_are_off(cluster: Cluster) -> None:
    worker = cluster.worker
    assert _status(worker, "/metrics", token=None) == 200
    assert _status(worker, "/ready", token=None) == 200
    assert _status(worker, "/customers/anyone", token=None) == 401
    assert _status(worker, "/customers/anyone", token="x" * 32) == 401
    assert _status(worker, "/customers/anyone") == 404
    for path in ("/router/", "/table/", "/graph/", "/stats/"):
        assert _status(worker, path) == 404, path


def test_a_worker_without_a_token_answers_only_to_loopback_names(worker: WorkerProcess) -> None:
    request = urllib.request.Request(
        f"{worker.base_url}/customers/anyone", headers={"Host": "attacker.example"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 421
    assert _status(worker, "/customers/anyone", token=None) == 404
