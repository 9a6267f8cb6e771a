"""Enriched events: each touchpoint with a snapshot of its customer, identifiers masked, exactly as published."""

from __future__ import annotations

import hashlib

import orjson
import pytest

import schemas
from agents.domain.state import CustomerState
from agents.journey.enriched import ModelView, customer_snapshot, encode_enriched, mask_identifiers

pytestmark = pytest.mark.unit

SALT = b"test-salt"
T0 = 1_767_607_200  # 2026-01-05T10:00:00Z


def test_identifiers_are_masked_by_a_keyed_hash_per_kind() -> None:
    masked = mask_identifiers({"email": "a@b.c", "phone": "+49"}, SALT)
    assert masked == {
        kind: "h:" + hashlib.blake2b(f"{kind}:{value}".encode(), digest_size=10, key=SALT).hexdigest()
        for kind, value in (("email", "a@b.c"), ("phone", "+49"))
    }
    assert mask_identifiers({"email": "a@b.c"}, b"other") != {"email": masked["email"]}


def state() -> CustomerState:
    return CustomerState(
        stage="repeat",
        stage_since=T0,
        value_tier="silver",
        purchase_count=3,
        purchase_value=420.123,
        refund_value=20.0,
        inquiries_open={"conv-1": T0, "conv-2": T0},
        complaints_open={"issue-1": T0},
        satisfaction_sum=2.0,
        satisfaction_weight=3.0,
        events=17,
        clv=151.5,
    )


def test_the_customer_snapshot_says_what_downstream_services_may_know() -> None:
    assert customer_snapshot(state(), ModelView(p_alive=0.12345678, best_customer=True)) == {
        "stage": "repeat",
        "stage_since": "2026-01-05T10:00:00+00:00",
        "value_tier": "silver",
        "purchase_count": 3,
        "net_value": 400.12,
        "open_inquiries": 2,
        "open_complaints": 1,
        "satisfaction": 0.667,
        "touchpoints": 17,
        "p_alive": 0.123457,
        "clv": 151.5,
        "best_customer": True,
    }


def test_without_a_model_reading_there_is_no_p_alive_and_no_best_customer() -> None:
    snapshot = customer_snapshot(CustomerState(stage="prospect", stage_since=T0))
    assert (snapshot["p_alive"], snapshot["best_customer"], snapshot["satisfaction"]) == (None, False, None)
    assert customer_snapshot(state(), ModelView(0.9, best_customer=False))["best_customer"] is False


def test_an_enriched_event_masks_identifiers_and_leaves_the_event_it_was_given_alone() -> None:
    event = {
        "schema_version": 1,
        "event_id": "ev-1",
        "occurred_at": "2026-01-05T10:00:00+00:00",
        "customer_id": "cust-1",
        "channel": "web",
        "type": "visit",
        "actor": "customer",
        "identifiers": {"email": "a@b.c"},
    }
    record = orjson.loads(encode_enriched(event, state(), SALT, ModelView(0.5, best_customer=False)))
    assert record["schema_version"] == 1
    assert record["touchpoint"] == {**event, "identifiers": mask_identifiers({"email": "a@b.c"}, SALT)}
    assert record["customer"] == customer_snapshot(state(), ModelView(0.5, best_customer=False))
    assert event["identifiers"] == {"email": "a@b.c"}, "the caller's event keeps its raw identifiers"
    schemas.validator("enriched")(record)
    plain = {key: value for key, value in event.items() if key != "identifiers"}
    assert orjson.loads(encode_enriched(plain, state(), SALT))["touchpoint"] == plain
