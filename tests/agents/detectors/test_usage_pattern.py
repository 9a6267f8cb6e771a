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


# --- what the alert says, whole ------------------------------------------------------------------------------

SEEN = "Customer cust-42 is usually seen in store at store-berlin-mitte around 18:00, spending about 40 EUR a purchase"


def test_the_story_alert_says_the_baseline_and_what_changed_whole() -> None:
    [finding] = regular(12).see(touchpoint(12, 3, 10, channel="app", location=None, amount=500.0))
    assert (
        finding.summary
        == f"{SEEN}; this 500 EUR purchase on the app at 03:10 is 12 times that (changed: hour, amount)."
    )
    assert finding.suggested_action == (
        "Verify with the customer through a contact already on file (the known phone number or the app account), "
        "never through details given in this interaction, that it was really them; if it was not, block the "
        "account or card and follow the fraud procedure. This is a check, not a sales call."
    )
    assert finding.details == {
        "changed": ["hour", "amount"],
        "local_time": "03:10",
        "amount": 500.0,
        "times_usual": 12.5,
        "baseline": {
            "touchpoints": 12,
            "channel": "store",
            "hour": 18,
            "location": "store-berlin-mitte",
            "median": 40.0,
            "currency": "EUR",
        },
    }


def test_the_baseline_named_is_the_most_used_channel_hour_and_store() -> None:
    base = memory(
        {"app": 2, "store": 10, "web": 1},
        {"12": 1, "19": 9, "20": 3},
        {"store-a": 1, HOME: 8, "store-b": 2},
        1,
    )
    [finding] = seen(base, purchase(100.0, hour=3, channel="web"))
    assert finding.summary.startswith(f"Customer cust-42 is usually seen in store at {HOME} around 19:00, ")
    assert finding.details["baseline"] == {
        "touchpoints": 13,
        "channel": "store",
        "hour": 19,
        "location": HOME,
        "median": 40.0,
        "currency": "EUR",
    }


def test_a_purchase_at_a_new_store_says_so_whole() -> None:
    [finding] = regular(12).see(touchpoint(12, 19, 5, location="store-hamburg", amount=95.0))
    assert finding.summary == (
        f"{SEEN}; this 95 EUR purchase in store at store-hamburg, a new location, at 19:05 is 2.4 times that "
        "(changed: location, amount)."
    )
    assert (finding.severity, finding.reasons) == (WARNING, ("new_location", "unusual_amount", "purchase"))
    assert (finding.channel, finding.location) == ("store", "store-hamburg")
    assert finding.details["times_usual"] == 2.4


def test_a_visit_at_a_new_store_is_not_judged_but_makes_the_store_known() -> None:
    customer = regular(12)
    assert customer.see(touchpoint(12, 19, 5, kind="visit", location="store-hamburg")) == []
    # One of 13 located touchpoints (7.7 %): a store the customer is seen at, not a new one.
    assert customer.see(touchpoint(13, 19, 5, location="store-hamburg", amount=95.0)) == []


def test_a_huge_basket_alone_is_not_raised_and_elsewhere_says_how_many_times_the_usual() -> None:
    assert regular(12).see(touchpoint(12, 19, 5, amount=5000)) == []
    [finding] = regular(12).see(touchpoint(12, 19, 5, location="store-hamburg", amount=5000))
    assert finding.summary == (
        f"{SEEN}; this 5000 EUR purchase in store at store-hamburg, a new location, at 19:05 is 125 times that "
        "(changed: location, amount)."
    )
    assert finding.severity == CRITICAL


def test_a_purchase_outside_a_store_names_where_it_was_recorded_but_not_as_a_new_location() -> None:
    # A phone order taken by a team: the team is where it was recorded, not where the customer was.
    [finding] = regular(12).see(touchpoint(12, 3, 10, channel="phone", location="team-sales", amount=500.0))
    assert finding.summary == (
        f"{SEEN}; this 500 EUR purchase by phone at team-sales at 03:10 is 12 times that (changed: hour, amount)."
    )
    assert finding.location == "team-sales"


