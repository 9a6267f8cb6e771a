"""Alerts reach people: the real worker raises them, `touchpoint notify` posts them to the real Alertmanager
(Debian's binary, on a loopback port), and Alertmanager notifies a webhook this test serves.

Story 1 on the shared after-hours worker: an unanswered evening inquiry fires, the agent's
reply resolves it, a silence made through Alertmanager's API mutes it, and an Alertmanager
stopped (and a bridge killed) in the middle loses no alert.
"""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.partitioner import murmur2

from streams import topics
from streams.local.broker import EmbeddedBroker, free_port
from streams.local.services import ServiceProcess
from streams.local.supervisor import WorkerProcess
from tests.after_hours import ALERT_TYPE, agent_reply, unanswered_inquiry
from tests.alertmanager_helpers import (
    AlertmanagerProcess,
    WebhookReceiver,
    alertmanager_binary,
    missing_tool,
    routing_config,
)
from tests.kafka_helpers import collect, produce, wait_for

pytestmark = pytest.mark.integration

CONSOLE_URL = "https://console.example.test"
#: Short, so re-posts happen within a test; each post is valid for 4 of these.
RESEND_SECONDS = 3


class Stack:
    def __init__(
        self, broker: EmbeddedBroker, hook: WebhookReceiver, alertmanager: AlertmanagerProcess, tmp: Path
    ):
        self.broker = broker
        self.hook = hook
        self.alertmanager = alertmanager
        self.tmp = tmp
        self.notify: ServiceProcess | None = None
        self.notify_port = 0

    def start_notify(self) -> ServiceProcess:
        self.notify_port = free_port()
        self.notify = self.bridge(self.notify_port, "notify.log")
        return self.notify.start().wait_ready()

    def bridge(self, port: int, log_name: str) -> ServiceProcess:
        """A `touchpoint notify` member of the one bridge group, its /metrics and /ready on *port*."""
        return ServiceProcess(
            [
                "notify",
                "--broker",
                self.broker.url,
                "--alertmanager",
                self.alertmanager.url,
                "--console-url",
                CONSOLE_URL,
                "--resend-seconds",
                str(RESEND_SECONDS),
                "--web-port",
                str(port),
                "--log-level",
                "info",
            ],
            f"http://127.0.0.1:{port}/ready",
            self.tmp / log_name,
        )

    def notify_metric(self, name: str, port: int | None = None) -> float:
        url = f"http://127.0.0.1:{port or self.notify_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.split(" ")[0] == name:
                    return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"{name} not exported")


