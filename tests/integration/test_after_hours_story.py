"""Story 1, live: a customer asks on chat after hours, nobody answers, the on-call team is alerted.

A real worker on its own embedded broker, on the wall clock: the deadline fires from the
live sweep because nothing else happens on the partition. The alert is read by a plain
Kafka consumer, acknowledged with the real CLI, and resolved by the late reply.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

import schemas
from streams import topics
from streams.local.broker import EmbeddedBroker, free_port
from streams.local.supervisor import WorkerProcess
from tests.after_hours import ON_CALL_SECONDS, RULES
from tests.kafka_helpers import collect, produce

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def live(after_hours: tuple[EmbeddedBroker, WorkerProcess]) -> tuple[EmbeddedBroker, WorkerProcess]:
    return after_hours


def _event(customer: str, event_id: str, kind: str, actor: str, **extra: object) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "event_id": event_id,
            "occurred_at": datetime.now(UTC).isoformat(),
            "customer_id": customer,
            "channel": "chat",
            "type": kind,
            "actor": actor,
            "location": "team-support",
            **extra,
        }
    )


def _records_for(alert_id: str) -> Callable[[bytes | None, bytes], bool]:
    return lambda _key, value: orjson.loads(value)["alert_id"] == alert_id


async def test_unanswered_after_hours_inquiry_alerts_on_call_then_ack_and_late_reply_update_it(
    live: tuple[EmbeddedBroker, WorkerProcess], tmp_path: Path
) -> None:
    broker, _worker = live
    customer = f"story1-{uuid.uuid4().hex[:8]}"
    asked = time.time()
    await produce(
        broker.bootstrap,
        topics.RAW,
        [
            _event(
                customer, f"{customer}-view", "page_view", "customer", attributes={"sku": "air-purifier-x2"}
            ),
            _event(
                customer,
                f"{customer}-ask",
                "inquiry",
                "customer",
                conversation_id="conv-1",
                attributes={"topic": "discount"},
            ),
        ],
    )
    topic = topics.alert_topic("after_hours_unanswered")
    [(_key, value)] = await collect(
        broker.bootstrap, topic, lambda k, _v: k == customer.encode(), count=1, timeout=90
    )
    seen = time.time()
    alert = orjson.loads(value)
    schemas.validator("alert")(alert)
    assert alert["type"] == "after_hours_unanswered"
    assert alert["status"] == "open"
    # Purchase intent after hours is a warning; it pages on-call (critical) only from a best or top-tier customer.
    assert alert["severity"] == "warning", "after hours with purchase intent, from a new customer"
    assert alert["evidence"] == [f"{customer}-ask"]
    assert {"after_hours", "purchase_intent", "no_first_response"} <= set(alert["reasons"])
    assert alert["alert_id"].startswith(f"after_hours_unanswered/{customer}/")
    assert "discount" in alert["summary"]
    deadline = datetime.fromisoformat(alert["details"]["deadline"]).timestamp()
    assert deadline - asked == pytest.approx(ON_CALL_SECONDS, abs=1.5)
    print(f"deadline-firing lag: {seen - deadline:.2f} s (alert consumed after its deadline)")

    # The on-call agent acknowledges it with the CLI…
    subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "alerts",
            "ack",
            alert["alert_id"],
            "--by",
            "anna",
            "--broker",
            broker.url,
        ],
        check=True,
        timeout=60,
    )
    # …and answers: the same alert comes back acknowledged, then resolved by the reply.
    await produce(
        broker.bootstrap,
        topics.RAW,
        [_event(customer, f"{customer}-reply", "reply", "agent", conversation_id="conv-1")],
    )
    history = await collect(broker.bootstrap, topic, _records_for(alert["alert_id"]), count=3, timeout=60)
    statuses = [orjson.loads(v)["status"] for _, v in history]
    assert statuses == ["open", "acknowledged", "resolved"]
    acknowledged, resolved = (orjson.loads(v) for _, v in history[1:])
    assert acknowledged["status_changed_by"] == "anna"
    assert resolved["status_changed_by"] == "auto:first_reply"
    assert resolved["details"]["response_seconds"] >= ON_CALL_SECONDS - 1
    assert resolved["summary"] == alert["summary"], "a status change republishes the same alert"

    # A new inquiry in a new conversation is a new case with a new alert.
    await produce(
        broker.bootstrap,
        topics.RAW,
        [_event(customer, f"{customer}-ask-2", "inquiry", "customer", conversation_id="conv-2")],
    )
    later = await collect(
        broker.bootstrap,
        topic,
        lambda k, v: k == customer.encode() and orjson.loads(v)["evidence"] == [f"{customer}-ask-2"],
        count=1,
        timeout=90,
    )
    second = orjson.loads(later[0][1])
    assert second["alert_id"] != alert["alert_id"]
    assert second["severity"] == "warning", "the product viewed today still shows intent"
    assert "purchase_intent" in second["reasons"]


async def test_an_action_for_an_unknown_alert_is_refused_counted_and_fails_the_command(
    live: tuple[EmbeddedBroker, WorkerProcess],
) -> None:
    import urllib.request

    broker, worker = live
    unknown = "first_response_breach/nobody/0123456789ab"
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "alerts", "resolve", unknown, "--broker", broker.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert f"resolve refused: no open alert '{unknown}' for this customer" in result.stderr
    deadline = time.monotonic() + 60
    lines = (
        'touchpoint_alert_actions_total{action="resolve",outcome="unknown_alert"} 1.0',
        'touchpoint_dead_letters_total{reason="unknown_alert"} 1.0',
    )
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{worker.base_url}/metrics", timeout=5) as response:
            text = response.read().decode()
            if all(line in text for line in lines):
                return
        time.sleep(0.2)
    raise AssertionError(f"metrics not seen: {lines}")


async def test_deadlines_move_with_their_partition_when_a_second_worker_joins(tmp_path: Path) -> None:
    """Inquiries land on worker A; worker B joins before their deadlines; every alert still fires, once."""
    from aiokafka.partitioner import murmur2

    rules = tmp_path / "rules.toml"
    rules.write_text(RULES.replace(f"on_call_minutes = {ON_CALL_SECONDS / 60}", "on_call_minutes = 0.5"))
    customers: dict[int, str] = {}
    while len(customers) < 4:  # one customer on each partition
        candidate = f"rebal-{uuid.uuid4().hex[:8]}"
        customers.setdefault((murmur2(candidate.encode()) & 0x7FFFFFFF) % 4, candidate)
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        first = WorkerProcess(
            broker.url, free_port(), tmp_path / "a", extra_args=["--config", str(rules)]
        ).start()
        second = WorkerProcess(broker.url, free_port(), tmp_path / "b", extra_args=["--config", str(rules)])
        try:
            first.wait_ready()
            inquiries = [
                _event(customer, f"{customer}-ask", "inquiry", "customer", conversation_id="c")
                for customer in customers.values()
            ]
            await produce(broker.bootstrap, topics.RAW, inquiries)
            produced = time.time()
            second.start().wait_ready()
            joined_in_time = time.time() < produced + 30 - 3
            joined = second.readiness()
            assert joined is not None, "the second worker is ready"
            owned = [
                set((first.readiness() or {}).get("partitions", [])),
                set(joined["partitions"]),
            ]
            assert all(any(p.startswith("touchpoints.by-customer:") for p in worker) for worker in owned), (
                owned
            )
            topic = topics.alert_topic("after_hours_unanswered")
            wanted = {customer.encode() for customer in customers.values()}
            alerts = await collect(broker.bootstrap, topic, lambda k, _v: k in wanted, count=4, timeout=120)
            assert sorted(k or b"" for k, _ in alerts) == sorted(wanted), "each deadline fired exactly once"
            if (
                joined_in_time
            ):  # B took over partitions before their deadlines: B must have fired some of them
                import urllib.request

                with urllib.request.urlopen(f"{second.base_url}/metrics", timeout=5) as response:
                    metrics = response.read().decode()
                fired = sum(
                    float(line.split()[-1])
                    for line in metrics.splitlines()
                    if line.startswith("touchpoint_deadlines_fired_total")
                )
                assert fired >= 1, "the deadlines moved to the new owner with their partitions"
        finally:
            second.stop()
            first.stop()
