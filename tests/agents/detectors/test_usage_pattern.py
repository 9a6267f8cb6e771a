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

    assert finding.severity == CRITICAL
    assert finding.evidence == (night["event_id"],)
    assert finding.reasons == ("unusual_channel", "unusual_hour", "unusual_amount", "purchase")
    assert finding.details["changed"] == ["channel", "hour", "amount"]
    assert finding.summary.startswith(
        f"Customer cust-42 is usually seen in store at {HOME} between 18:00 and 21:00, "
        "spending about 40 EUR a purchase; this 500 EUR purchase on the app at 03:10 is 46 MADs out"
    )
    assert "not a sales call" in finding.suggested_action
    assert "on file" in finding.suggested_action
    assert finding.occurred_at == finding.detected_at == context_of(night).instant
    assert finding.channel == "app"
    assert finding.location is None
    assert finding.details["baseline"]["median"] == 40
    assert finding.details["mads"] == 46.0
    orjson.dumps(finding.details)  # JSON-ready


@pytest.mark.parametrize(("history", "raised"), [(9, False), (10, True)])
def test_nothing_is_raised_until_the_baseline_holds_min_history_touchpoints(
    history: int, raised: bool
) -> None:
    customer = regular(history)

    found = customer.see(touchpoint(history, 3, 10, channel="app", location=None, amount=500.0))

    assert bool(found) is raised


def test_a_normal_next_purchase_is_not_raised() -> None:
    customer = regular(12)

    assert customer.see(touchpoint(12, 19, 40, amount=42.0)) == []


def test_a_purchase_twice_the_usual_size_with_a_normal_spread_is_not_raised() -> None:
    customer = regular(12)

    assert customer.see(touchpoint(12, 19, 40, amount=80.0)) == []


def test_identical_amounts_do_not_make_any_other_amount_infinitely_unusual() -> None:
    customer = Customer()
    for day in range(12):
        customer.see(touchpoint(day, 19, amount=40.0))

    assert customer.see(touchpoint(12, 19, amount=55.0)) == []
    assert customer.see(touchpoint(13, 19, amount=0.0)) == []
    [far] = customer.see(touchpoint(14, 19, amount=400.0))
    assert far.reasons == ("unusual_amount", "purchase")
    assert far.severity == WARNING


@pytest.mark.parametrize(
    ("what", "event"),
    [
        ("just after the usual band", lambda: touchpoint(12, 21, 40, amount=41.0)),
        (
            "a first look on the web",
            lambda: touchpoint(12, 19, kind="page_view", channel="web", location=None),
        ),
        (
            "a first purchase on the app",
            lambda: touchpoint(12, 19, channel="app", location=None, amount=39.0),
        ),
        ("a lunchtime purchase", lambda: touchpoint(12, 12, 30, amount=43.0)),
        ("a bigger basket", lambda: touchpoint(12, 20, amount=110.0)),
    ],
)
def test_one_weak_signal_alone_is_not_raised(what: str, event: Any) -> None:
    customer = regular(12)

    assert customer.see(event()) == [], what


def test_a_purchase_at_a_new_location_is_raised_on_its_own_as_a_warning() -> None:
    customer = regular(12)

    [finding] = customer.see(touchpoint(12, 19, location="store-hamburg-altona", amount=41.0))

    assert finding.severity == WARNING
    assert finding.reasons == ("new_location", "purchase")
    assert "at store-hamburg-altona, a new location, at 19:10" in finding.summary


def test_a_night_visit_on_a_new_channel_is_raised_as_a_warning() -> None:
    customer = regular(12)

    [finding] = customer.see(touchpoint(12, 2, 5, kind="visit", channel="app", location=None))

    assert finding.severity == WARNING
    assert finding.reasons == ("unusual_channel", "unusual_hour")
    assert "this visit on the app at 02:05 (changed: channel, hour)." in finding.summary


def test_the_hour_is_read_in_the_events_own_offset() -> None:
    # 19:30 in Berlin is 03:30 in Tokyo: the same instant, a night purchase for a customer there.
    tokyo = timezone(timedelta(hours=9))
    in_berlin = touchpoint(12, 19, 30, channel="app", location=None, amount=41.0)
    in_tokyo = touchpoint(12, 19, 30, channel="app", location=None, amount=41.0)
    in_tokyo["occurred_at"] = datetime.fromisoformat(in_berlin["occurred_at"]).astimezone(tokyo).isoformat()
    assert context_of(in_tokyo).instant == context_of(in_berlin).instant

    assert regular(12).see(in_berlin) == []
    [finding] = regular(12).see(in_tokyo)
    assert finding.details["changed"] == ["channel", "hour"]
    assert finding.details["local_time"] == "03:30"


