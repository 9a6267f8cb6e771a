"""Properties of identity resolution over any history: where a merge falls among the touchpoints changes nothing.

A person's touchpoints, some made anonymously (a device, an e-mail), and the identify events
that link those identifiers to the customer arrive in any order. Whatever the order, the
customer ends with the state folding every one of those touchpoints into it directly gives;
no anonymous profile of a linked identifier is left; and two customers never mix.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents import lifecycle
from agents.domain.state import CustomerState
from agents.ingest.decode import TouchpointDecoder
from agents.journey.track import JourneyTracker
from tests.agents.identity.drive import Partition
from tests.agents.journey.histories import CONFIG, histories, instant_of, replay
from tests.agents.journey.test_properties import order_independent
from tests.agents.journey.touchpoints import SALT

pytestmark = pytest.mark.unit

#: Each customer's anonymous identifiers: every identifier is one person's.
IDENTIFIERS = {
    "cust-a": ({"device_id": "dev-a"}, {"email": "anna@example.com"}),
    "cust-b": ({"device_id": "dev-b"}, {"phone": "+4930123456"}),
    "cust-c": ({"openid": "o-c"},),
}


def tracker() -> JourneyTracker:
    built = JourneyTracker(CONFIG, SALT)
    built.detection.detectors = []  # the journey's own order-independence; detectors merge in their own tests
    return built


@st.composite
def people(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(every touchpoint as its customer's, the same as delivered: some anonymous, plus identify events)."""
    events = draw(histories())
    delivered = []
    for event in events:
        anonymous = dict(event)
        if draw(st.booleans()):
            del anonymous["customer_id"]
            anonymous["identifiers"] = draw(st.sampled_from(IDENTIFIERS[event["customer_id"]]))
        delivered.append(anonymous)
    identifies = []
    for number, (customer, options) in enumerate(IDENTIFIERS.items()):
        if not draw(st.booleans()):
            continue
        claimed = draw(st.lists(st.sampled_from(options), min_size=1, max_size=len(options), unique_by=str))
        identify = {
            "schema_version": 1,
            "event_id": f"identify-{number}",
            "occurred_at": draw(st.sampled_from([event["occurred_at"] for event in events])),
            "customer_id": customer,
            "identifiers": {kind: value for identifier in claimed for kind, value in identifier.items()},
            "channel": "app",
            "type": "identify",
            "actor": "customer",
        }
        identifies.append(identify)
    every = [*events, *identifies]
    return every, draw(st.permutations([*delivered, *identifies]))


def linked(every: list[dict[str, Any]]) -> set[str]:
    """The identifiers some event naming its customer claims (the identify events)."""
    return {value for event in every for value in (event.get("identifiers") or {}).values()}


def expected(every: list[dict[str, Any]], delivered: list[dict[str, Any]]) -> dict[str, CustomerState]:
    """Each customer folding directly the touchpoints that end up theirs: its own, and the linked anonymous ones."""
    claims = linked(every)
    mine = []
    for event, sent in zip(every, _align(every, delivered), strict=True):
        anonymous = "customer_id" not in sent
        if not anonymous or set(sent["identifiers"].values()) <= claims:
            mine.append(event)
    return replay(sorted(mine, key=instant_of), tracker())


def _align(every: list[dict[str, Any]], delivered: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id = {event["event_id"]: event for event in delivered}
    return [by_id[event["event_id"]] for event in every]


def same(customer: str, got: CustomerState, wanted: CustomerState, latest: int) -> None:
    assert order_independent(got) == order_independent(wanted), customer
    assert got.purchase_value == pytest.approx(wanted.purchase_value, abs=1e-6)
    assert got.refund_value == pytest.approx(wanted.refund_value, abs=1e-6)
    assert (got.satisfaction is None) == (wanted.satisfaction is None)
    if wanted.satisfaction is not None:
        assert got.satisfaction == pytest.approx(wanted.satisfaction, abs=1e-9)
    rules = CONFIG.lifecycle
    assert lifecycle.classify(got, latest, rules) == lifecycle.classify(wanted, latest, rules), customer
    assert got.stage == lifecycle.classify(wanted, wanted.last_seen, rules), customer


@settings(max_examples=300, deadline=None)
@given(people())
def test_any_order_of_touchpoints_and_merges_gives_each_customer_the_state_of_all_its_touchpoints(
    case: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    every, delivered = case
    partition = Partition(tracker(), TouchpointDecoder(identity_salt=SALT))
    partition.send(*delivered)
    profiles = partition.profiles()
    latest = max(instant_of(event) for event in every)
    wanted = expected(every, delivered)
    customers = {key: state for key, state in profiles.items() if not key.startswith("id:")}
    assert set(customers) == set(wanted)
    for customer, state in wanted.items():
        same(customer, customers[customer], state, latest)
    # No anonymous profile is left of a linked identifier, and none was merged into a stranger.
    claims = linked(every)
    for options in IDENTIFIERS.values():
        for identifier in options:
            if set(identifier.values()) <= claims:
                assert _key(identifier) not in profiles, f"{identifier} was linked: its profile is merged"
    for merge in partition.merges:
        owners = {c for c, options in IDENTIFIERS.items() for o in options if _key(o) == merge.from_key}
        assert owners == {merge.into}


def _key(identifier: dict[str, str]) -> str:
    from agents.identity.keys import identifier_key

    ((kind, value),) = identifier.items()
    return identifier_key(kind, value, SALT)
