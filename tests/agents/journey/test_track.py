"""What the tracker keeps per customer, and the records it publishes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest

import schemas
from agents.alerts.sla import HANDLED
from agents.config import config_from_mapping
from agents.domain.instants import DAY, day_number, iso
from agents.domain.refusal import STALE_ACTION, UNKNOWN_ALERT, Rejected
from agents.journey.track import INACTIVITY, WIN_BACK, JourneyTracker
from agents.lifecycle import LAPSED
from agents.models.customer import CustomerModel
from tests.agents.journey.touchpoints import (
    SALT,
    Journey,
    complaint,
    feedback,
    inquiry,
    instant,
    purchase,
    referral,
    refund,
    reply,
    resolution,
    touchpoint,
    visit,
)

pytestmark = pytest.mark.unit

PRICED = config_from_mapping({"currency": {"base": "EUR", "rates": {"USD": 0.5}}})
MASKED = re.compile(r"^h:[0-9a-f]{20}$")


def journey_of(*events: dict[str, Any], rules: dict[str, Any] | None = None) -> Journey:
    journey = Journey(config_from_mapping(rules) if rules is not None else PRICED)
    journey.send(*events)
    return journey


# --- channels ----------------------------------------------------------------------------------------------


def test_touchpoints_are_counted_per_channel_with_the_last_touch() -> None:
    journey = journey_of(visit(0, channel="web"), visit(1, channel="store"), visit(2, channel="web"))
    assert journey.current.channels == {"web": [2, instant(2)], "store": [1, instant(1)]}
    assert journey.current.events == 3
    assert (journey.current.first_seen, journey.current.last_seen) == (instant(0), instant(2))


def test_a_late_touch_counts_but_does_not_move_the_channels_last_touch_back() -> None:
    journey = journey_of(visit(0, channel="web"), visit(5, channel="web"), visit(3, channel="web"))
    assert journey.current.channels["web"] == [3, instant(5)]
    assert journey.current.last_seen == instant(5)


def test_a_late_touch_moves_first_seen_back() -> None:
    journey = journey_of(visit(5), visit(2))
    assert (journey.current.first_seen, journey.current.last_seen) == (instant(2), instant(5))


# --- money ------------------------------------------------------------------------------------------------


def test_purchases_are_counted_and_valued_in_the_base_currency() -> None:
    journey = journey_of(purchase(0, 100.0, "EUR"), purchase(1, 50.0, "USD"))
    state = journey.current
    assert (state.purchase_count, state.purchase_value, state.unpriced_purchases) == (2, 125.0, 0)
    assert (state.first_purchase, state.last_purchase) == (instant(0), instant(1))


def test_a_purchase_in_an_unknown_currency_counts_as_unpriced_with_no_value() -> None:
    journey = Journey(PRICED)
    [priced, unpriced] = journey.send(purchase(0, 100.0, "EUR"), purchase(1, 80.0, "GBP"))
    state = journey.current
    assert (state.purchase_count, state.purchase_value, state.unpriced_purchases) == (2, 100.0, 1)
    assert (priced.unpriced, unpriced.unpriced) == (False, True)
    assert state.distinct_purchase_days == 2  # still a purchase: it counts for the stage


def test_refunds_reduce_net_value() -> None:
    journey = journey_of(purchase(0, 300.0), refund(2, 40.0, "USD"), refund(3, 60.0))
    state = journey.current
    assert (state.refund_count, state.refund_value) == (2, 80.0)
    assert state.net_value == 220.0
    assert state.purchase_value == 300.0


def test_a_refund_in_an_unknown_currency_counts_with_no_value() -> None:
    journey = Journey(PRICED)
    [_, step] = journey.send(purchase(0, 300.0), refund(2, 40.0, "JPY"))
    assert step.unpriced
    assert (journey.current.refund_count, journey.current.refund_value) == (1, 0.0)
    assert journey.current.net_value == 300.0


@pytest.mark.parametrize(
    ("amounts", "tier"),
    [
        pytest.param([0.0], "bronze", id="nothing spent is bronze"),
        pytest.param([249.99], "bronze", id="just under silver"),
        pytest.param([250.0], "silver", id="exactly silver"),
        pytest.param([600.0, 399.99], "silver", id="just under gold over two purchases"),
        pytest.param([1000.0], "gold", id="exactly gold"),
        pytest.param([4999.0], "gold", id="just under platinum"),
        pytest.param([2500.0, 2500.0], "platinum", id="platinum over two purchases"),
        pytest.param([10_000.0, -9_800.0], "bronze", id="refunds bring platinum down to bronze"),
        pytest.param([100.0, -300.0], "bronze", id="a negative net value is the lowest tier"),
    ],
)
def test_value_tier_follows_net_value(amounts: list[float], tier: str) -> None:
    events = [
        purchase(day, amount) if amount >= 0 else refund(day, -amount) for day, amount in enumerate(amounts)
    ]
    assert journey_of(*events).current.value_tier == tier


def test_value_tiers_come_from_the_rules() -> None:
    rules = {"value_tiers": [{"name": "standard", "min_value": 0}, {"name": "best", "min_value": 2000}]}
    assert journey_of(purchase(0, 1999.0), rules=rules).current.value_tier == "standard"
    assert journey_of(purchase(0, 2000.0), rules=rules).current.value_tier == "best"


# --- complaints -------------------------------------------------------------------------------------------


def test_complaints_are_open_until_their_issue_is_resolved() -> None:
    journey = journey_of(complaint(0, "a"), complaint(1, "b"), complaint(2, "a"), resolution(3, "a"))
    state = journey.current
    assert state.complaints_open == {"b": instant(1)}
    assert (state.complaints_total, state.complaints_resolved) == (3, 1)
    assert state.recently_resolved == {"a": instant(3)}


def test_a_repeated_complaint_keeps_the_latest_instant_of_the_open_issue() -> None:
    journey = journey_of(complaint(2, "a"), complaint(4, "a"), complaint(1, "a"))
    assert journey.current.complaints_open == {"a": instant(4)}
    assert journey.current.complaints_total == 3


@pytest.mark.parametrize(
    "order",
    [
        pytest.param((0, 1, 2), id="in order"),
        pytest.param((2, 0, 1), id="reopening complaint first"),
        pytest.param((0, 2, 1), id="resolution last"),
        pytest.param((2, 1, 0), id="reversed"),
    ],
)
def test_a_reopened_issue_stays_open_whatever_order_its_events_arrive_in(order: tuple[int, ...]) -> None:
    history = [complaint(1, "a"), resolution(2, "a"), complaint(3, "a")]
    journey = journey_of(*(history[index] for index in order))
    assert journey.current.complaints_open == {"a": instant(3)}


def test_a_resolution_arriving_before_its_late_complaint_leaves_the_issue_closed() -> None:
    journey = journey_of(visit(0), resolution(5, "a"), complaint(3, "a"))
    state = journey.current
    assert state.complaints_open == {}
    assert (state.complaints_total, state.complaints_resolved) == (1, 1)


def test_a_complaint_after_the_resolution_reopens_the_issue() -> None:
    journey = journey_of(complaint(1, "a"), resolution(2, "a"), complaint(3, "a"))
    assert journey.current.complaints_open == {"a": instant(3)}


def test_a_late_resolution_older_than_the_complaint_does_not_close_it() -> None:
    journey = journey_of(complaint(5, "a"), resolution(3, "a"))
    assert journey.current.complaints_open == {"a": instant(5)}


def test_a_resolution_with_no_complaint_about_another_issue_leaves_open_ones_open() -> None:
    journey = journey_of(complaint(1, "a"), resolution(2, "b"))
    assert journey.current.complaints_open == {"a": instant(1)}


# --- inquiries --------------------------------------------------------------------------------------------


def test_an_inquiry_stays_open_until_an_agent_replies_in_its_conversation() -> None:
    journey = journey_of(inquiry(0, "c1"), inquiry(0.1, "c2"))
    assert journey.current.inquiries_open == {"c1": instant(0), "c2": instant(0.1)}
    journey.send(reply(0.2, "c1", actor="bot"), reply(0.3, "c1", actor="customer"), reply(0.3, "c2"))
    assert journey.current.inquiries_open == {"c1": instant(0)}, "only an agent's reply answers"
    journey.send(reply(0.4, "c1", actor="agent"))
    assert journey.current.inquiries_open == {}
    assert journey.current.recently_answered == {"c1": instant(0.4), "c2": instant(0.3)}


def test_follow_up_inquiries_keep_the_latest_unanswered_instant() -> None:
    journey = journey_of(inquiry(1, "c1"), inquiry(2, "c1"), inquiry(0.5, "c1"))
    assert journey.current.inquiries_open == {"c1": instant(2)}


@pytest.mark.parametrize(
    "order",
    [
        pytest.param((0, 1, 2), id="in order"),
        pytest.param((2, 0, 1), id="follow-up first"),
        pytest.param((0, 2, 1), id="reply last"),
        pytest.param((2, 1, 0), id="reversed"),
    ],
)
def test_an_inquiry_after_the_reply_stays_open_whatever_order_they_arrive_in(order: tuple[int, ...]) -> None:
    history = [inquiry(1, "c1"), reply(2, "c1"), inquiry(3, "c1")]
    journey = journey_of(*(history[index] for index in order))
    assert journey.current.inquiries_open == {"c1": instant(3)}


def test_a_late_inquiry_older_than_the_reply_stays_closed() -> None:
    journey = journey_of(inquiry(1, "c1"), reply(2, "c1"), inquiry(1.5, "c1"))
    assert journey.current.inquiries_open == {}


def test_an_inquiry_after_the_reply_reopens_the_conversation() -> None:
    journey = journey_of(inquiry(1, "c1"), reply(2, "c1"), inquiry(3, "c1"))
    assert journey.current.inquiries_open == {"c1": instant(3)}


def test_a_reply_older_than_the_inquiry_does_not_answer_it() -> None:
    journey = journey_of(inquiry(3, "c1"), reply(2, "c1"))
    assert journey.current.inquiries_open == {"c1": instant(3)}


def test_an_inquiry_made_by_an_agent_opens_nothing() -> None:
    journey = journey_of(inquiry(0, "c1", actor="agent"), inquiry(0, "c2", actor="bot"))
    assert journey.current.inquiries_open == {}


def test_without_a_conversation_id_each_channel_is_one_conversation() -> None:
    journey = journey_of(inquiry(0, None, channel="chat"), inquiry(0, None, channel="email"))
    journey.send(reply(1, None, channel="chat"))
    assert journey.current.inquiries_open == {"channel:email": instant(0)}


# --- feedback ---------------------------------------------------------------------------------------------


def test_latest_csat_and_nps_are_kept_by_event_time_even_when_delivered_out_of_order() -> None:
    journey = journey_of(feedback(5, csat=4), feedback(8, nps=9), feedback(3, csat=1, nps=2))
    assert journey.current.csat == [4, instant(5)]
    assert journey.current.nps == [9, instant(8)]
    journey.send(feedback(9, csat=2))
    assert journey.current.csat == [2, instant(9)]


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        pytest.param([{"csat": 5}], 1.0, id="top csat is 1"),
        pytest.param([{"csat": 1}], 0.0, id="bottom csat is 0"),
        pytest.param([{"nps": 10}], 1.0, id="top nps is 1"),
        pytest.param([{"nps": 0}], 0.0, id="bottom nps is 0"),
        pytest.param([{"csat": 4, "nps": 6}], 0.675, id="one answer with both scores is their mean"),
        pytest.param([{"csat": 3}, {"nps": 10}, {"csat": 1}], 0.5, id="same-day answers weigh the same"),
    ],
)
def test_rolling_satisfaction_maps_scores_into_zero_to_one(
    scores: list[dict[str, int]], expected: float
) -> None:
    journey = journey_of(*(feedback(0, **score) for score in scores))
    assert journey.current.satisfaction == pytest.approx(expected)


def test_satisfaction_is_none_without_feedback() -> None:
    assert journey_of(visit(0), purchase(1)).current.satisfaction is None


def test_older_feedback_weighs_half_after_one_half_life_in_either_delivery_order() -> None:
    old, new = feedback(0, csat=1), feedback(90, csat=5)  # default half-life: 90 days
    in_order, reversed_order = journey_of(old, new), journey_of(new, old)
    expected = (0.0 * 0.5 + 1.0 * 1.0) / 1.5
    assert in_order.current.satisfaction == pytest.approx(expected)
    assert reversed_order.current.satisfaction == pytest.approx(expected)


def test_satisfaction_half_life_comes_from_the_rules() -> None:
    journey = journey_of(
        feedback(0, csat=1), feedback(30, csat=5), rules={"state": {"satisfaction_half_life_days": 30}}
    )
    assert journey.current.satisfaction == pytest.approx(1.0 / 1.5)


def test_referrals_are_counted() -> None:
    assert journey_of(referral(0), referral(1)).current.referrals == 2


# --- duplicates -------------------------------------------------------------------------------------------


def test_a_redelivered_event_is_dropped_and_leaves_the_state_unchanged() -> None:
    first = purchase(0, 100.0, event_id="ev-dup")
    journey = journey_of(first, visit(1))
    before = journey.current.encode()
    [step] = journey.send(dict(first))  # the same record again: a redelivery
    assert step.duplicate
    assert step.refused is None
    assert (step.transitions, step.enriched) == ([], None)
    assert step.state is journey.current
    assert journey.current.encode() == before


def test_the_same_event_id_with_other_content_is_refused_as_a_conflicting_duplicate() -> None:
    journey = journey_of(purchase(0, 100.0, event_id="ev-dup"), visit(1))
    before = journey.current.encode()
    [step] = journey.send(purchase(7, 999.0, event_id="ev-dup"))  # same id, another purchase
    assert not step.duplicate
    assert step.refused is not None
    assert (step.refused.reason, step.refused.field) == ("conflicting_duplicate", "event_id")
    assert "'ev-dup' was already applied for this customer with other content" in step.refused.message
    assert (step.transitions, step.alerts, step.enriched) == ([], [], None)
    assert journey.current.encode() == before
    assert journey.current.purchase_value == 100.0


def test_ids_whose_crc32_collide_are_two_events() -> None:
    # CRC-32("order-29685295") == CRC-32("order-32060020"): the old dedupe merged these two purchases.
    import zlib

    assert zlib.crc32(b"order-29685295") == zlib.crc32(b"order-32060020")
    journey = journey_of(purchase(0, 100.0, event_id="order-29685295"))
    [step] = journey.send(purchase(1, 200.0, event_id="order-32060020"))
    assert not step.duplicate
    assert step.refused is None
    assert (journey.current.purchase_count, journey.current.purchase_value) == (2, 300.0)


def test_an_event_far_older_than_the_customers_history_is_refused_as_too_old() -> None:
    journey = journey_of(*(purchase(30.0 * month, 50.0) for month in range(4)))
    before = journey.current.encode()
    [step] = journey.send(purchase(-20_000, 5.0, event_id="ev-1971"))  # ~55 years earlier
    assert step.refused is not None
    assert (step.refused.reason, step.refused.field) == ("too_old", "occurred_at")
    assert "before this customer's first event" in step.refused.message
    assert journey.current.encode() == before


def test_a_late_event_within_the_allowed_age_still_counts() -> None:
    journey = journey_of(purchase(400, 50.0), purchase(430, 50.0))
    [step] = journey.send(purchase(100, 20.0, event_id="ev-late"))  # 300 days before the first: allowed
    assert step.refused is None
    assert not step.duplicate
    assert journey.current.purchase_count == 3
    assert journey.current.first_purchase < journey.current.last_purchase


def test_a_redelivery_beyond_the_dedupe_window_is_applied_again() -> None:
    journey = journey_of(visit(0, event_id="ev-a"), rules={"state": {"dedupe_window": 2}})
    journey.send(visit(1, event_id="ev-b"))
    [within] = journey.send(visit(0, event_id="ev-a"))
    assert within.duplicate
    journey.send(visit(2, event_id="ev-c"))
    [beyond] = journey.send(visit(0, event_id="ev-a"))
    assert not beyond.duplicate
    assert journey.current.events == 4


def test_the_same_event_id_for_another_customer_is_not_a_duplicate() -> None:
    tracker = JourneyTracker(PRICED, SALT)
    first = tracker.track(None, "cust-1", visit(0, event_id="ev-x"), 0)
    second = tracker.track(None, "cust-2", visit(0, event_id="ev-x", customer="cust-2"), 0)
    assert not first.duplicate
    assert not second.duplicate


# --- published records ------------------------------------------------------------------------------------

IDENTIFIERS = {
    "email": "anna.berg@example.com",
    "phone": "+49301234567",
    "loyalty_id": "LC-889",
    "device_id": "dev-9f2c",
    "openid": "o-5c1e",
}


def test_the_enriched_record_masks_every_identifier_and_validates() -> None:
    event = touchpoint("identify", 0, channel="store", actor="agent", identifiers=dict(IDENTIFIERS))
    [step] = Journey(PRICED).send(event)
    assert step.enriched is not None
    schemas.validator("enriched")(orjson.loads(step.enriched))
    for raw in IDENTIFIERS.values():
        assert raw.encode() not in step.enriched, raw
    masked = orjson.loads(step.enriched)["touchpoint"]["identifiers"]
    assert set(masked) == set(IDENTIFIERS)
    assert all(MASKED.match(value) for value in masked.values()), masked
    assert len(set(masked.values())) == len(IDENTIFIERS)
    assert event["identifiers"] == IDENTIFIERS, "the caller's event is not modified"


def masked_identifiers(salt: bytes, **identifiers: str) -> dict[str, str]:
    tracker = JourneyTracker(PRICED, salt)
    step = tracker.track(None, "cust-1", touchpoint("identify", 0, identifiers=identifiers), 0)
    assert step.enriched is not None
    masked: dict[str, str] = orjson.loads(step.enriched)["touchpoint"]["identifiers"]
    return masked


def test_a_masked_identifier_is_stable_per_value_and_salt() -> None:
    first = masked_identifiers(SALT, email="anna@example.com", phone="+4930123")
    again = masked_identifiers(SALT, email="anna@example.com")
    other = masked_identifiers(SALT, email="ben@example.com")
    resalted = masked_identifiers(b"another-salt", email="anna@example.com")
    assert first["email"] == again["email"]
    assert other["email"] != first["email"]
    assert resalted["email"] != first["email"]


def test_the_same_value_as_another_kind_of_identifier_masks_differently() -> None:
    masked = masked_identifiers(SALT, device_id="x-1", openid="x-1")
    assert masked["device_id"] != masked["openid"]


def test_the_enriched_record_carries_the_customer_snapshot_after_the_event() -> None:
    events = [
        purchase(0, 300.0),
        refund(1, 20.0, "USD"),
        inquiry(2, "c1"),
        complaint(2, "a"),
        feedback(3, csat=5),
    ]
    steps = Journey(PRICED).send(*events)
    for step in steps:
        assert step.enriched is not None
        schemas.validator("enriched")(orjson.loads(step.enriched))
    last = steps[-1].enriched
    assert last is not None
    document = orjson.loads(last)
    assert document["customer"] == {
        "stage": "first_time",
        "stage_since": "2026-01-05T10:00:00+00:00",
        "value_tier": "silver",
        "purchase_count": 1,
        "net_value": 290.0,
        "open_inquiries": 1,
        "open_complaints": 1,
        "satisfaction": 1.0,
        "touchpoints": 5,
        # One purchase day: BG/NBD says alive; Gamma-Gamma values a one-time buyer at the population mean.
        "p_alive": 1.0,
        "clv": 48.37,
        "best_customer": False,
    }
    assert document["touchpoint"] == events[-1]


def test_every_transition_validates_against_its_contract() -> None:
    journey = Journey(PRICED)
    journey.send(visit(0), purchase(1), purchase(20), purchase(40), purchase(61), referral(62), complaint(63))
    journey.send(resolution(64))
    journey.advance(instant(400))
    journey.send(purchase(420))
    causes = {t.cause for t in journey.transitions}
    assert {"visit", "purchase", "referral", "complaint", "resolution", INACTIVITY, WIN_BACK} <= causes
    assert LAPSED in {t.to_stage for t in journey.transitions}
    validate = schemas.validator("lifecycle_transition")
    for transition in journey.transitions:
        record = orjson.loads(transition.encode())
        validate(record)
        assert record["at"].endswith("+00:00")
        assert record["from"] == transition.from_stage
        assert record["event_id"] == transition.event_id


def test_a_transition_is_stamped_in_utc_whatever_the_events_offset() -> None:
    [step] = Journey(PRICED).send(visit(0, occurred_at="2026-01-05T19:30:00+01:00"))
    [transition] = step.transitions
    assert orjson.loads(transition.encode())["at"] == "2026-01-05T18:30:00+00:00"
    assert step.instant == transition.at == instant(0) + int(8.5 * 3600)


# --- the tracker's own wiring: stages, tiers, days, partitions, actions ---------------------------------------

REPEAT_BUYER = (0, 7, 14)


def transitions_of(journey: Journey) -> list[tuple[str | None, str, float, str, str | None]]:
    """(from, to, days after T0, cause, event id) of every transition, in order."""
    return [
        (t.from_stage, t.to_stage, round((t.at - instant(0)) / DAY, 2), t.cause, t.event_id)
        for t in journey.transitions
    ]


def test_every_transition_names_the_stage_left_its_cause_and_the_event_that_caused_it() -> None:
    events = [purchase(day) for day in REPEAT_BUYER]
    journey = journey_of(*events, rules={"model": {"stages": "cadence"}})
    journey.advance(instant(400))
    assert transitions_of(journey) == [
        (None, "first_time", 0, "purchase", events[0]["event_id"]),
        ("first_time", "repeat", 7, "purchase", events[1]["event_id"]),
        ("repeat", "at_risk", 28, INACTIVITY, None),
        ("at_risk", "lapsed", 42, INACTIVITY, None),
    ]


def test_with_stages_from_the_model_the_customer_turns_at_risk_and_lapsed_the_day_p_alive_falls_below() -> (
    None
):
    journey = journey_of(
        *(purchase(day) for day in REPEAT_BUYER),
        rules={"model": {"stages": "model", "at_risk_below": 0.5, "lapsed_below": 0.2}},
    )
    journey.advance(instant(400))
    [to_at_risk, to_lapsed] = journey.transitions[2:]
    assert (to_at_risk.to_stage, to_lapsed.to_stage) == ("at_risk", LAPSED)
    model, state = journey.tracker.model, journey.current
    for transition, threshold in ((to_at_risk, 0.5), (to_lapsed, 0.2)):
        day = transition.at // DAY
        assert transition.at == day * DAY, "on the UTC day P(alive) is read on"
        alive, day_before = model.p_alive_on(state, day), model.p_alive_on(state, day - 1)
        assert alive is not None
        assert day_before is not None
        assert alive < threshold <= day_before


def test_value_tiers_follow_the_customer_lifetime_value_when_the_rules_say_so() -> None:
    tiers = [{"name": "base", "min_value": 0}, {"name": "top", "min_value": 400}]
    events = [purchase(day) for day in REPEAT_BUYER]  # 300 EUR spent, a CLV above 400
    by_clv = journey_of(*events, rules={"value_tiers": tiers, "model": {"value_tiers_from": "clv"}})
    by_value = journey_of(*events, rules={"value_tiers": tiers, "model": {"value_tiers_from": "net_value"}})
    assert by_clv.current.clv > 400 > by_clv.current.net_value == 300
    assert (by_clv.current.value_tier, by_value.current.value_tier) == ("top", "base")


def test_the_clv_is_the_models_after_each_purchase_and_the_enriched_p_alive_is_read_on_the_utc_day() -> None:
    journey = Journey(PRICED)
    [*_, last] = journey.send(*(purchase(day) for day in REPEAT_BUYER))
    state = journey.current
    assert state.clv == round(journey.tracker.model.clv(state), 2) > 0
    alive = journey.tracker.model.p_alive_on(state, instant(14) // DAY)
    assert alive is not None
    assert last.enriched is not None
    assert orjson.loads(last.enriched)["customer"]["p_alive"] == round(alive, 6)


def test_a_purchase_counts_on_the_local_day_of_its_own_offset() -> None:
    # 01:30 in UTC+2 on Monday 5 January is 23:30 UTC on Sunday: the customer bought on Monday.
    journey = journey_of(purchase(0, occurred_at="2026-01-05T01:30:00+02:00"))
    assert journey.current.purchase_days == [day_number(date(2026, 1, 5))]


def test_a_new_customers_state_lives_on_the_partition_of_its_record_even_when_refused() -> None:
    tracker = JourneyTracker(PRICED, SALT)
    accepted = tracker.track(None, "cust-1", visit(0), 5)
    ahead = tracker.track(None, "cust-2", visit(1), 6, received_at=instant(0))
    assert accepted.state.partition == 5
    assert ahead.refused is not None
    assert ahead.refused.reason == "future"
    assert (ahead.state.partition, ahead.state.events) == (6, 0)


def test_a_purchase_made_at_the_instant_of_lapsing_is_a_win_back_and_one_just_before_is_not() -> None:
    for offset, cause in ((0, WIN_BACK), (-1, "purchase")):
        journey = journey_of(purchase(0))
        journey.advance(instant(400))
        lapsed_at = journey.current.stage_since
        assert journey.stage == LAPSED
        late = purchase(0)
        late["occurred_at"] = datetime.fromtimestamp(lapsed_at + offset, UTC).isoformat()
        [step] = journey.send(late)
        assert [(t.from_stage, t.to_stage, t.at, t.cause) for t in step.transitions] == [
            (LAPSED, "repeat", lapsed_at + offset, cause)
        ]


def first_response_breach() -> tuple[Journey, str]:
    """A customer who bought and then asked in chat, left unanswered into a breach of the first-response SLA."""
    journey = journey_of(purchase(0), inquiry(0.01), rules={})
    journey.tracker.advance(journey.current, "cust-1", instant(1))
    [alert_id] = journey.current.alerts_open
    return journey, alert_id


def acknowledge(alert_id: str, at: int) -> dict[str, Any]:
    return {"schema_version": 1, "alert_id": alert_id, "action": "acknowledge", "by": "ops", "at": iso(at)}


def test_after_an_action_the_customers_stage_deadlines_still_fire() -> None:
    journey, alert_id = first_response_breach()
    acted = journey.tracker.act(journey.current, "cust-1", acknowledge(alert_id, instant(1)))
    assert acted.refused is None
    assert [alert.status for alert in acted.alerts] == ["acknowledged"]
    journey.advance(instant(400))
    assert [t.to_stage for t in journey.transitions[-2:]] == ["at_risk", LAPSED]


def test_an_action_dated_away_from_its_records_timestamp_is_refused_by_the_tracker() -> None:
    journey, alert_id = first_response_breach()
    refused = journey.tracker.act(
        journey.current, "cust-1", acknowledge(alert_id, instant(1)), received_at=instant(1) + 1000
    )
    assert refused.refused is not None
    assert refused.refused.message == (
        "action at 2026-01-06T10:00:00+00:00 is 16 minutes before its record's timestamp "
        "2026-01-06T10:16:40+00:00 (at most 5 minutes)"
    )
    assert journey.current.alerts_open[alert_id] is not None


def test_a_snooze_through_the_tracker_is_clamped_to_the_configured_maximum() -> None:
    journey, alert_id = first_response_breach()
    action = {**acknowledge(alert_id, instant(1)), "action": "snooze", "until": iso(instant(30))}
    [snoozed] = journey.tracker.act(journey.current, "cust-1", action).alerts
    maximum = round(PRICED.alerts.max_snooze_minutes * 60)
    assert snoozed.details["snoozed_until"] == iso(instant(1) + maximum)
    assert snoozed.details["snooze_clamped_from"] == iso(instant(30))


@pytest.mark.parametrize(
    "model",
    [{"clv_periods": 24}, {"clv_period_days": 7}, {"discount_rate": 0.2}],
    ids=lambda m: next(iter(m)),
)
def test_the_clv_horizon_and_discount_come_from_the_rules(model: dict[str, Any]) -> None:
    events = [purchase(day) for day in REPEAT_BUYER]
    default = journey_of(*events).current.clv
    configured = journey_of(*events, rules={"model": model})
    settings = configured.config.model
    expected = CustomerModel(
        settings.params,
        clv_periods=settings.clv_periods,
        clv_period_days=settings.clv_period_days,
        discount_rate=settings.discount_rate,
    ).clv(configured.current)
    assert configured.current.clv == round(expected, 2) != default


def act(
    journey: Journey, alert_id: str, kind: str, at: int, received_at: float | None = None, **more: Any
) -> Any:
    action = {**acknowledge(alert_id, at), "action": kind, **more}
    return journey.tracker.act(journey.current, "cust-1", action, received_at)


@pytest.mark.parametrize(
    ("drift", "refusal"),
    [
        (300, None),
        (-300, None),
        (
            301,
            "action at 2026-01-06T10:05:01+00:00 is 5 minutes after its record's timestamp "
            "2026-01-06T10:00:00+00:00 (at most 5 minutes)",
        ),
        (
            -301,
            "action at 2026-01-06T09:54:59+00:00 is 5 minutes before its record's timestamp "
            "2026-01-06T10:00:00+00:00 (at most 5 minutes)",
        ),
    ],
)
def test_an_action_may_be_dated_up_to_the_skew_bound_either_side_of_its_record(
    drift: int, refusal: str | None
) -> None:
    journey, alert_id = first_response_breach()
    outcome = act(journey, alert_id, "acknowledge", instant(1) + drift, received_at=instant(1))
    if refusal is None:
        assert outcome.refused is None
    else:
        assert outcome.refused == Rejected(STALE_ACTION, refusal, "at")
        assert outcome.alerts == []


def test_an_action_on_no_open_alert_is_refused_naming_the_alert() -> None:
    journey, _ = first_response_breach()
    outcome = act(journey, "long_wait/cust-1/000000000000", "resolve", instant(1))
    assert outcome.unknown_alert is True
    assert outcome.refused == Rejected(
        UNKNOWN_ALERT,
        "no open alert 'long_wait/cust-1/000000000000' for this customer "
        "(never raised, already resolved or forgotten)",
        "alert_id",
    )


def test_a_resolved_alert_leaves_the_open_alerts_and_says_who_resolved_it_when() -> None:
    journey, alert_id = first_response_breach()
    outcome = act(journey, alert_id, "resolve", instant(2))
    [resolved] = outcome.alerts
    assert (resolved.alert_id, resolved.status) == (alert_id, "resolved")
    assert (resolved.status_changed_at, resolved.status_changed_by) == (instant(2), "ops")
    assert outcome.resolved == [(resolved, instant(2) - resolved.detected_at)]
    assert outcome.acknowledged == []
    assert alert_id not in journey.current.alerts_open


def test_an_alert_counts_as_acknowledged_once_and_a_snooze_within_the_maximum_is_kept_as_asked() -> None:
    journey, alert_id = first_response_breach()
    first = act(journey, alert_id, "acknowledge", instant(1))
    [acknowledged] = first.alerts
    assert (acknowledged.status, acknowledged.status_changed_at, acknowledged.status_changed_by) == (
        "acknowledged",
        instant(1),
        "ops",
    )
    assert first.acknowledged == [(acknowledged, instant(1) - acknowledged.detected_at)]
    until = iso(instant(1) + 600)
    snoozed = act(journey, alert_id, "snooze", instant(1), until=until)
    assert snoozed.acknowledged == [], "already acknowledged"
    [again] = snoozed.alerts
    assert again.details["snoozed_until"] == until
    assert "snooze_clamped_from" not in again.details
    assert journey.current.snoozed[again.type] == instant(1) + 600


# --- the alert gate, through the tracker ----------------------------------------------------------------------


@pytest.mark.parametrize(("past_deadline", "suppressed"), [(0, False), (1, True)])
def test_a_snooze_holds_back_its_type_until_the_instant_it_ends(past_deadline: int, suppressed: bool) -> None:
    journey = journey_of(purchase(0), inquiry(0.01, "conv-1"), rules={})
    journey.tracker.advance(journey.current, "cust-1", instant(0.03))
    [breach] = [key for key in journey.current.alerts_open if key.startswith("first_response_breach/")]
    journey.send(inquiry(0.06, "conv-2"))
    deadline = journey.current.sla_cases["conv-2"][1]
    act(journey, breach, "snooze", instant(0.061), until=iso(deadline + past_deadline))
    fired = journey.tracker.advance(journey.current, "cust-1", deadline)
    breaches = [alert.detected_at for alert in fired.alerts if alert.type == "first_response_breach"]
    held = [entry for entry in fired.suppressed if entry[0] == "first_response_breach"]
    if suppressed:
        assert (breaches, held) == ([], [("first_response_breach", "snoozed")])
    else:
        assert (breaches, held) == ([deadline], [])


def test_two_alerts_of_a_type_found_at_the_same_instant_are_one_alert_and_one_cooldown() -> None:
    journey = journey_of(
        purchase(0),
        inquiry(0.01, "conv-1"),
        inquiry(0.01, "conv-2"),
        rules={"alerts": {"cooldown_minutes": {"first_response_breach": 60}}},
    )
    fired = journey.tracker.advance(journey.current, "cust-1", instant(0.1))
    breaches = [alert for alert in fired.alerts if alert.type == "first_response_breach"]
    assert len(breaches) == 1
    assert [entry for entry in fired.suppressed if entry[0] == "first_response_breach"] == [
        ("first_response_breach", "cooldown")
    ]


def test_a_snooze_keeps_the_time_as_written_and_a_shorter_one_does_not_cut_a_longer_one() -> None:
    journey, alert_id = first_response_breach()
    [long] = act(journey, alert_id, "snooze", instant(1), until="2026-01-06T12:00:00Z").alerts
    assert long.details["snoozed_until"] == "2026-01-06T12:00:00Z"
    act(journey, alert_id, "snooze", instant(1), until=iso(instant(1) + 60))
    assert journey.current.snoozed[long.type] == instant(1) + 2 * 3600


def test_a_resolved_alert_closes_its_conversations_case_and_an_acknowledged_one_marks_it_handled() -> None:
    acknowledged, alert_id = first_response_breach()
    act(acknowledged, alert_id, "acknowledge", instant(1))
    assert acknowledged.current.sla_cases["conv-1"][4] & HANDLED
    resolved, alert_id = first_response_breach()
    act(resolved, alert_id, "resolve", instant(1))
    assert "conv-1" not in resolved.current.sla_cases, "a new question there starts a new case"


@pytest.mark.parametrize("inhibited", [False, True])
def test_an_open_alert_of_an_inhibiting_type_holds_back_the_types_it_inhibits(inhibited: bool) -> None:
    inhibitions = {"after_hours_unanswered": ["first_response_breach"]} if inhibited else {}
    journey = journey_of(
        purchase(0), inquiry(0.01, "conv-1"), rules={"detectors": {"inhibitions": inhibitions}}
    )
    journey.tracker.advance(journey.current, "cust-1", instant(0.1))
    assert [key.partition("/")[0] for key in journey.current.alerts_open] == ["first_response_breach"]
    journey.send(inquiry(0.3, "conv-2"))  # 17:12 UTC: after hours
    fired = journey.tracker.advance(journey.current, "cust-1", instant(1))
    raised = [alert.type for alert in fired.alerts if alert.type == "after_hours_unanswered"]
    held = [entry for entry in fired.suppressed if entry[0] == "after_hours_unanswered"]
    if inhibited:
        assert (raised, held) == ([], [("after_hours_unanswered", "inhibited")])
    else:
        assert (raised, held) == (["after_hours_unanswered"], [])


def test_an_occurred_at_handed_over_is_used_as_given_and_its_text_not_read_again() -> None:
    # Ingest's shortcut hands over what it parsed; reading the text again is the cost it saves.
    event = inquiry(0)
    occurred = datetime.fromisoformat(event["occurred_at"])
    tracker = JourneyTracker(config_from_mapping({}), SALT)
    step = tracker.track(
        None, "cust-1", {**event, "occurred_at": "not read"}, 0, None, occurred, occurred.timestamp()
    )
    assert step.refused is None
    assert step.instant == instant(0)


def test_given_one_of_occurred_at_and_its_seconds_the_tracker_works_out_the_other() -> None:
    # Ingest's decoder hands both; replay's sorted rows hand the seconds alone (their microseconds).
    event = inquiry(0)
    occurred = datetime.fromisoformat(event["occurred_at"])

    def applied(*given: Any) -> tuple[int, bytes, bytes | None]:
        step = JourneyTracker(config_from_mapping({}), SALT).track(None, "cust-1", *given)
        assert step.refused is None
        return step.instant, step.state.encode(), step.enriched

    read = applied(event, 0)
    assert read[0] == instant(0)
    assert applied(event, 0, None, occurred, None) == read
    assert applied(event, 0, None, None, instant(0) + 0.25) == read
    # What is given is what is taken, not read again from the event.
    assert applied(event, 0, None, occurred + timedelta(minutes=1), None)[0] == instant(0) + 60
    assert applied(event, 0, None, None, instant(0) + 60.0)[0] == instant(0) + 60