def test_touchpoints_made_by_agents_and_systems_are_neither_judged_nor_remembered() -> None:
    customer = regular(12)
    before = customer.memory

    assert customer.see(touchpoint(12, 3, kind="reply", channel="chat", location=None, actor="agent")) == []
    assert customer.see(touchpoint(12, 4, kind="offer", channel="email", location=None, actor="system")) == []
    assert customer.memory == before


def test_the_unusual_event_becomes_part_of_the_baseline() -> None:
    customer = regular(12)
    customer.see(touchpoint(12, 3, channel="app", location=None, amount=500.0))

    channels, bands, _, _, currency, amounts = customer.memory
    assert channels == {"store": 12, "app": 1}
    assert bands["1"] == 1
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
        channels, bands, locations, _, _, amounts = chaotic.memory
        assert len(channels) <= len(CHANNELS)
        assert len(bands) <= 8
        assert len(locations) <= MAX_LOCATIONS
        assert len(amounts) <= MAX_AMOUNTS
        assert sum(channels.values()) <= DECAY_AT
        largest = max(largest, chaotic.size)
    assert largest < 600


def test_the_detector_is_built_from_the_default_rules() -> None:
    available = {USAGE_PATTERN_CHANGE: "agents.detectors.usage_pattern:UsagePatternChange"}

    [detector] = build_detectors(CONFIG.detectors, available)
    disabled = build_detectors({USAGE_PATTERN_CHANGE: {"enabled": False}}, available)

    assert isinstance(detector, UsagePatternChange)
    assert detector.type == USAGE_PATTERN_CHANGE
    assert (detector.min_history, detector.mad_threshold, detector.rare_share) == (10, 5.0, 0.05)
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

SEEN = (
    "Customer cust-42 is usually seen in store at store-berlin-mitte between 18:00 and 21:00, spending about "
    "40 EUR a purchase"
)


def test_the_story_alert_says_the_baseline_and_what_changed_whole() -> None:
    [finding] = regular(12).see(touchpoint(12, 3, 10, channel="app", location=None, amount=500.0))
    assert finding.summary == (
        f"{SEEN}; this 500 EUR purchase on the app at 03:10 is 46 MADs out (changed: channel, hour, amount)."
    )
    assert finding.suggested_action == (
        "Verify with the customer through a contact already on file (the known phone number or the app account), "
        "never through details given in this interaction, that it was really them; if it was not, block the "
        "account or card and follow the fraud procedure. This is a check, not a sales call."
    )
    assert finding.details == {
        "changed": ["channel", "hour", "amount"],
        "local_time": "03:10",
        "baseline": {
            "touchpoints": 12,
            "channel": "store",
            "hours": "18:00-21:00",
            "location": "store-berlin-mitte",
            "median": 40.0,
            "mad": 10.0,
            "currency": "EUR",
        },
        "amount": 500.0,
        "mads": 46.0,
    }


def test_a_visit_at_a_new_location_on_a_new_channel_names_both_and_no_amount() -> None:
    [finding] = regular(12).see(touchpoint(12, 19, 5, kind="visit", channel="web", location="store-hamburg"))
    assert finding.summary == (
        f"{SEEN}; this visit on the web at store-hamburg, a new location, at 19:05 (changed: channel, location)."
    )
    assert finding.severity == WARNING, "not a purchase"
    assert finding.reasons == ("unusual_channel", "new_location")
    assert finding.location == "store-hamburg"
    assert "amount" not in finding.details
    assert "median" not in finding.details["baseline"]


def test_a_purchase_at_a_new_location_is_strong_alone() -> None:
    [finding] = regular(12).see(touchpoint(12, 19, 5, channel="store", location="store-hamburg", amount=41))
    assert finding.summary == (
        f"{SEEN}; this 41 EUR purchase in store at store-hamburg, a new location, at 19:05 (changed: location)."
    )
    assert (finding.severity, finding.reasons) == (WARNING, ("new_location", "purchase"))


def test_a_purchase_far_out_is_strong_alone_and_says_by_how_much() -> None:
    [finding] = regular(12).see(touchpoint(12, 19, 5, amount=5000))
    assert finding.summary == (
        f"{SEEN}; this 5000 EUR purchase in store at store-berlin-mitte at 19:05 is 496 MADs out (changed: amount)."
    )
    assert (finding.severity, finding.reasons) == (WARNING, ("unusual_amount", "purchase"))


def test_before_enough_amounts_the_baseline_states_the_median_of_those_it_has() -> None:
    customer = Customer(detector=UsagePatternChange({"min_history": 3}))
    for day in range(3):
        customer.see(touchpoint(day, 19, amount=40.0))
    [finding] = customer.see(touchpoint(3, 3, kind="visit", channel="app", location=None))
    assert finding.summary == (
        "Customer cust-42 is usually seen in store at store-berlin-mitte between 18:00 and 21:00, spending about "
        "40 EUR a purchase; this visit on the app at 03:10 (changed: channel, hour)."
    )