def test_before_enough_amounts_the_baseline_states_the_median_of_those_it_has() -> None:
    customer = Customer(detector=UsagePatternChange({"min_history": 3}))
    for day, amount in enumerate([30.0, 40.0, 80.0]):
        customer.see(touchpoint(day, 19, amount=amount))
    [finding] = customer.see(touchpoint(3, 3, channel="app", location=None, amount=100.0))
    assert finding.summary == (
        "Customer cust-42 is usually seen in store at store-berlin-mitte around 19:00, spending about "
        "40 EUR a purchase; this 100 EUR purchase on the app at 03:10 is 2.5 times that (changed: hour, amount)."
    )


# --- the rule's thresholds, exactly ------------------------------------------------------------------------

AMOUNTS = [40.0] * 5 + [30.0, 50.0] * 5  # median 40


def memory(
    channels: dict[str, int],
    hours: dict[str, int] | None = None,
    locations: dict[str, int] | None = None,
    other: int = 0,
    amounts: list[float] | None = None,
) -> list[Any]:
    """A baseline as kept in the state (see the module's memory layout): all at 19:00, spending about 40 EUR."""
    return [
        channels,
        hours or {"19": sum(channels.values())},
        locations or {},
        other,
        "EUR",
        amounts or AMOUNTS,
    ]


def seen(memory_: list[Any], event: dict[str, Any], **options: Any) -> list[Finding]:
    detector = UsagePatternChange({**OPTIONS, **options})
    return detector.observe(memory_, context_of(event))[1]


def purchase(
    amount: float, hour: int = 19, location: str | None = None, channel: str = "store", minute: int = 10
) -> dict[str, Any]:
    """A purchase of *amount* EUR on day 20 at *hour*:*minute* (the baselines below are all at 19:00)."""
    return touchpoint(20, hour, minute, channel=channel, location=location, amount=amount)


@pytest.mark.parametrize(
    "channels",
    [
        pytest.param({"store": 20}, id="never used"),
        pytest.param({"store": 39, "app": 1}, id="a share under 5 %"),
        pytest.param({"app": 20}, id="the usual one"),
    ],
)
def test_the_channel_is_no_part_of_the_judgement(channels: dict[str, int]) -> None:
    # A first purchase on the app is everyday life: three times the basket at the usual hour is not raised,
    # and at an hour never seen only the hour and the amount changed, whatever the channel's share.
    assert seen(memory(channels), purchase(120.0, channel="app"), rare_share=0.05) == []
    [finding] = seen(memory(channels), purchase(80.0, hour=3, channel="app"), rare_share=0.05)
    assert finding.details["changed"] == ["hour", "amount"]


def changed_at(hours: dict[str, int], hour: int) -> list[str]:
    """What changed for twice the usual basket at *hour* at a new store (never seen there, so always raised)."""
    total = sum(hours.values())
    base = memory({"store": total}, hours, {"home": total})
    [finding] = seen(base, purchase(80.0, hour=hour, location="away"), rare_share=0.05)
    return list(finding.details["changed"])


@pytest.mark.parametrize(
    ("hours", "changed"),
    [
        pytest.param({"19": 19, "3": 1}, False, id="its hour at exactly 5 %"),
        pytest.param({"19": 39, "3": 1}, True, id="its hour under 5 %"),
        pytest.param({"19": 36, "2": 4}, False, id="a neighbour counts half: exactly 5 %"),
        pytest.param({"19": 38, "4": 1, "2": 1}, True, id="both neighbours, half each: 2.5 %"),
        pytest.param({"19": 36, "4": 2, "2": 2}, False, id="both neighbours, half each: 5 %"),
        pytest.param({"19": 39, "4": 1}, True, id="a neighbour's half under 5 %"),
        pytest.param({"19": 38, "5": 2}, True, id="two hours away does not count"),
        pytest.param({"19": 38, "1": 2}, True, id="nor two hours before"),
        pytest.param({"19": 36, "3": 1, "2": 2}, False, id="its own and a neighbour's half: 5 %"),
    ],
)
def test_an_hour_is_unusual_only_below_its_rare_share_neighbours_counting_half(
    hours: dict[str, int], changed: bool
) -> None:
    assert changed_at(hours, 3) == (["location", "hour", "amount"] if changed else ["location", "amount"])


