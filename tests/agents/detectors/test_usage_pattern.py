"""Usage pattern change (story 6): a customer departing from their own channel, hour, location and spending."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.config import default_config
from agents.detectors.base import Context, Finding
from agents.detectors.registry import build_detectors
from agents.detectors.usage_pattern import (
    DECAY_AT,
    MAX_AMOUNTS,
    MAX_LOCATIONS,
    USAGE_PATTERN_CHANGE,
    UsagePatternChange,
)
from agents.domain.alert import CRITICAL, WARNING
from agents.domain.state import CustomerState

pytestmark = pytest.mark.unit

CONFIG = default_config()
OPTIONS = CONFIG.detectors[USAGE_PATTERN_CHANGE]
BERLIN = timezone(timedelta(hours=1))
#: Monday 5 January 2026, midnight in Berlin.
DAY0 = datetime(2026, 1, 5, tzinfo=BERLIN)
HOME = "store-berlin-mitte"
#: Evening store purchases of about 40 EUR, with the spread of real baskets.
USUAL_AMOUNTS = [38.5, 42.0, 40.0, 36.9, 44.5, 39.0, 41.5, 37.5, 43.0, 40.5, 35.0, 45.0]
CHANNELS = ["app", "web", "phone", "chat", "store", "email", "social"]
NON_PURCHASES = ["visit", "page_view", "inquiry", "call_started", "complaint", "feedback", "referral"]

_ids = itertools.count(1)


def touchpoint(
    day: int,
    hour: int,
    minute: int = 10,
    *,
    kind: str = "purchase",
    channel: str = "store",
    location: str | None = HOME,
    amount: float | None = 40.0,
    currency: str = "EUR",
    actor: str = "customer",
) -> dict[str, Any]:
    """A normalised touchpoint on *day* (days after DAY0) at *hour*:*minute*, Berlin time."""
    at = (DAY0 + timedelta(days=day)).replace(hour=hour, minute=minute)
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_id": f"ev-{next(_ids)}",
        "occurred_at": at.isoformat(),
        "customer_id": "cust-42",
        "channel": channel,
        "type": kind,
        "actor": actor,
    }
    if location is not None:
        event["location"] = location
    if kind == "purchase" and amount is not None:
        event["attributes"] = {"amount": amount, "currency": currency}
    return event


def context_of(event: dict[str, Any], state: CustomerState | None = None) -> Context:
    occurred = datetime.fromisoformat(event["occurred_at"])
    instant = int(occurred.timestamp())
    offset = int(occurred.utcoffset().total_seconds())  # type: ignore[union-attr]
    return Context(
        customer_id=event["customer_id"],
        event=event,
        instant=instant,
        local_day=(instant + offset) // 86_400,
        local_hour=occurred.hour,
        state=state or CustomerState(),
        calendars=CONFIG.calendars,
        zone=occurred.tzinfo or BERLIN,
    )


@dataclass
class Customer:
    """One customer's memory fed through the detector, round-tripped through JSON like the changelog does."""

    detector: UsagePatternChange = field(default_factory=lambda: UsagePatternChange(OPTIONS))
    memory: Any = None
    findings: list[Finding] = field(default_factory=list)

    def see(self, event: dict[str, Any]) -> list[Finding]:
        memory, found = self.detector.observe(self.memory, context_of(event))
        self.memory = orjson.loads(orjson.dumps(memory))
        self.findings.extend(found)
        return found

    @property
    def size(self) -> int:
        return len(orjson.dumps(self.memory))


def regular(history: int) -> Customer:
    """A customer with *history* evening purchases of about 40 EUR at their store."""
    customer = Customer()
    for day in range(history):
        assert (
            customer.see(touchpoint(day, 18 + day % 3, amount=USUAL_AMOUNTS[day % len(USUAL_AMOUNTS)])) == []
        )
    return customer


# --- the story -------------------------------------------------------------------------------------------------