# --- the rule's thresholds, exactly ------------------------------------------------------------------------


def memory(
    channels: dict[str, int],
    bands: dict[str, int] | None = None,
    locations: dict[str, int] | None = None,
    other: int = 0,
    amounts: list[float] | None = None,
) -> list[Any]:
    """A baseline as kept in the state (see the module's memory layout)."""
    return [channels, bands or {"6": sum(channels.values())}, locations or {}, other, "EUR", amounts or []]


def seen(memory_: list[Any], event: dict[str, Any], **options: Any) -> list[Finding]:
    detector = UsagePatternChange({**OPTIONS, **options})
    return detector.observe(memory_, context_of(event))[1]


def night_visit(channel: str, location: str | None = None) -> dict[str, Any]:
    """A visit at 03:10: its hour band (00:00-03:00 … here 03:00-06:00) was never seen, a changed dimension."""
    return touchpoint(20, 3, kind="visit", channel=channel, location=location)


@pytest.mark.parametrize(
    ("channels", "changed"),
    [
        pytest.param({"store": 19, "app": 1}, False, id="a share of exactly 5 %"),
        pytest.param({"store": 39, "app": 1}, True, id="a share under 5 %"),
        pytest.param({"store": 20}, True, id="never used"),
    ],
)
def test_a_channel_is_unusual_only_below_its_rare_share(channels: dict[str, int], changed: bool) -> None:
    found = seen(memory(channels), night_visit("app"))
    assert bool(found) is changed
    if changed:
        assert found[0].details["changed"] == ["channel", "hour"]


def changed_at(bands: dict[str, int], hour: int) -> list[str]:
    """What changed for a purchase at *hour* at a new location (strong alone, so always raised)."""
    total = sum(bands.values())
    base = memory({"store": total}, bands, {"home": total})
    [finding] = seen(base, touchpoint(20, hour, channel="store", location="away", amount=40.0))
    return list(finding.details["changed"])


@pytest.mark.parametrize(
    ("bands", "changed"),
    [
        pytest.param({"6": 19, "1": 1}, False, id="its band at exactly 5 %"),
        pytest.param({"6": 36, "0": 4}, False, id="a neighbour counts half: exactly 5 %"),
        pytest.param({"6": 38, "2": 1, "0": 1}, True, id="both neighbours, half each: 2.5 %"),
        pytest.param({"6": 36, "2": 2, "0": 2}, False, id="both neighbours, half each: 5 %"),
        pytest.param({"6": 39, "0": 1}, True, id="a neighbour's half under 5 %"),
        pytest.param({"6": 38, "3": 2}, True, id="two bands away does not count"),
        pytest.param({"6": 38, "7": 2}, True, id="21-24 is no neighbour of 03-06"),
    ],
)
def test_an_hour_is_unusual_only_below_its_rare_share_neighbours_counting_half(
    bands: dict[str, int], changed: bool
) -> None:
    assert ("hour" in changed_at(bands, 3)) is changed


def test_the_day_wraps_around_for_the_neighbouring_bands() -> None:
    assert "hour" not in changed_at({"6": 36, "7": 4}, 1), "21:00-24:00 is next to 00:00-03:00"
    assert "hour" not in changed_at({"3": 36, "0": 4}, 22), "and the other way round"
    assert "hour" in changed_at({"6": 37, "7": 3}, 1)
    assert "hour" in changed_at({"3": 37, "0": 3}, 22)


@pytest.mark.parametrize(
    ("locations", "other", "changed", "new"),
    [
        pytest.param({"home": 19, "away": 1}, 0, False, False, id="a tracked location at exactly 5 %"),
        pytest.param({"home": 39, "away": 1}, 0, True, False, id="a tracked location under 5 %"),
        pytest.param({"home": 19}, 1, False, False, id="untracked ones at exactly 5 %: not judged"),
        pytest.param({"home": 39}, 1, True, True, id="untracked ones under 5 %: a new location"),
    ],
)
def test_a_location_is_unusual_only_below_its_rare_share(
    locations: dict[str, int], other: int, changed: bool, new: bool
) -> None:
    total = sum(locations.values()) + other
    found = seen(memory({"web": total}, None, locations, other), night_visit("web", "away"))
    assert bool(found) is changed
    if changed:
        assert found[0].details["changed"] == ["hour", "location"]
        assert ("new_location" in found[0].reasons) is new


def test_locations_are_judged_only_once_enough_touchpoints_had_one() -> None:
    few = memory({"web": 20}, None, {"home": 9})
    assert seen(few, night_visit("web", "away")) == [], "9 located touchpoints: not yet"
    enough = memory({"web": 20}, None, {"home": 10})
    assert seen(enough, night_visit("web", "away"))[0].details["changed"] == ["hour", "location"]