def test_the_day_wraps_around_for_the_neighbouring_hours() -> None:
    assert "hour" not in changed_at({"19": 36, "23": 4}, 0), "23:00 is next to 00:00"
    assert "hour" not in changed_at({"19": 36, "0": 4}, 23), "and the other way round"
    assert "hour" in changed_at({"19": 37, "23": 3}, 0)
    assert "hour" in changed_at({"19": 37, "0": 3}, 23)


@pytest.mark.parametrize(
    ("hours", "amount", "raised"),
    [
        pytest.param({"19": 40}, 79.9, False, id="never seen: just under twice the basket"),
        pytest.param({"19": 40}, 80.0, True, id="never seen: twice the basket"),
        pytest.param({"19": 39, "4": 1}, 119.9, False, id="a neighbour seen, seldom: under three times"),
        pytest.param({"19": 39, "4": 1}, 120.0, True, id="seldom: three times"),
    ],
)
def test_an_hour_never_seen_needs_twice_the_basket_one_seldom_seen_three_times(
    hours: dict[str, int], amount: float, raised: bool
) -> None:
    found = seen(memory({"store": 40}, hours), purchase(amount, hour=3), rare_share=0.05)
    assert [(f.details["changed"], f.reasons) for f in found] == (
        [(["hour", "amount"], ("unusual_hour", "unusual_amount", "purchase"))] if raised else []
    )


@pytest.mark.parametrize(
    ("locations", "other", "amount", "reasons"),
    [
        pytest.param({"home": 19, "away": 1}, 0, 1000.0, None, id="a tracked store at exactly 5 %"),
        pytest.param(
            {"home": 39, "away": 1}, 0, 119.9, None, id="a tracked store under 5 %: under three times"
        ),
        pytest.param(
            {"home": 39, "away": 1},
            0,
            120.0,
            ("unusual_location", "unusual_amount", "purchase"),
            id="a tracked store under 5 %: three times",
        ),
        pytest.param({"home": 19}, 1, 1000.0, None, id="untracked ones at exactly 5 %: not judged"),
        pytest.param({"home": 39}, 1, 79.9, None, id="untracked ones under 5 %: under twice"),
        pytest.param(
            {"home": 39},
            1,
            80.0,
            ("new_location", "unusual_amount", "purchase"),
            id="untracked ones under 5 %: a new store, twice",
        ),
    ],
)
def test_a_store_is_unusual_only_below_its_rare_share(
    locations: dict[str, int], other: int, amount: float, reasons: tuple[str, ...] | None
) -> None:
    total = sum(locations.values()) + other
    found = seen(
        memory({"store": total}, None, locations, other), purchase(amount, location="away"), rare_share=0.05
    )
    assert [f.reasons for f in found] == ([reasons] if reasons else [])
    if reasons:
        assert found[0].details["changed"] == ["location", "amount"]


def test_a_first_store_after_only_touchpoints_without_one_is_a_new_location() -> None:
    base = memory({"app": 20})
    assert seen(base, purchase(79.9, location="store-hamburg")) == []
    [finding] = seen(base, purchase(80.0, location="store-hamburg"))
    assert finding.reasons == ("new_location", "unusual_amount", "purchase")


def test_only_a_stores_location_is_judged() -> None:
    # By phone or in chat the location is the team that took it: twice the basket there is everyday life.
    base = memory({"store": 40}, None, {"home": 40})
    assert seen(base, purchase(1000.0, location="team-sales", channel="phone")) == []
    assert seen(base, purchase(1000.0, location="team-sales", channel="chat")) == []
    assert len(seen(base, purchase(80.0, location="team-sales", channel="store"))) == 1


