"""What the journey publishes: a lifecycle transition, exactly as its contract says."""

from __future__ import annotations

import orjson
import pytest

import schemas
from agents.domain.outputs import Transition

pytestmark = pytest.mark.unit

T0 = 1_767_607_200  # 2026-01-05T10:00:00Z


def test_a_transition_is_encoded_per_its_contract() -> None:
    record = orjson.loads(Transition("cust-1", "repeat", "at_risk", T0, "inactivity", None).encode())
    assert record == {
        "schema_version": 1,
        "customer_id": "cust-1",
        "from": "repeat",
        "to": "at_risk",
        "at": "2026-01-05T10:00:00+00:00",
        "cause": "inactivity",
        "event_id": None,
    }
    schemas.validator("lifecycle_transition")(record)
    first = orjson.loads(Transition("cust-1", None, "prospect", T0, "visit", "ev-1").encode())
    assert (first["from"], first["event_id"]) == (None, "ev-1")