AMOUNTS = [40.0] * 5 + [30.0, 50.0] * 5  # median 40, MAD 10 (the floor: a quarter of 40)


@pytest.mark.parametrize(
    ("amount", "changed", "strong"),
    [
        pytest.param(90.0, False, False, id="exactly 5 MADs out"),
        pytest.param(90.5, True, False, id="just over 5 MADs"),
        pytest.param(140.0, True, False, id="exactly 10 MADs: not yet far out"),
        pytest.param(140.5, True, True, id="just over 10 MADs: far out"),
    ],
)
def test_an_amount_is_unusual_beyond_the_mad_threshold_and_far_out_beyond_twice_it(
    amount: float, changed: bool, strong: bool
) -> None:
    base = memory({"store": 15}, {"6": 15}, None, 0, AMOUNTS)
    purchase = touchpoint(20, 19, amount=amount, location=None)
    found = seen(base, purchase)
    assert bool(found) is strong, "alone, only a far-out amount is raised"
    with_night = seen(base, touchpoint(20, 3, channel="app", amount=amount, location=None))
    assert ("amount" in with_night[0].details["changed"]) is changed
    assert with_night[0].details["mads"] == round((amount - 40) / 10, 1)


def test_identical_amounts_of_zero_use_a_mad_of_one_unit() -> None:
    base = memory({"store": 15}, {"6": 15}, None, 0, [0] * 15)
    [finding] = seen(base, touchpoint(20, 19, amount=11.0, location=None))
    assert finding.details["baseline"]["mad"] == 1.0
    assert finding.details["mads"] == 11.0


def test_two_changed_dimensions_on_a_purchase_are_critical_one_strong_one_is_a_warning() -> None:
    base = memory({"store": 15}, {"6": 15}, None, 0, AMOUNTS)
    [two] = seen(base, touchpoint(20, 3, amount=91.0, location=None))
    assert (two.details["changed"], two.severity) == (["hour", "amount"], CRITICAL)
    [visit] = seen(base, touchpoint(20, 3, kind="visit", channel="app", location=None))
    assert (visit.details["changed"], visit.severity) == (["channel", "hour"], WARNING)


# --- the kept baseline ---------------------------------------------------------------------------------------


def test_the_options_default_to_the_documented_values() -> None:
    bare = UsagePatternChange({})
    assert (bare.min_history, bare.mad_threshold, bare.rare_share) == (10, 5.0, 0.05)
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
    assert kept == [{"store": 1}, {"6": 1}, {HOME: 1}, 0, "EUR", [40]]


def test_a_new_baseline_without_purchases_has_no_currency() -> None:
    detector = UsagePatternChange(OPTIONS)
    kept, _ = detector.observe(None, context_of(touchpoint(0, 19, kind="visit", location=None)))
    assert kept == [{"store": 1}, {"6": 1}, {}, 0, "", []]


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
    base = memory({"store": 64}, {"6": 63, "1": 1}, {"home": 64}, 3)
    detector = UsagePatternChange(OPTIONS)
    kept, _ = detector.observe(base, context_of(touchpoint(30, 19, kind="visit", location="home")))
    assert kept[:4] == [{"store": 32}, {"6": 32}, {"home": 32}, 1]
    at_cap = memory({"store": 63}, {"6": 63}, {"home": 63}, 3)
    kept, _ = detector.observe(at_cap, context_of(touchpoint(30, 19, kind="visit", location="home")))
    assert kept[:4] == [{"store": 64}, {"6": 64}, {"home": 64}, 3], "64 is the cap itself: kept"


@pytest.mark.parametrize(
    ("amount", "kept"),
    [
        (9.994, 9.99),
        (9.996, 10),
        (10.4, 10),
        (39.95, 40),
        (999.4, 999),
        (999.6, 1000),
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
    base = memory({"store": 15}, {"6": 15})
    event = touchpoint(20, 3, minute=47, kind="visit", channel="app", location=None)
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
    base = memory({"store": 15}, {"6": 15}, None, 0, [amount] * 15)
    [finding] = seen(base, touchpoint(20, 3, kind="visit", channel="app", location=None))
    assert f"spending about {said} EUR a purchase" in finding.summary


@pytest.mark.parametrize(("amount", "said"), [(90.5, "5.0"), (139.0, "9.9"), (140.0, "10"), (145.0, "10")])
def test_mads_read_with_one_decimal_below_10_and_whole_from_10(amount: float, said: str) -> None:
    base = memory({"store": 15}, {"6": 15}, None, 0, AMOUNTS)
    [finding] = seen(base, touchpoint(20, 3, amount=amount, location=None))
    assert f"is {said} MADs out" in finding.summary