@pytest.mark.parametrize(
    ("hours", "amount", "raised"),
    [
        pytest.param({"19": 47, "8": 3}, 10_000.0, False, id="an hour at exactly 6 %: never extreme"),
        pytest.param({"19": 48, "8": 2}, 599.9, False, id="an hour at 4 %: under fifteen times"),
        pytest.param({"19": 48, "8": 2}, 600.0, True, id="an hour at 4 %: fifteen times"),
    ],
)
def test_an_extreme_basket_is_fifteen_times_the_usual_at_an_hour_below_four_times_the_rare_share(
    hours: dict[str, int], amount: float, raised: bool
) -> None:
    # The default rare share, 1.5 %: 2 or 3 of 50 touchpoints at 08:00 is not seldom, but below 6 % it is not often.
    found = seen(memory({"store": 50}, hours), purchase(amount, hour=8))
    assert [(f.details["changed"], f.reasons, f.severity) for f in found] == (
        [(["hour", "amount"], ("unusual_hour", "unusual_amount", "purchase"), CRITICAL)] if raised else []
    )


def test_an_extreme_basket_at_a_store_seldom_seen_names_only_the_store() -> None:
    base = memory({"store": 40}, {"19": 37, "8": 3}, {"home": 39, "away": 1})
    [finding] = seen(base, purchase(600.0, hour=8, location="away"), rare_share=0.05)
    assert finding.details["changed"] == ["location", "amount"]


@pytest.mark.parametrize(
    ("amount", "severity"),
    [(79.9, None), (80.0, WARNING), (239.9, WARNING), (240.0, CRITICAL)],
)
def test_twice_the_basket_is_raised_where_never_seen_and_six_times_is_critical(
    amount: float, severity: str | None
) -> None:
    found = seen(memory({"store": 15}), purchase(amount, hour=3))
    assert [f.severity for f in found] == ([severity] if severity else [])


def test_a_purchase_in_another_currency_is_not_judged() -> None:
    base = memory({"store": 15})
    assert seen(base, touchpoint(20, 3, location=None, amount=5000.0, currency="USD")) == []
    assert len(seen(base, touchpoint(20, 3, location=None, amount=5000.0, currency="EUR"))) == 1


def test_an_amount_on_anything_but_a_purchase_is_neither_judged_nor_kept() -> None:
    customer = regular(12)
    refund = touchpoint(12, 3, kind="refund", channel="app", location=None)
    refund["attributes"] = {"amount": 500.0, "currency": "EUR"}
    kept = customer.memory[5]

    assert customer.see(refund) == []
    assert customer.memory[5] == kept


def test_a_median_under_one_unit_is_still_a_median() -> None:
    base = memory({"store": 15}, None, None, 0, [0.5] * 15)
    assert seen(base, purchase(0.9, hour=3)) == []
    assert len(seen(base, purchase(1.0, hour=3))) == 1


def test_a_damaged_baseline_without_hours_reads_every_hour_as_never_seen() -> None:
    base = [{"store": 15}, {}, {}, 0, "EUR", AMOUNTS]
    [finding] = seen(base, purchase(80.0))
    assert finding.details["changed"] == ["hour", "amount"]


def test_a_purchase_recorded_by_someone_else_is_judged_and_remembered() -> None:
    customer = regular(12)
    [finding] = customer.see(touchpoint(12, 3, channel="phone", location=None, amount=500.0, actor="agent"))
    assert finding.details["changed"] == ["hour", "amount"]
    assert customer.memory[0]["phone"] == 1


def test_after_purchases_of_nothing_any_amount_is_many_times_the_usual_but_nothing_is_not() -> None:
    base = memory({"store": 15}, None, None, 0, [0] * 15)
    assert seen(base, purchase(0.0, hour=3)) == [], "a purchase of nothing is no bigger basket"
    [finding] = seen(base, purchase(11.0, hour=3))
    assert (finding.details["changed"], finding.severity) == (["hour", "amount"], CRITICAL)
    assert "spending about 0 EUR a purchase" in finding.summary
    assert "is the first with any spend (changed: hour, amount)." in finding.summary
    assert "inf" not in finding.summary
    assert finding.details["times_usual"] is None