def test_a_500_eur_app_purchase_at_three_in_the_morning_after_a_stable_evening_store_pattern_is_raised() -> (
    None
):
    customer = regular(12)
    night = touchpoint(12, 3, 10, channel="app", location=None, amount=500.0)

    [finding] = customer.see(night)

    assert finding.severity == CRITICAL  # twelve times the usual basket: at least 3 × amount_factor
    assert finding.evidence == (night["event_id"],)
    assert finding.reasons == ("unusual_hour", "unusual_amount", "purchase")
    assert finding.details["changed"] == ["hour", "amount"]
    assert finding.summary.startswith(
        f"Customer cust-42 is usually seen in store at {HOME} around 18:00, "
        "spending about 40 EUR a purchase; this 500 EUR purchase on the app at 03:10 is 12 times that"
    )
    assert "not a sales call" in finding.suggested_action
    assert "on file" in finding.suggested_action
    assert finding.occurred_at == finding.detected_at == context_of(night).instant
    assert finding.channel == "app"
    assert finding.location is None
    assert finding.details["baseline"]["median"] == 40
    assert finding.details["times_usual"] == 12.5
    orjson.dumps(finding.details)  # JSON-ready


def test_expensive_goods_in_a_store_of_another_city_are_raised_as_a_warning() -> None:
    customer = regular(12)

    [finding] = customer.see(touchpoint(12, 19, location="store-hamburg-altona", amount=95.0))

    assert finding.severity == WARNING
    assert finding.reasons == ("new_location", "unusual_amount", "purchase")
    assert "at store-hamburg-altona, a new location, at 19:10 is 2.4 times that" in finding.summary


@pytest.mark.parametrize(("history", "raised"), [(9, False), (10, True)])
def test_nothing_is_raised_until_the_baseline_holds_min_history_touchpoints(
    history: int, raised: bool
) -> None:
    customer = regular(history)

    found = customer.see(touchpoint(history, 3, 10, channel="app", location=None, amount=500.0))

    assert bool(found) is raised


def test_nothing_is_raised_until_the_customer_has_made_min_purchases() -> None:
    customer = Customer()
    for day in range(12):
        customer.see(touchpoint(day, 19, kind="visit", amount=None))
    customer.see(touchpoint(12, 19, amount=40.0))
    customer.see(touchpoint(13, 19, amount=40.0))

    assert customer.see(touchpoint(14, 3, channel="app", location=None, amount=500.0)) == []
    customer.see(touchpoint(15, 19, amount=40.0))  # the third purchase of their own … and the night one

    assert len(customer.see(touchpoint(16, 1, channel="app", location=None, amount=500.0))) == 1


# --- what does not count -------------------------------------------------------------------------------------


def test_a_normal_next_purchase_is_not_raised() -> None:
    customer = regular(12)

    assert customer.see(touchpoint(12, 19, 40, amount=42.0)) == []


@pytest.mark.parametrize(
    ("what", "event"),
    [
        ("a much bigger basket at the usual store and hour", lambda: touchpoint(12, 19, 40, amount=400.0)),
        (
            "a usual basket in a store of another city",
            lambda: touchpoint(12, 15, location="store-hamburg-altona", amount=41.0),
        ),
        (
            "a usual basket at three in the morning",
            lambda: touchpoint(12, 3, channel="app", location=None, amount=39.0),
        ),
        (
            "a first purchase on the app at the usual hour",
            lambda: touchpoint(12, 19, channel="app", location=None, amount=90.0),
        ),
        ("a lunchtime purchase a little bigger", lambda: touchpoint(12, 12, 30, amount=70.0)),
        (
            "a night visit on a new channel (only purchases are judged)",
            lambda: touchpoint(12, 2, 5, kind="visit", channel="app", location=None, amount=None),
        ),
    ],
)
def test_one_unusual_part_alone_is_not_raised(what: str, event: Any) -> None:
    customer = regular(12)

    assert customer.see(event()) == [], what


def corner_store_customer() -> Customer:
    """Evening purchases at home, once at the corner store: 1 of 40 located touchpoints, seldom at 5 %."""
    customer = Customer(UsagePatternChange({**OPTIONS, "rare_share": 0.05}))
    for day in range(40):
        location = "store-berlin-nord" if day == 20 else HOME
        customer.see(touchpoint(day, 18 + day % 3, location=location, amount=USUAL_AMOUNTS[day % 12]))
    return customer


