"""Enriched events: each touchpoint with a snapshot of its customer, identifiers masked, exactly as published."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import Any

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


def test_an_identifier_hashed_at_ingest_passes_unchanged() -> None:
    hashed = mask_identifiers({"email": "a@b.c"}, SALT)
    assert mask_identifiers(hashed, SALT) == hashed
    assert mask_identifiers(hashed, b"other") == hashed, "hashed once, under the ingest's key only"


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


def event_with_attributes() -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": "ev-2",
        "occurred_at": "2026-01-05T10:00:00+00:00",
        "customer_id": "cust-1",
        "channel": "web",
        "type": "visit",
        "actor": "customer",
        "attributes": {"plan": "gold", "note": "asked to be called back after six"},
    }


def touchpoint(event: dict[str, Any], attributes: Collection[str] | None) -> Any:
    record = orjson.loads(encode_enriched(event, state(), SALT, attributes=attributes))
    schemas.validator("enriched")(record)
    return record["touchpoint"]


def test_an_enriched_event_keeps_only_the_attributes_the_rules_file_allows() -> None:
    event = event_with_attributes()
    assert touchpoint(event, ("plan", "campaign")) == {**event, "attributes": {"plan": "gold"}}
    assert event["attributes"] == {"plan": "gold", "note": "asked to be called back after six"}, (
        "the caller's event is left alone"
    )


def test_an_enriched_event_with_no_allowed_attribute_has_no_attributes_at_all() -> None:
    event = event_with_attributes()
    plain = {key: value for key, value in event.items() if key != "attributes"}
    assert touchpoint(event, ()) == plain
    assert touchpoint(event, ("campaign",)) == plain


def test_without_an_allow_list_every_attribute_is_kept() -> None:
    event = event_with_attributes()
    assert touchpoint(event, None) == event


def test_an_event_without_attributes_is_published_as_it_came_whatever_is_allowed() -> None:
    event = {key: value for key, value in event_with_attributes().items() if key != "attributes"}
    assert touchpoint(event, ("plan",)) == event
    assert touchpoint({**event, "attributes": {}}, ("plan",)) == {**event, "attributes": {}}