# --- the kept baseline ---------------------------------------------------------------------------------------


def test_the_options_default_to_the_documented_values() -> None:
    bare = UsagePatternChange({})
    assert (bare.min_history, bare.min_purchases, bare.amount_factor, bare.rare_share) == (10, 3, 2.0, 0.015)
    assert bare._decay_at == DECAY_AT
    assert UsagePatternChange({"min_history": 40})._decay_at == 88
    assert UsagePatternChange({"min_history": 28})._decay_at == DECAY_AT


@pytest.mark.parametrize(
    "broken",
    [
        None,
        [],
        [{}, {}, {}, 0, "EUR"],
        ["x", {}, {}, 0, "EUR", []],
        [{}, "x", {}, 0, "EUR", []],
        [{}, {}, "x", 0, "EUR", []],
        [{}, {}, {}, "0", "EUR", []],
        [{}, {}, {}, 0, 5, []],
        [{}, {}, {}, 0, "EUR", "x"],
    ],
)
def test_a_memory_that_is_not_a_baseline_starts_a_new_one(broken: Any) -> None:
    detector = UsagePatternChange(OPTIONS)
    kept, found = detector.observe(broken, context_of(touchpoint(0, 19, amount=40.0)))
    assert found == []
    assert kept == [{"store": 1}, {"19": 1}, {HOME: 1}, 0, "EUR", [40]]


def test_a_new_baseline_without_purchases_has_no_currency() -> None:
    detector = UsagePatternChange(OPTIONS)
    kept, _ = detector.observe(None, context_of(touchpoint(0, 19, kind="visit", location=None)))
    assert kept == [{"store": 1}, {"19": 1}, {}, 0, "", []]


def test_the_fifth_location_folds_the_least_used_into_other() -> None:
    customer = Customer()
    for index, (name, visits) in enumerate([("a", 3), ("b", 1), ("c", 2), ("d", 2)]):
        for visit in range(visits):
            customer.see(touchpoint(index * 3 + visit, 19, kind="visit", location=name))
    assert customer.memory[2] == {"a": 3, "b": 1, "c": 2, "d": 2}
    assert customer.memory[3] == 0
    customer.see(touchpoint(20, 19, kind="visit", location="e"))
    assert customer.memory[2] == {"a": 3, "c": 2, "d": 2, "e": 1}
    assert customer.memory[3] == 1
    customer.see(touchpoint(21, 19, kind="visit", location="f"))
    assert customer.memory[2] == {"a": 3, "c": 2, "d": 2, "f": 1}
    assert customer.memory[3] == 2, "folded counts add up"


def test_a_purchase_in_another_currency_forgets_the_oldest_amount_until_it_takes_over() -> None:
    customer = Customer()
    customer.see(touchpoint(0, 19, amount=40.0))
    customer.see(touchpoint(1, 19, amount=41.0))
    customer.see(touchpoint(2, 19, amount=10.0, currency="USD"))
    assert customer.memory[4:] == ["EUR", [41]]
    customer.see(touchpoint(3, 19, amount=12.0, currency="USD"))
    assert customer.memory[4:] == ["USD", [12]]


def test_counts_are_halved_once_the_baseline_grows_past_its_cap() -> None:
    base = memory({"store": 64}, {"19": 61, "1": 1, "2": 2}, {"home": 64}, 7)
    detector = UsagePatternChange(OPTIONS)
    kept, _ = detector.observe(base, context_of(touchpoint(30, 19, kind="visit", location="home")))
    assert kept[:4] == [{"store": 32}, {"19": 31, "2": 1}, {"home": 32}, 3], (
        "a count of 1 goes, one of 2 stays"
    )
    at_cap = memory({"store": 63}, {"19": 63}, {"home": 63}, 3)
    kept, _ = detector.observe(at_cap, context_of(touchpoint(30, 19, kind="visit", location="home")))
    assert kept[:4] == [{"store": 64}, {"19": 64}, {"home": 64}, 3], "64 is the cap itself: kept"