@pytest.mark.parametrize(("amount", "raised"), [(100.0, False), (130.0, True)])
def test_a_store_seldom_seen_needs_a_bigger_basket_than_one_never_seen(amount: float, raised: bool) -> None:
    # Never seen: twice the usual basket would do; seldom seen: it takes three times.
    found = corner_store_customer().see(touchpoint(40, 19, location="store-berlin-nord", amount=amount))
    assert [f.reasons for f in found] == (
        [("unusual_location", "unusual_amount", "purchase")] if raised else []
    )


def morning_now_and_then() -> Customer:
    """Evenings, and one morning at 08:00 every twenty days: 2 of 40 touchpoints, 5 %."""
    customer = Customer()
    for day in range(40):
        hour = 8 if day % 20 == 0 else 18 + day % 3
        customer.see(touchpoint(day, hour, amount=USUAL_AMOUNTS[day % 12]))
    return customer


@pytest.mark.parametrize(("amount", "raised"), [(130.0, False), (650.0, True)])
def test_an_extreme_basket_at_an_hour_the_customer_is_not_often_seen_is_raised(
    amount: float, raised: bool
) -> None:
    # 08:00 is not unusual enough for three times the basket, but it is for fifteen times.
    found = morning_now_and_then().see(touchpoint(40, 8, amount=amount))
    assert [(f.details["changed"], f.severity) for f in found] == (
        [(["hour", "amount"], CRITICAL)] if raised else []
    )


def test_a_chat_or_calls_location_is_the_team_not_where_the_customer_is() -> None:
    customer = regular(12)
    customer.see(touchpoint(12, 19, kind="inquiry", channel="chat", location="team-sales", amount=None))

    _, _, locations, _, _, _ = customer.memory
    assert "team-sales" not in locations


def test_the_hour_is_read_in_the_events_own_offset() -> None:
    # 19:30 in Berlin is 03:30 in Tokyo: the same instant, a night purchase for a customer there.
    tokyo = timezone(timedelta(hours=9))
    in_berlin = touchpoint(12, 19, 30, channel="app", location=None, amount=200.0)
    in_tokyo = touchpoint(12, 19, 30, channel="app", location=None, amount=200.0)
    in_tokyo["occurred_at"] = datetime.fromisoformat(in_berlin["occurred_at"]).astimezone(tokyo).isoformat()
    assert context_of(in_tokyo).instant == context_of(in_berlin).instant

    assert regular(12).see(in_berlin) == []
    [finding] = regular(12).see(in_tokyo)
    assert finding.details["changed"] == ["hour", "amount"]
    assert finding.details["local_time"] == "03:30"


def test_touchpoints_made_by_agents_and_systems_are_neither_judged_nor_remembered() -> None:
    customer = regular(12)
    before = customer.memory

    assert customer.see(touchpoint(12, 3, kind="reply", channel="chat", location=None, actor="agent")) == []
    assert customer.see(touchpoint(12, 4, kind="offer", channel="email", location=None, actor="system")) == []
    assert customer.memory == before


def test_the_unusual_purchase_becomes_part_of_the_baseline() -> None:
    customer = regular(12)
    customer.see(touchpoint(12, 3, channel="app", location=None, amount=500.0))

    channels, hours, _, _, currency, amounts = customer.memory
    assert channels == {"store": 12, "app": 1}
    assert hours["3"] == 1
    assert currency == "EUR"
    assert amounts[-1] == 500