@pytest.fixture(scope="module")
def stack(
    after_hours: tuple[EmbeddedBroker, WorkerProcess], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    binary = alertmanager_binary()
    if binary is None:
        pytest.fail(missing_tool("prometheus-alertmanager"))
    broker, _worker = after_hours
    tmp = tmp_path_factory.mktemp("routing")
    with WebhookReceiver() as hook:
        alertmanager = AlertmanagerProcess(binary, routing_config(hook.url), tmp / "alertmanager").start()
        state = Stack(broker, hook, alertmanager, tmp)
        try:
            state.start_notify()
            yield state
        finally:
            if state.notify is not None:
                state.notify.stop()
            alertmanager.stop()


def _customer(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def _of(customer: str, status: str | None = None) -> Any:
    def alerts(hook: WebhookReceiver) -> list[dict[str, Any]]:
        return [a for a in hook.alerts(status) if a["labels"].get("customer_id") == customer]

    return alerts


async def test_an_unanswered_inquiry_reaches_the_webhook_firing_and_the_reply_resolves_it(
    stack: Stack,
) -> None:
    customer = _customer("route")
    await produce(stack.broker.bootstrap, topics.RAW, unanswered_inquiry(customer))
    firing = _of(customer, "firing")
    [alert] = stack.hook.wait_for("the alert firing at the webhook", lambda: firing(stack.hook), timeout=90)

    labels, annotations = alert["labels"], alert["annotations"]
    alert_id = labels["alert_id"]
    assert alert_id.startswith(f"{ALERT_TYPE}/{customer}/")
    assert labels == {
        "alertname": ALERT_TYPE,
        "alert_id": alert_id,
        "severity": "warning",  # purchase intent from a new customer: critical is for best or top-tier ones
        "customer_id": customer,
        "location": "team-support",
        "channel": "chat",
        "value_tier": "bronze",
    }
    assert "discount" in annotations["summary"]
    assert annotations["suggested_action"].startswith("Reply now")
    assert annotations["console_url"] == f"{CONSOLE_URL}/alerts/{alert_id}"
    assert alert["generatorURL"] == annotations["console_url"]
    assert annotations["status"] == "open"

    await produce(stack.broker.bootstrap, topics.RAW, agent_reply(customer))
    resolved = _of(customer, "resolved")
    [cleared] = stack.hook.wait_for("the resolution at the webhook", lambda: resolved(stack.hook), timeout=60)
    assert cleared["labels"] == labels, "the same alert, resolved"
    assert cleared["annotations"]["status_changed_by"] == "auto:first_reply"
    assert datetime.fromisoformat(cleared["endsAt"]) >= datetime.fromisoformat(cleared["startsAt"])
    assert len(firing(stack.hook)) == 1, "re-posts of an active alert notify nobody again"


async def test_a_silence_created_through_alertmanagers_api_mutes_the_alert(stack: Stack) -> None:
    muted, control = _customer("muted"), _customer("control")
    now = datetime.now(UTC)
    silence = stack.alertmanager.api(
        "silences",
        {
            "matchers": [{"name": "customer_id", "value": muted, "isRegex": False, "isEqual": True}],
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=1)).isoformat(),
            "createdBy": "test",
            "comment": "customer handled by phone",
        },
    )["silenceID"]
    await produce(stack.broker.bootstrap, topics.RAW, unanswered_inquiry(muted) + unanswered_inquiry(control))

    stack.hook.wait_for("the unsilenced alert at the webhook", lambda: _of(control, "firing")(stack.hook), 90)

    def suppressed() -> dict[str, Any] | None:
        found = stack.alertmanager.api("alerts?silenced=true&inhibited=true&active=true")
        mine = [a for a in found if a["labels"].get("customer_id") == muted]
        return mine[0] if mine and mine[0]["status"]["state"] == "suppressed" else None

    alert = wait_for("Alertmanager to hold the silenced alert, suppressed", suppressed, timeout=60)
    assert alert["status"]["silencedBy"] == [silence]
    assert not _of(muted)(stack.hook), "a silenced alert must not be notified"


async def test_alertmanager_stopped_and_restarted_in_the_middle_loses_no_alert(stack: Stack) -> None:
    before, during = _customer("before"), _customer("during")
    await produce(stack.broker.bootstrap, topics.RAW, unanswered_inquiry(before))
    [first] = stack.hook.wait_for("the first alert", lambda: _of(before, "firing")(stack.hook), 90)

    stack.alertmanager.stop()
    failures = stack.notify_metric('touchpoint_notify_post_failures_total{reason="unreachable"}')
    await produce(stack.broker.bootstrap, topics.RAW, unanswered_inquiry(during))
    # The worker raised it while no Alertmanager listens…
    await collect(
        stack.broker.bootstrap,
        topics.alert_topic(ALERT_TYPE),
        lambda key, _value: key == during.encode(),
        count=1,
        timeout=90,
    )
    # …and the bridge tried to post it and failed: it now holds it, uncommitted.
    wait_for(
        "the bridge to fail a post",
        lambda: stack.notify_metric('touchpoint_notify_post_failures_total{reason="unreachable"}') > failures,
        timeout=30,
    )
    # The bridge dies too, without a goodbye: a new one must find both alerts from the committed offsets.
    assert stack.notify is not None
    stack.notify.kill()
    stack.start_notify()
    stack.alertmanager.start()  # same port and data directory, but alerts live in its memory only: gone

    [late] = stack.hook.wait_for("the alert raised while down", lambda: _of(during, "firing")(stack.hook), 90)
    assert late["labels"]["alert_id"].startswith(f"{ALERT_TYPE}/{during}/")
    # The alert raised before the outage is still active: re-posted, Alertmanager holds it again.
    held = wait_for(
        "the earlier alert back in Alertmanager",
        lambda: stack.alertmanager.alert(first["labels"]["alert_id"]),
        timeout=60,
    )
    assert held["status"]["state"] == "active"
    assert held["labels"] == first["labels"]