@pytest.mark.parametrize(
    ("amount", "kept"),
    [
        (9.994, 9.99),
        (9.996, 10),
        (10.4, 10),
        (39.95, 40),
        (999.4, 999),
        (999.6, 1000),
        (1000.6, 1000),
        (1234.5, 1230),
        (3.456, 3.46),
        (0.0, 0),
    ],
)
def test_amounts_are_kept_short_whole_units_from_10_to_999_else_three_digits(
    amount: float, kept: float
) -> None:
    detector = UsagePatternChange(OPTIONS)
    memory_, _ = detector.observe(None, context_of(touchpoint(0, 19, amount=amount)))
    assert memory_[5] == [kept]
    assert type(memory_[5][0]) is type(kept)


@pytest.mark.parametrize(
    "attributes",
    [
        {"amount": -1.0, "currency": "EUR"},
        {"amount": True, "currency": "EUR"},
        {"amount": float("inf"), "currency": "EUR"},
        {"amount": "40", "currency": "EUR"},
        {"amount": 40.0, "currency": ""},
        {"amount": 40.0},
    ],
)
def test_an_amount_that_cannot_be_sized_is_not_kept(attributes: dict[str, Any]) -> None:
    event = touchpoint(0, 19, amount=None)
    event["attributes"] = attributes
    memory_, _ = UsagePatternChange(OPTIONS).observe(None, context_of(event))
    assert memory_[4:] == ["", []]
    assert memory_[0] == {"store": 1}, "the touchpoint still counts"


def test_a_zero_amount_is_a_purchase_of_nothing_and_is_kept() -> None:
    memory_, _ = UsagePatternChange(OPTIONS).observe(None, context_of(touchpoint(0, 19, amount=0)))
    assert memory_[4:] == ["EUR", [0]]


def test_the_clock_reads_the_events_own_minute_and_survives_an_unreadable_time() -> None:
    base = memory({"store": 15})
    event = purchase(80.0, hour=3, minute=47)
    assert seen(base, event)[0].details["local_time"] == "03:47"
    event["occurred_at"] = "not a time"
    detector = UsagePatternChange(OPTIONS)
    context = Context(
        customer_id="cust-42",
        event=event,
        instant=0,
        local_day=0,
        local_hour=3,
        state=CustomerState(),
        calendars=CONFIG.calendars,
        zone=BERLIN,
    )
    assert detector.observe(base, context)[1][0].details["local_time"] == "03:00"


@pytest.mark.parametrize(
    ("amount", "said"),
    [(40.0, "40"), (39.5, "39.5"), (99.99, "99.99"), (100.0, "100"), (100.4, "100"), (1234.5, "1234")],
)
def test_money_reads_in_units_from_100_and_to_the_cent_below(amount: float, said: str) -> None:
    base = memory({"store": 15}, None, None, 0, [amount] * 15)
    [finding] = seen(base, purchase(amount * 3, hour=3))
    assert f"spending about {said} EUR a purchase" in finding.summary


@pytest.mark.parametrize(
    ("amount", "said"),
    [(79.9, "79.9"), (99.99, "99.99"), (100.0, "100"), (100.4, "100"), (1234.5, "1234")],
)
def test_the_purchase_reads_in_units_from_100_and_to_the_cent_below(amount: float, said: str) -> None:
    base = memory({"store": 15}, None, None, 0, [10.0] * 15)
    [finding] = seen(base, purchase(amount, hour=3))
    assert f"this {said} EUR purchase in store at 03:10" in finding.summary


