"""The CLI's Kafka clients key raw touchpoints by customer, never by a raw identifier."""

from __future__ import annotations

import orjson
import pytest

from agents.ingest.decode import Accepted, TouchpointDecoder
from streams.kafka import routing_key

pytestmark = pytest.mark.unit

KEY = b"routing-test-key-0123456789abcdef"


def _event(**reference: object) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "event_id": "ev-1",
            "occurred_at": "2026-01-05T10:00:00+01:00",
            "channel": "phone",
            "type": "call_started",
            "actor": "customer",
            **reference,
        }
    )


def test_a_customer_id_is_the_key() -> None:
    assert routing_key(_event(customer_id=" cust-42 "), KEY) == b"cust-42"


def test_identifiers_give_the_customer_key_ingest_derives_never_the_raw_values() -> None:
    raw = _event(identifiers={"email": " Anna.Berg@Example.com", "phone": "+4930 1234567"})
    key = routing_key(raw, KEY)
    outcome = TouchpointDecoder(identity_salt=KEY)(raw)
    assert isinstance(outcome, Accepted)
    assert key == outcome.customer_id.encode(), "the raw record's key is its customer's key downstream"
    assert key is not None
    assert b"anna" not in key.lower()
    assert b"1234567" not in key


def test_another_identity_key_gives_another_customer_key() -> None:
    raw = _event(identifiers={"phone": "+4930 1234567"})
    assert routing_key(raw, KEY) != routing_key(raw, b"another-key-0123456789abcdef")


@pytest.mark.parametrize(
    "value", [b"not json", b"[1]", _event(), _event(identifiers={"fax": "123"}), _event(identifiers="x")]
)
def test_what_cannot_be_keyed_goes_keyless(value: bytes) -> None:
    assert routing_key(value, KEY) is None
