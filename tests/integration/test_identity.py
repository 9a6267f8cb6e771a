"""Identity resolution on the real worker and broker: one customer across channels, never two people fused.

The story runs on story 1's worker (tests/after_hours.py: support never open, on call answers
within seconds), the household and the split on the session worker. Links and merges surviving
a restart are checked in tests/integration/test_journey.py, where a new worker recovers from the
changelog.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

import schemas
from agents.identity.keys import identifier_key
from streams import topics
from streams.local.broker import EmbeddedBroker
from streams.local.supervisor import WorkerProcess
from streams.settings import Settings
from tests.kafka_helpers import collect, produce

pytestmark = pytest.mark.integration

SALT = Settings.from_env().identity_key


def _touch(event_id: str, kind: str, *, who: str | None = None, ids: dict[str, str] | None = None,
           channel: str = "app", **extra: Any) -> bytes:  # fmt: skip
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_id": event_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "channel": channel,
        "type": kind,
        "actor": "customer",
        **extra,
    }
    if who is not None:
        event["customer_id"] = who
    if ids is not None:
        event["identifiers"] = ids
    return orjson.dumps(event)


def _device(run: str) -> dict[str, str]:
    hexa = uuid.uuid5(uuid.NAMESPACE_URL, run).hex
    return {"device_id": f"{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}"}


def _key(identifiers: dict[str, str]) -> str:
    ((kind, value),) = identifiers.items()
    return identifier_key(kind, value, SALT)


def _get(worker: WorkerProcess, path: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{worker.base_url}{path}", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _for(key: str) -> Any:
    return lambda k, _v: k == key.encode()


def _claims(worker: WorkerProcess, outcome: str) -> float:
    """``touchpoint_identity_claims_total`` of *outcome* on the worker's /metrics (0 before the first)."""
    with urllib.request.urlopen(f"{worker.base_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        if family.name == "touchpoint_identity_claims":
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.labels.get("outcome") == outcome:
                    return float(sample.value)
    return 0.0


async def test_the_evening_browser_who_logs_in_the_next_morning_is_one_customer_and_the_alert_names_them(
    after_hours: tuple[EmbeddedBroker, WorkerProcess], run_id: str
) -> None:
    broker, worker = after_hours
    device = _device(run_id)
    anonymous, customer = _key(device), f"{run_id}-anna"
    await produce(
        broker.bootstrap,
        topics.RAW,
        [
            _touch(f"{run_id}-visit", "visit", ids=device),
            _touch(f"{run_id}-view", "page_view", ids=device, attributes={"sku": "air-purifier-x2"}),
            _touch(f"{run_id}-ask", "inquiry", ids=device, channel="chat", conversation_id=f"{run_id}-c",
                   location="team-support", attributes={"topic": "discount"}),
        ],
    )  # fmt: skip
    alert_topic = topics.alert_topic("after_hours_unanswered")
    [(_, raised)] = await collect(broker.bootstrap, alert_topic, _for(anonymous), count=1, timeout=90)
    old = orjson.loads(raised)
    assert old["customer_id"] == anonymous, "nobody knew who asked"

    # The next morning: a log-in on the same device, then a purchase.
    await produce(
        broker.bootstrap,
        topics.RAW,
        [
            _touch(f"{run_id}-login", "identify", who=customer, ids=device),
            _touch(
                f"{run_id}-buy", "purchase", who=customer, attributes={"amount": 219.0, "currency": "EUR"}
            ),
        ],
    )
    [(_, merge_value)] = await collect(broker.bootstrap, topics.IDENTITY_MERGES, _for(customer), count=1)
    merge = orjson.loads(merge_value)
    schemas.validator("identity_merge")(merge)
    assert (merge["action"], merge["from"], merge["into"], merge["event_id"]) == (
        "merge",
        anonymous,
        customer,
        f"{run_id}-login",
    )
    [moved_id] = [pair["into"] for pair in merge["alerts"] if pair["from"] == old["alert_id"]]
    [(_, moved_value)] = await collect(
        broker.bootstrap,
        alert_topic,
        lambda k, v: k == customer.encode() and moved_id.encode() in v,
        1,
    )
    moved = orjson.loads(moved_value)
    schemas.validator("alert")(moved)
    assert moved["status"] == "open"
    assert moved["customer_id"] == customer
    assert f"Customer {customer} asked on chat" in moved["summary"]
    assert moved["evidence"] == [f"{run_id}-ask"]
    assert moved["details"]["merged_from"] == old["alert_id"]
    history = await collect(broker.bootstrap, alert_topic, _for(anonymous), count=2)
    assert [orjson.loads(v)["status"] for _, v in history] == ["open", "resolved"]
    assert orjson.loads(history[-1][1])["status_changed_by"] == "auto:merged"

    status, state = await asyncio.to_thread(_get, worker, f"/customers/{customer}")
    assert status == 200, state
    assert state["events"] == 5, "every touchpoint: two visits, the question, the log-in, the purchase"
    assert state["purchase_count"] == 1
    assert set(state["channels"]) == {"app", "chat"}
    assert state["merged_from"] == [anonymous]
    assert any(alert_id == moved_id for alert_id in state["alerts_open"])
    status, gone = await asyncio.to_thread(_get, worker, f"/customers/{anonymous}")
    assert (status, gone) == (404, {"error": "merged", "customer_id": anonymous, "merged_into": customer})


async def test_a_household_tablet_both_partners_log_in_on_is_two_customers_and_one_conflict(
    worker: WorkerProcess, broker: EmbeddedBroker, run_id: str
) -> None:
    tablet = _device(run_id)
    anna, ben = f"{run_id}-anna", f"{run_id}-ben"
    # Keyless records land on random partitions: the anonymous visit must be applied before Anna's log-in,
    # or the log-in's claim comes first, the visit goes straight to Anna and there is nothing to merge.
    await produce(broker.bootstrap, topics.RAW, [_touch(f"{run_id}-t1", "visit", ids=tablet)])
    await collect(broker.bootstrap, topics.ENRICHED, _for(_key(tablet)), count=1)
    await produce(
        broker.bootstrap,
        topics.RAW,
        [
            _touch(f"{run_id}-anna-login", "identify", who=anna, ids=tablet),
            _touch(
                f"{run_id}-anna-buy", "purchase", who=anna, attributes={"amount": 30.0, "currency": "EUR"}
            ),
        ],
    )
    await collect(broker.bootstrap, topics.IDENTITY_MERGES, _for(anna), count=1)
    repeated = await asyncio.to_thread(_claims, worker, "already")
    await produce(
        broker.bootstrap,
        topics.RAW,
        [
            _touch(f"{run_id}-ben-login", "identify", who=ben, ids=tablet),
            _touch(f"{run_id}-ben-buy", "purchase", who=ben, attributes={"amount": 90.0, "currency": "EUR"}),
            _touch(f"{run_id}-ben-login-2", "identify", who=ben, ids=tablet),
        ],
    )

    def both(anna_events: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
        (a_status, a), (b_status, b) = _get(worker, f"/customers/{anna}"), _get(worker, f"/customers/{ben}")
        ready = a_status == b_status == 200 and (a["events"], b["events"]) == (anna_events, 3)
        return (a, b) if ready else None

    from tests.kafka_helpers import wait_for

    a, b = await asyncio.to_thread(wait_for, "both customers", lambda: both(3), 60)
    assert (a["events"], a["purchase_value"], a["merged_from"]) == (3, 30.0, [_key(tablet)])
    assert (b["events"], b["purchase_value"], b["merged_from"]) == (3, 90.0, [])

    # A later anonymous visit on the shared tablet goes to the first customer (docs/identity.md). It follows
    # Ben's claims on the tablet's partition, so once it is applied every claim of his has been decided.
    await produce(broker.bootstrap, topics.RAW, [_touch(f"{run_id}-t2", "visit", ids=tablet)])
    await asyncio.to_thread(wait_for, "the visit applied to Anna", lambda: both(4), 60)
    conflicts = await collect(broker.bootstrap, topics.IDENTITY_CONFLICTS, _for(_key(tablet)), count=1)
    assert len(conflicts) == 1, "one conflict: Ben's second log-in changes nothing"
    # ... and is counted all the same (other tests on this worker may count more).
    assert await asyncio.to_thread(_claims, worker, "already") >= repeated + 1
    conflict = orjson.loads(conflicts[0][1])
    schemas.validator("identity_conflict")(conflict)
    assert (conflict["customers"], conflict["outcome"]) == ([anna, ben], "shared")
    merges = await collect(broker.bootstrap, topics.IDENTITY_MERGES, _for(ben), count=0, timeout=5)
    assert merges == [], "nothing merged into the second customer"


async def test_an_operator_splits_a_merge_and_the_profile_comes_back_as_it_was(
    worker: WorkerProcess, broker: EmbeddedBroker, run_id: str
) -> None:
    device = _device(run_id)
    anonymous, customer = _key(device), f"{run_id}-carl"
    await produce(
        broker.bootstrap,
        topics.RAW,
        [
            _touch(f"{run_id}-v1", "visit", ids=device),
            _touch(f"{run_id}-v2", "page_view", ids=device, channel="web"),
        ],
    )
    await collect(broker.bootstrap, topics.ENRICHED, _for(anonymous), count=2)
    await produce(
        broker.bootstrap, topics.RAW, [_touch(f"{run_id}-login", "identify", who=customer, ids=device)]
    )
    await collect(broker.bootstrap, topics.IDENTITY_MERGES, _for(customer), count=1)
    status, merged = await asyncio.to_thread(_get, worker, f"/customers/{customer}")
    assert (status, merged["events"]) == (200, 3)

    split = subprocess.run(
        [sys.executable, "-m", "streams.cli", "identity", "split", anonymous, customer, "--by", "ops",
         "--reason", "the partner's phone", "--broker", broker.url],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert split.returncode == 0, split.stderr
    assert f"{anonymous} is split from {customer}" in split.stdout
    records = await collect(broker.bootstrap, topics.IDENTITY_MERGES, _for(customer), count=2)
    undone = orjson.loads(records[-1][1])
    schemas.validator("identity_merge")(undone)
    assert (undone["action"], undone["from"], undone["by"], undone["reason"]) == (
        "split",
        anonymous,
        "ops",
        "the partner's phone",
    )

    from tests.kafka_helpers import wait_for

    def restored() -> dict[str, Any] | None:
        status, body = _get(worker, f"/customers/{anonymous}")
        return body if status == 200 else None

    profile = await asyncio.to_thread(wait_for, "the restored profile", restored, 60)
    assert (profile["events"], set(profile["channels"])) == (2, {"app", "web"})
    status, carl = await asyncio.to_thread(_get, worker, f"/customers/{customer}")
    assert (status, carl["events"], list(carl["channels"]), carl["merged_from"]) == (200, 1, ["app"], [])

    # Not linked again automatically: Carl's next log-in on that device merges nothing.
    await produce(
        broker.bootstrap, topics.RAW, [_touch(f"{run_id}-login-2", "identify", who=customer, ids=device)]
    )
    await asyncio.to_thread(wait_for, "the log-in applied", lambda: _events(worker, customer, 2), 60)
    # A later visit on the device stays with its own profile. It follows Carl's claim on the device's
    # partition, so once it is applied the claim has been decided.
    await produce(broker.bootstrap, topics.RAW, [_touch(f"{run_id}-v3", "visit", ids=device)])
    await asyncio.to_thread(wait_for, "the visit on the profile", lambda: _events(worker, anonymous, 3), 60)
    again = await collect(broker.bootstrap, topics.IDENTITY_MERGES, _for(customer), count=2)
    assert len(again) == 2, "the merge and the split, nothing more"

    refused = subprocess.run(
        [sys.executable, "-m", "streams.cli", "identity", "split", anonymous, customer, "--broker", broker.url],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "split refused" in refused.stderr


def _events(worker: WorkerProcess, customer: str, events: int) -> bool:
    """Whether *customer*'s profile holds *events* touchpoints."""
    status, body = _get(worker, f"/customers/{customer}")
    return status == 200 and body["events"] == events