@pytest.mark.parametrize(
    ("amount", "said", "times_usual"),
    [(80.0, "2.0", 2.0), (396.0, "9.9", 9.9), (400.0, "10", 10.0), (500.0, "12", 12.5), (424.0, "11", 10.6)],
)
def test_times_the_usual_read_with_one_decimal_below_10_and_whole_from_10(
    amount: float, said: str, times_usual: float
) -> None:
    [finding] = seen(memory({"store": 15}), purchase(amount, hour=3))
    assert f"is {said} times that" in finding.summary
    assert finding.details["times_usual"] == times_usual


# --- two baselines become one (an anonymous profile merging into its customer) --------------------------------


def merged(mine: Any, theirs: Any, **options: Any) -> Any:
    return UsagePatternChange({**OPTIONS, **options}).merge(mine, theirs, CustomerState())


def test_a_baseline_merged_with_an_empty_one_is_kept_as_it_is() -> None:
    full = memory({"store": 12}, None, {HOME: 12})
    empty = [{}, {}, {}, 0, "", []]
    assert merged(full, None) == full
    assert merged(full, empty) == full
    assert merged(None, full) == full
    assert merged(empty, full) == full


def test_merged_baselines_add_their_counts_and_keep_the_four_most_used_stores() -> None:
    mine = [{"store": 10, "app": 1}, {"19": 10, "3": 1}, {"a": 5, "b": 4, "c": 1}, 1, "EUR", [40.0]]
    theirs = [{"store": 7}, {"19": 5, "20": 2}, {"d": 2, "e": 1, "f": 3, "a": 1}, 2, "EUR", [39.0]]
    channels, hours, locations, other, _, _ = merged(mine, theirs)
    assert channels == {"store": 17, "app": 1}
    assert hours == {"19": 15, "3": 1, "20": 2}
    # a 6, b 4, c 1, d 2, e 1, f 3: c, then e (as little used, but later), go to the untracked ones.
    assert locations == {"a": 6, "b": 4, "d": 2, "f": 3}
    assert other == 1 + 2 + 1 + 1


def test_merged_amounts_are_the_kept_currencys_theirs_first_at_most_fifteen() -> None:
    mine = [{"store": 10}, {"19": 10}, {}, 0, "EUR", [float(n) for n in range(10)]]
    theirs = [{"store": 10}, {"19": 10}, {}, 0, "EUR", [float(n) for n in range(100, 110)]]
    assert merged(mine, theirs)[4:] == ["EUR", [*range(105, 110), *range(10)]]
    in_dollars = [{"store": 10}, {"19": 10}, {}, 0, "USD", [7.0]]
    assert merged(mine, in_dollars)[4:] == ["EUR", [float(n) for n in range(10)]], (
        "another currency: mine stay"
    )
    without = [{"store": 10}, {"19": 10}, {}, 0, "", []]
    assert merged(without, in_dollars)[4:] == ["USD", [7.0]], "none of mine: theirs"
    assert merged(mine, without)[4:] == ["EUR", [float(n) for n in range(10)]]


def test_merged_counts_are_halved_until_within_the_cap() -> None:
    mine = [{"store": 60}, {"19": 60}, {"home": 60}, 6, "EUR", [40.0]]
    theirs = [{"app": 70}, {"20": 70}, {}, 0, "EUR", [40.0]]
    # 130 touchpoints: halved to 65, still over 64, halved again.
    assert merged(mine, theirs)[:4] == [{"store": 15, "app": 17}, {"19": 15, "20": 17}, {"home": 15}, 1]
    # With a cap of 2 × 40 + 8 = 88, once is enough.
    assert merged(mine, theirs, min_history=40)[:4] == [
        {"store": 30, "app": 35},
        {"19": 30, "20": 35},
        {"home": 30},
        3,
    ]
    small = [{"app": 4}, {"20": 4}, {}, 0, "EUR", [40.0]]
    assert merged(mine, small)[:4] == [{"store": 60, "app": 4}, {"19": 60, "20": 4}, {"home": 60}, 6], (
        "64: kept"
    )
