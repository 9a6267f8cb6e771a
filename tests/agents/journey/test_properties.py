"""Properties of the tracker over any history: counts add up, delivery order and redelivery do not matter."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schemas
from agents import lifecycle
from agents.domain.state import CustomerState
from tests.agents.journey.histories import CONFIG, TRACKER, histories, instant_of, replay

pytestmark = pytest.mark.unit


def test_generated_events_satisfy_the_touchpoint_contract_and_have_distinct_dedupe_digests() -> None:
    validate = schemas.validator("touchpoint")

    @settings(max_examples=50, deadline=None)
    @given(histories())
    def check(events: list[dict[str, Any]]) -> None:
        for event in events:
            validate(event)

    check()
    assert len({TRACKER.event_digest(f"ev-{n}") for n in range(60)}) == 60


@settings(max_examples=150, deadline=None)
@given(histories())
def test_every_stage_is_a_known_stage_and_counts_match_the_events(events: list[dict[str, Any]]) -> None:
    states = replay(events)
    for customer, state in states.items():
        own = [event for event in events if event["customer_id"] == customer]
        kinds = Counter(event["type"] for event in own)
        assert state.stage in lifecycle.STAGES
        assert state.events == len(own)
        assert state.purchase_count == kinds["purchase"]
        assert state.refund_count == kinds["refund"]
        assert state.complaints_total == kinds["complaint"]
        assert state.referrals == kinds["referral"]
        assert {channel: count for channel, (count, _) in state.channels.items()} == Counter(
            event["channel"] for event in own
        )
        unpriced = sum(1 for e in own if e["type"] == "purchase" and e["attributes"]["currency"] == "GBP")
        assert state.unpriced_purchases == unpriced
        rate = {"EUR": 1.0, "USD": 2.0, "GBP": 0.0}
        value = sum(
            e["attributes"]["amount"] * rate[e["attributes"]["currency"]]
            for e in own
            if e["type"] == "purchase"
        )
        assert state.purchase_value == pytest.approx(value, abs=1e-6)
        instants = [instant_of(event) for event in own]
        assert (state.first_seen, state.last_seen) == (min(instants), max(instants))
        assert state.stage == lifecycle.classify(state, state.last_seen, CONFIG.lifecycle)
        assert 0.0 <= (state.satisfaction if state.satisfaction is not None else 0.0) <= 1.0 + 1e-12
        assert (state.satisfaction is None) == (kinds["feedback"] == 0)


def order_independent(state: CustomerState) -> dict[str, Any]:
    """What must not depend on the order a customer's events are delivered in."""
    return {
        "events": state.events,
        "channels": state.channels,
        "purchase_count": state.purchase_count,
        "refund_count": state.refund_count,
        "unpriced_purchases": state.unpriced_purchases,
        "purchase_days": state.distinct_purchase_days,
        "purchase_day_list": state.purchase_days,
        "first_purchase": state.first_purchase,
        "last_purchase": state.last_purchase,
        "first_seen": state.first_seen,
        "last_seen": state.last_seen,
        "complaints_total": state.complaints_total,
        "complaints_open": set(state.complaints_open),
        "inquiries_open": set(state.inquiries_open),
        "csat": state.csat,
        "nps": state.nps,
        "referrals": state.referrals,
    }


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_shuffled_delivery_gives_the_same_totals_and_the_same_stage_at_the_same_instant(
    data: st.DataObject,
) -> None:
    events = data.draw(histories() | histories(dense=True), label="events")
    shuffled = data.draw(st.permutations(events), label="delivery")
    ordered_states, shuffled_states = replay(events), replay(shuffled)
    assert set(ordered_states) == set(shuffled_states)
    latest = max(instant_of(event) for event in events)
    for customer, ordered in ordered_states.items():
        late = shuffled_states[customer]
        assert order_independent(late) == order_independent(ordered), customer
        assert late.purchase_value == pytest.approx(ordered.purchase_value, abs=1e-6)
        assert late.refund_value == pytest.approx(ordered.refund_value, abs=1e-6)
        if ordered.satisfaction is not None:
            assert late.satisfaction == pytest.approx(ordered.satisfaction, abs=1e-9)
        rules = CONFIG.lifecycle
        assert lifecycle.classify(late, latest, rules) == lifecycle.classify(ordered, latest, rules), customer
        # The stage the tracker settled on is the ordered history's stage at the customer's latest time.
        assert late.stage == lifecycle.classify(ordered, ordered.last_seen, rules), customer


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_delivering_every_event_twice_changes_nothing(data: st.DataObject) -> None:
    events = data.draw(histories(), label="events")
    deliveries = list(events)
    # Each redelivery lands somewhere after its original: at most 30 distinct events apart, within the window of 32.
    for original in events:
        position = deliveries.index(original) + 1
        deliveries.insert(
            data.draw(st.integers(position, len(deliveries)), label="redelivery"), dict(original)
        )
    assert len(deliveries) == 2 * len(events)
    once, twice = replay(events), replay(deliveries)
    assert {customer: state.encode() for customer, state in twice.items()} == {
        customer: state.encode() for customer, state in once.items()
    }