async def test_a_record_on_an_alert_topic_that_is_no_alert_is_dead_lettered(stack: Stack) -> None:
    garbage = b'{"alert_id": "not/one/of/ours", "marker": "%s"}' % uuid.uuid4().hex.encode()
    [(partition, offset)] = await produce(stack.broker.bootstrap, topics.alert_topic("long_wait"), [garbage])
    [(_key, value)] = await collect(
        stack.broker.bootstrap,
        topics.DEAD_LETTER,
        lambda _k, v: orjson.loads(v)["payload"] == garbage.decode(),
        count=1,
        timeout=60,
    )
    record = orjson.loads(value)
    assert record["reason"] == "schema"
    assert record["source"] == {"topic": "alerts.long_wait", "partition": partition, "offset": offset}
    assert stack.notify_metric('touchpoint_notify_invalid_records_total{reason="schema"}') >= 1


def _owned_partitions(port: int) -> set[str] | None:
    """The alert partitions the bridge on *port* owns, or None while it rebalances or does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as response:
            document = orjson.loads(response.read())
    except (OSError, ValueError):
        return None
    return set(document["partitions"]) if document.get("ready") and document["partitions"] else None


def _partition_of(customer: str, partitions: int) -> int:
    # The worker's producer places an alert like Kafka's default partitioner: murmur2 of the key.
    return int(murmur2(customer.encode()) & 0x7FFFFFFF) % partitions


async def test_two_bridges_share_the_alert_partitions_and_the_survivor_takes_over_a_dead_one(
    stack: Stack,
) -> None:
    everything = wait_for(
        "the first bridge to own every partition", lambda: _owned_partitions(stack.notify_port), 60
    )
    topic = topics.alert_topic(ALERT_TYPE)
    count = len({p for p in everything if p.startswith(f"{topic}:")})
    second_port = free_port()
    second = stack.bridge(second_port, "notify-2.log")
    second.start().wait_ready()
    try:

        def split() -> tuple[set[str], set[str]] | None:
            first, other = _owned_partitions(stack.notify_port), _owned_partitions(second_port)
            if first and other and not first & other and first | other == everything:
                return first, other
            return None

        first, other = wait_for("the two bridges to split the partitions between them", split, timeout=90)
        # Customers whose alerts land on each bridge's partitions, so that both must deliver.
        mine: list[str] = []
        theirs: list[str] = []
        while len(mine) < 2 or len(theirs) < 2:
            customer = _customer("pair")
            owner = mine if f"{topic}:{_partition_of(customer, count)}" in first else theirs
            owner.append(customer)
        firing_before = stack.notify_metric('touchpoint_notify_alerts_total{kind="firing"}', second_port)
        pair = mine[:2] + theirs[:2]
        await produce(stack.broker.bootstrap, topics.RAW, [r for c in pair for r in unanswered_inquiry(c)])
        everyone_fired = [_of(customer, "firing") for customer in pair]
        stack.hook.wait_for(
            "every customer's alert firing", lambda: all(fired(stack.hook) for fired in everyone_fired), 90
        )
        assert (
            stack.notify_metric('touchpoint_notify_alerts_total{kind="firing"}', second_port)
            >= firing_before + 2
        )

        # The second bridge dies without a goodbye: the first takes its partitions over and delivers what lands there.
        second.kill()
        wait_for(
            "the survivor to own every partition",
            lambda: _owned_partitions(stack.notify_port) == everything,
            90,
        )
        orphan = next(
            c
            for c in iter(lambda: _customer("orphan"), None)
            if f"{topic}:{_partition_of(c, count)}" in other
        )
        await produce(stack.broker.bootstrap, topics.RAW, unanswered_inquiry(orphan))
        stack.hook.wait_for(
            "the alert on the dead bridge's partition", lambda: _of(orphan, "firing")(stack.hook), 90
        )
    finally:
        second.stop()