def test_gradual_drift_over_many_events_does_not_raise_at_every_step() -> None:
    customer = Customer()
    rng = random.Random(6)
    steps = 400
    for step in range(steps):
        # Baskets grow 1 % a purchase, the usual hour moves one hour later every 30 purchases,
        # and the app slowly takes over from the store.
        hour = (18 + step // 30) % 24
        on_app = rng.random() < step / steps
        customer.see(
            touchpoint(
                step,
                hour,
                rng.randrange(60),
                channel="app" if on_app else "store",
                location=None if on_app else HOME,
                amount=round(40 * 1.01**step * rng.uniform(0.85, 1.15), 2),
            )
        )

    assert len(customer.findings) <= 2


def test_memory_stays_small_and_bounded_after_1000_events() -> None:
    typical = Customer()
    for step in range(1000):
        typical.see(
            touchpoint(step, 18 + step % 3, step % 60, amount=USUAL_AMOUNTS[step % len(USUAL_AMOUNTS)])
        )
    assert typical.size < 150

    rng = random.Random(1000)
    places = [f"store-{n:02d}-" + "x" * rng.randrange(50) for n in range(30)]
    chaotic = Customer()
    largest = 0
    for step in range(1000):
        purchase = rng.random() < 0.5
        chaotic.see(
            touchpoint(
                step,
                rng.randrange(24),
                rng.randrange(60),
                kind="purchase" if purchase else rng.choice(NON_PURCHASES),
                channel=rng.choice(CHANNELS),
                location=rng.choice([None, *places]),
                amount=round(rng.lognormvariate(4, 2), 2),
                currency=rng.choice(["EUR", "EUR", "USD", "CNY"]),
            )
        )
        channels, hours, locations, _, _, amounts = chaotic.memory
        assert len(channels) <= len(CHANNELS)
        assert len(hours) <= 24
        assert len(locations) <= MAX_LOCATIONS
        assert len(amounts) <= MAX_AMOUNTS
        assert sum(channels.values()) <= DECAY_AT
        largest = max(largest, chaotic.size)
    assert largest < 800


def test_the_detector_is_built_from_the_default_rules() -> None:
    available = {USAGE_PATTERN_CHANGE: "agents.detectors.usage_pattern:UsagePatternChange"}

    [detector] = build_detectors(CONFIG.detectors, available)
    disabled = build_detectors({USAGE_PATTERN_CHANGE: {"enabled": False}}, available)

    assert isinstance(detector, UsagePatternChange)
    assert detector.type == USAGE_PATTERN_CHANGE
    assert (detector.min_history, detector.min_purchases, detector.amount_factor, detector.rare_share) == (
        10,
        3,
        2.0,
        0.015,
    )
    assert detector.due(None) is None
    assert disabled == []


# --- properties ------------------------------------------------------------------------------------------------

locations = st.one_of(st.none(), st.sampled_from([HOME, "team-support", "store-hamburg-altona"]))


@settings(max_examples=100, deadline=None)
@given(
    count=st.integers(0, 80),
    channel=st.sampled_from(CHANNELS),
    hour=st.integers(0, 23),
    location=locations,
    kinds=st.lists(st.sampled_from(NON_PURCHASES), min_size=1, max_size=5),
    minutes=st.lists(st.integers(0, 59), min_size=1, max_size=5),
    min_history=st.integers(3, 20),
)
def test_nothing_is_raised_without_purchases_on_a_constant_channel_hour_and_location(
    count: int,
    channel: str,
    hour: int,
    location: str | None,
    kinds: list[str],
    minutes: list[int],
    min_history: int,
) -> None:
    customer = Customer(UsagePatternChange({**OPTIONS, "min_history": min_history}))
    for step in range(count):
        event = touchpoint(
            step // 3,
            hour,
            minutes[step % len(minutes)],
            kind=kinds[step % len(kinds)],
            channel=channel,
            location=location,
        )
        assert customer.see(event) == []


events = st.builds(
    lambda hour, minute, kind, channel, location, amount, currency: (
        hour,
        minute,
        {"kind": kind, "channel": channel, "location": location, "amount": amount, "currency": currency},
    ),
    st.integers(0, 23),
    st.integers(0, 59),
    st.sampled_from(["purchase", "purchase", *NON_PURCHASES]),
    st.sampled_from(CHANNELS),
    locations,
    st.floats(0, 1_000_000, allow_nan=False),
    st.sampled_from(["EUR", "USD"]),
)


@settings(max_examples=100, deadline=None)
@given(min_history=st.integers(3, 20), data=st.data())
def test_nothing_is_raised_before_min_history(min_history: int, data: st.DataObject) -> None:
    history = data.draw(st.lists(events, max_size=min_history))
    customer = Customer(UsagePatternChange({**OPTIONS, "min_history": min_history}))
    for day, (hour, minute, fields) in enumerate(history):
        assert customer.see(touchpoint(day, hour, minute, **fields)) == []
