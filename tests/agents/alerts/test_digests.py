"""First-response warnings grouped per queue and interval, made where every partition's items meet.

The coordinator (agents/coordination/coordinator.py) gets each partition's warnings (``DueSoon``
items), the answers to them, and each partition's progress; it publishes an interval's digests only
once every partition's clock has passed the interval's end. Day 0 is Tuesday 6 January 2026.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest

import schemas
from agents.alerts.digests import QUEUE, SETTLED
from agents.config import config_from_mapping, default_config
from agents.coordination.coordinator import Coordinator
from agents.coordination.progress import Progress, encode_signals
from agents.domain.alert import FIRST_RESPONSE_DUE_SOON, OPEN, RESOLVED, Alert, DueSoon

pytestmark = pytest.mark.unit

MINUTE = 60
#: 10:00 UTC on Tuesday 6 January 2026 (11:00 in Berlin, support staffed).
T0 = int(datetime.fromisoformat("2026-01-06T10:00:00+00:00").timestamp())
INTERVAL = 5 * MINUTE


def item(
    customer: str,
    warn_minute: float,
    channel: str = "chat",
    location: str | None = "store-berlin-mitte",
    **extra: Any,
) -> DueSoon:
    warn_at = T0 + round(warn_minute * MINUTE)
    return DueSoon(
        item_id=f"first_response_due_soon/{customer}/{warn_minute}",
        customer_id=customer,
        channel=channel,
        location=location,
        evidence=f"ev-{customer}-{warn_minute}",
        asked_at=warn_at - 5 * MINUTE,
        warn_at=warn_at,
        deadline=warn_at + 10 * MINUTE,
        severity=extra.get("severity", "info"),
        reasons=extra.get("reasons", ("first_response_due_soon",)),
        topic=extra.get("topic"),
        stage="prospect",
        value_tier="bronze",
    )


def coordinator(partitions: int = 2) -> Coordinator:
    return Coordinator(default_config(), partitions)


def passed(hub: Coordinator, partition: int, minute: float) -> list[Alert]:
    return hub.passed(Progress(partition, T0 + round(minute * MINUTE))).alerts


def valid(alert: Alert) -> Alert:
    schemas.validator("alert")(orjson.loads(alert.encode()))
    return alert


def test_the_default_groups_warnings_into_five_minute_digests() -> None:
    assert default_config().sla.warning_digest_minutes == 5
    assert coordinator().digests is not None
    assert Coordinator(config_from_mapping({"sla": {"warning_digest_minutes": 0}}), 2).digests is None


def test_one_queues_warnings_from_every_partition_make_one_digest_once_every_partition_passed_the_interval() -> (
    None
):
    hub = coordinator()
    hub.due_soon(item("cust-1", 1))  # from partition 0
    hub.due_soon(
        item("cust-2", 3, severity="warning", reasons=("first_response_due_soon", "purchase_intent"))
    )
    assert passed(hub, 0, 6) == []  # partition 1 has not said it passed 10:05 yet: it may still warn
    [digest] = passed(hub, 1, 5)
    valid(digest)
    assert (digest.type, digest.status, digest.customer_id) == (
        FIRST_RESPONSE_DUE_SOON,
        OPEN,
        QUEUE + "chat:store-berlin-mitte",
    )
    assert digest.detected_at == T0 + INTERVAL
    assert digest.severity == "warning"  # the most urgent item's
    assert "purchase_intent" in digest.reasons
    assert [entry["customer_id"] for entry in digest.details["items"]] == [
        "cust-1",
        "cust-2",
    ]  # earliest deadline first
    assert set(digest.evidence) == {"ev-cust-1-1", "ev-cust-2-3"}
    assert "2 chat inquiries" in digest.summary


def test_each_queue_and_each_interval_has_its_own_digest() -> None:
    hub = coordinator(partitions=1)
    hub.due_soon(item("cust-1", 1))
    hub.due_soon(item("cust-2", 2, channel="email"))
    hub.due_soon(item("cust-3", 2, location="store-hamburg-altona"))
    hub.due_soon(item("cust-4", 7))
    first = passed(hub, 0, 5)
    assert sorted(d.customer_id for d in first) == [
        QUEUE + "chat:store-berlin-mitte",
        QUEUE + "chat:store-hamburg-altona",
        QUEUE + "email:store-berlin-mitte",
    ]
    [second] = passed(hub, 0, 10)
    assert [entry["customer_id"] for entry in second.details["items"]] == ["cust-4"]
    assert second.alert_id not in {d.alert_id for d in first}


def test_an_inquiry_answered_before_the_interval_ends_is_left_out_and_a_digest_of_none_is_not_sent() -> None:
    hub = coordinator(partitions=1)
    one, two = item("cust-1", 1), item("cust-2", 2)
    hub.due_soon(one)
    hub.due_soon(two)
    hub.answered(one.item_id, T0 + 4 * MINUTE)
    [digest] = passed(hub, 0, 5)
    assert [entry["customer_id"] for entry in digest.details["items"]] == ["cust-2"]

    hub.due_soon(item("cust-3", 6))
    hub.answered(item("cust-3", 6).item_id, T0 + 7 * MINUTE)
    assert [d for d in passed(hub, 0, 10) if d.status == OPEN] == []


def test_a_digest_ends_settled_at_its_last_deadline_and_says_how_many_were_answered_in_time() -> None:
    hub = coordinator(partitions=1)
    one, two = item("cust-1", 1), item("cust-2", 2)
    hub.due_soon(one)
    hub.due_soon(two)
    [digest] = passed(hub, 0, 5)
    hub.answered(one.item_id, T0 + 8 * MINUTE)  # before its 10:11 deadline
    assert passed(hub, 0, 11.9) == []
    [ended] = passed(hub, 0, 12)  # cust-2's deadline, the last
    valid(ended)
    assert (ended.alert_id, ended.status, ended.status_changed_by) == (digest.alert_id, RESOLVED, SETTLED)
    assert ended.status_changed_at == two.deadline
    assert (ended.details["answered_in_time"], ended.details["breached"]) == (1, 1)


def test_the_coordination_records_carry_the_same_digests_as_direct_calls() -> None:
    direct, by_records = coordinator(), coordinator()
    items = [item("cust-1", 1), item("cust-2", 3)]
    for partition, entry in enumerate(items):
        direct.due_soon(entry)
        for record in encode_signals(partition, [entry], [], None):
            by_records.apply(record)
    expected = [passed(direct, p, 5) for p in (0, 1)]
    got = [
        [
            alert
            for record in encode_signals(p, [], [], Progress(p, T0 + INTERVAL))
            for alert in by_records.apply(record).alerts
        ]
        for p in (0, 1)
    ]
    assert [[a.to_dict() for a in batch] for batch in got] == [
        [a.to_dict() for a in batch] for batch in expected
    ]


def test_the_coordinators_state_survives_a_restart_mid_interval() -> None:
    hub = coordinator()
    hub.due_soon(item("cust-1", 1))
    passed(hub, 0, 6)
    again = coordinator()
    again.load(orjson.loads(orjson.dumps(hub.to_json())))
    [digest] = passed(again, 1, 5)
    assert [entry["customer_id"] for entry in digest.details["items"]] == ["cust-1"]


def test_a_busy_queues_digest_lists_the_most_urgent_hundred_and_counts_them_all() -> None:
    from agents.alerts.digests import LISTED

    hub = coordinator(1)
    for number in range(5 * LISTED):
        hub.due_soon(item(f"cust-{number:04d}", 1 + number / (10 * LISTED)))
    (digest,) = passed(hub, 0, 5)
    valid(digest)
    assert digest.details["count"] == 5 * LISTED
    assert len(digest.details["items"]) == LISTED
    assert digest.details["items"][0]["customer_id"] == "cust-0000"
    assert len(digest.encode()) < 100_000
