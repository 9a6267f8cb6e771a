"""What the journey publishes: a lifecycle transition, exactly as its contract says."""

from __future__ import annotations

import orjson
import pytest

import schemas
from agents.domain.alert import Alert
from agents.domain.outputs import Outputs, Transition

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


def alert(alert_id: str) -> Alert:
    return Alert(alert_id, "long_wait", "medium", "cust-1", T0, T0, "", (), (), "repeat", "", "")


def test_outputs_of_a_later_call_follow_those_of_an_earlier_one_in_every_list() -> None:
    first = Outputs(
        transitions=[Transition("cust-1", "repeat", "at_risk", T0, "inactivity", None)],
        alerts=[alert("long_wait/a")],
        suppressed=[("long_wait", "cooldown")],
        acknowledged=[(alert("long_wait/a"), 60)],
        resolved=[(alert("long_wait/b"), 120)],
    )
    later = Outputs(
        transitions=[Transition("cust-1", "at_risk", "lapsed", T0 + 1, "inactivity", None)],
        alerts=[alert("churn_risk/c")],
        suppressed=[("churn_risk", "inhibited")],
        acknowledged=[(alert("churn_risk/c"), 5)],
        resolved=[(alert("churn_risk/d"), 7)],
    )
    first.extend(later)
    assert [t.to_stage for t in first.transitions] == ["at_risk", "lapsed"]
    assert [a.alert_id for a in first.alerts] == ["long_wait/a", "churn_risk/c"]
    assert first.suppressed == [("long_wait", "cooldown"), ("churn_risk", "inhibited")]
    assert [(a.alert_id, seconds) for a, seconds in first.acknowledged] == [
        ("long_wait/a", 60),
        ("churn_risk/c", 5),
    ]
    assert [(a.alert_id, seconds) for a, seconds in first.resolved] == [
        ("long_wait/b", 120),
        ("churn_risk/d", 7),
    ]
