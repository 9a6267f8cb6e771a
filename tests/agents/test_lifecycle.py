"""The lifecycle stage machine, told as customer stories through JourneyTracker.track and .advance."""

from __future__ import annotations

import dataclasses
import itertools
import math
import statistics
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents import lifecycle
from agents.config import config_from_mapping, default_config
from agents.domain.instants import DAY
from agents.domain.state import CustomerState
from agents.journey.track import INACTIVITY, WIN_BACK
from agents.lifecycle import (
    ADVOCATE,
    AT_RISK,
    FIRST_TIME,
    LAPSED,
    LOYAL,
    PROSPECT,
    REPEAT,
    classify,
    next_stage_deadline,
)
from agents.models.customer import CustomerModel
from agents.models.params import DEFAULT_PARAMS
from tests.agents.journey.touchpoints import (
    Journey,
    complaint,
    feedback,
    inquiry,
    instant,
    purchase,
    referral,
    resolution,
    visit,
)

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Until:
    """Let time pass: fire every deadline due up to *day* (what the agent's watermark or sweep does)."""

    day: float


def loyal_history() -> list[Any]:
    """Four purchase days spread over 60 days: the shortest sustained buyer under the default rules."""
    return [purchase(0), purchase(20), purchase(40), purchase(60)]


def with_feedback(opinion: dict[str, Any]) -> list[Any]:
    """The loyal history with *opinion* given between the first and second purchase."""
    first, *rest = loyal_history()
    return [first, opinion, *rest]


LOYAL_PATH = [(FIRST_TIME, "purchase"), (REPEAT, "purchase"), (LOYAL, "purchase")]

STORIES = [
    pytest.param([visit(0)], [(PROSPECT, "visit")], id="a visitor is a prospect"),
    pytest.param(
        [visit(0), inquiry(1), complaint(2), feedback(3, nps=10), referral(4)],
        [(PROSPECT, "visit")],
        id="asking, complaining, promoting and referring never make a prospect a customer",
    ),
    pytest.param(
        [visit(0), purchase(1)],
        [(PROSPECT, "visit"), (FIRST_TIME, "purchase")],
        id="a first purchase makes a first-time customer",
    ),
    pytest.param(
        [purchase(0)], [(FIRST_TIME, "purchase")], id="a purchase as the very first touchpoint is first-time"
    ),
    pytest.param(
        [purchase(0), purchase(3)],
        [(FIRST_TIME, "purchase"), (REPEAT, "purchase")],
        id="a second purchase on another day makes a repeat customer",
    ),
    pytest.param(
        [purchase(0), purchase(0.3)],
        [(FIRST_TIME, "purchase")],
        id="a second purchase on the same day does not make a repeat customer",
    ),
    pytest.param(
        [
            purchase(0, occurred_at="2026-01-05T23:30:00+02:00"),
            purchase(0, occurred_at="2026-01-06T00:30:00+02:00"),
        ],
        [(FIRST_TIME, "purchase"), (REPEAT, "purchase")],
        id="purchases an hour apart across local midnight are two purchase days",
    ),
    pytest.param(
        [
            purchase(0, occurred_at="2026-01-05T08:00:00-05:00"),
            purchase(0, occurred_at="2026-01-05T22:00:00-05:00"),
        ],
        [(FIRST_TIME, "purchase")],
        id="purchases on two UTC dates but one local day are one purchase day",
    ),
    pytest.param(loyal_history(), LOYAL_PATH, id="four purchase days over 60 days make a loyal customer"),
    pytest.param(
        [purchase(0), purchase(30), purchase(60)],
        [(FIRST_TIME, "purchase"), (REPEAT, "purchase")],
        id="three purchase days over 60 days are not loyal",
    ),
    pytest.param(
        [purchase(0), purchase(20), purchase(40), purchase(59)],
        [(FIRST_TIME, "purchase"), (REPEAT, "purchase")],
        id="four purchase days within 59 days are a spree, not loyalty",
    ),
    pytest.param(
        [purchase(0), purchase(0.2), purchase(30), purchase(30.2), purchase(60)],
        [(FIRST_TIME, "purchase"), (REPEAT, "purchase")],
        id="five purchases on three days are not loyal",
    ),
    pytest.param(
        with_feedback(feedback(10, csat=4)),
        LOYAL_PATH,
        id="a satisfied sustained buyer is loyal",
    ),
    pytest.param(
        with_feedback(feedback(10, csat=2)),
        [(FIRST_TIME, "purchase"), (REPEAT, "purchase")],
        id="low satisfaction blocks loyal",
    ),
    pytest.param(
        with_feedback(feedback(10, nps=6)),
        LOYAL_PATH,
        id="satisfaction exactly at the threshold is loyal",
    ),
    pytest.param(
        with_feedback(feedback(10, nps=5)),
        [(FIRST_TIME, "purchase"), (REPEAT, "purchase")],
        id="satisfaction just below the threshold is not loyal",
    ),
    pytest.param(
        [*loyal_history(), feedback(61, csat=1, nps=0)],
        [*LOYAL_PATH, (REPEAT, "feedback")],
        id="a loyal customer who turns unhappy drops back to repeat",
    ),
    pytest.param(
        [*loyal_history(), feedback(61, nps=9)],
        [*LOYAL_PATH, (ADVOCATE, "feedback")],
        id="a loyal customer with NPS 9 is an advocate",
    ),
    pytest.param(
        [*loyal_history(), feedback(61, nps=8)],
        LOYAL_PATH,
        id="a loyal customer with NPS 8 stays loyal",
    ),
    pytest.param(
        [*loyal_history(), referral(61)],
        [*LOYAL_PATH, (ADVOCATE, "referral")],
        id="a referral by a loyal customer makes an advocate",
    ),
    pytest.param(
        [purchase(0), purchase(30), referral(31), feedback(32, nps=10)],
        [(FIRST_TIME, "purchase"), (REPEAT, "purchase")],
        id="a referral and a promoter score do not make a repeat customer an advocate",
    ),
    pytest.param(
        [referral(-1), *loyal_history()],
        [(PROSPECT, "referral"), *LOYAL_PATH[:2], (ADVOCATE, "purchase")],
        id="a prospect's referral counts once they become a sustained buyer",
    ),
    pytest.param(
        [*loyal_history(), complaint(61)],
        [*LOYAL_PATH, (REPEAT, "complaint")],
        id="an open complaint drops loyal back to repeat",
    ),
    pytest.param(
        [*loyal_history(), complaint(61), resolution(62)],
        [*LOYAL_PATH, (REPEAT, "complaint"), (LOYAL, "resolution")],
        id="a resolution restores loyal",
    ),
    pytest.param(
        [*loyal_history(), complaint(61, "issue-a"), resolution(62, "issue-b")],
        [*LOYAL_PATH, (REPEAT, "complaint")],
        id="resolving another issue does not restore loyal",
    ),
    pytest.param(
        [*loyal_history(), referral(61), complaint(62), resolution(63)],
        [*LOYAL_PATH, (ADVOCATE, "referral"), (REPEAT, "complaint"), (ADVOCATE, "resolution")],
        id="an advocate with an open complaint is repeat until it is resolved",
    ),
    pytest.param(
        [purchase(0), purchase(20), purchase(40), complaint(50), purchase(60), resolution(65)],
        [*LOYAL_PATH[:2], (LOYAL, "resolution")],
        id="a complaint open at the fourth purchase day delays loyal until it is resolved",
    ),
    pytest.param(
        [purchase(0), purchase(30), purchase(60), Until(200)],
        [*LOYAL_PATH[:2], (AT_RISK, INACTIVITY), (LAPSED, INACTIVITY)],
        id="buying stops: at risk after two gaps, lapsed after four",
    ),
    pytest.param(
        [purchase(0), purchase(30), purchase(60), Until(119)],
        LOYAL_PATH[:2],
        id="one day before the at-risk instant is still repeat",
    ),
    pytest.param(
        [purchase(0), purchase(30), purchase(60), Until(179)],
        [*LOYAL_PATH[:2], (AT_RISK, INACTIVITY)],
        id="one day before the lapsed instant is still at risk",
    ),
    pytest.param(
        [*loyal_history(), Until(99.9), Until(100)],
        [*LOYAL_PATH, (AT_RISK, INACTIVITY)],
        id="a loyal customer who stops buying is at risk too",
    ),
    pytest.param(
        [purchase(0), purchase(10), Until(400), purchase(410)],
        [*LOYAL_PATH[:2], (AT_RISK, INACTIVITY), (LAPSED, INACTIVITY), (REPEAT, WIN_BACK)],
        id="a purchase by a lapsed customer is a win-back",
    ),
    pytest.param(
        [purchase(0), purchase(10), purchase(410)],
        [*LOYAL_PATH[:2], (AT_RISK, INACTIVITY), (LAPSED, INACTIVITY), (REPEAT, WIN_BACK)],
        id="a lapsed customer's purchase is a win-back even when no sweep fired the deadlines",
    ),
    pytest.param(
        [purchase(0), purchase(10), visit(400), purchase(200)],
        [*LOYAL_PATH[:2], (AT_RISK, INACTIVITY), (LAPSED, INACTIVITY), (AT_RISK, "purchase")],
        id="a late purchase made before the customer lapsed is not a win-back",
    ),
    pytest.param(
        [purchase(0), purchase(30), purchase(60), Until(130), purchase(140)],
        [*LOYAL_PATH[:2], (AT_RISK, INACTIVITY), (LOYAL, "purchase")],
        id="a purchase by an at-risk customer is an ordinary purchase, not a win-back",
    ),
    pytest.param(
        [purchase(0), purchase(30), purchase(60), visit(400)],
        [*LOYAL_PATH[:2], (AT_RISK, INACTIVITY), (LAPSED, INACTIVITY)],
        id="a visit after a long silence fires the missed deadlines but buys nothing back",
    ),
    pytest.param(
        [purchase(0), purchase(30), purchase(60), Until(400), complaint(401), feedback(402, nps=10)],
        [*LOYAL_PATH[:2], (AT_RISK, INACTIVITY), (LAPSED, INACTIVITY)],
        id="only a purchase brings a lapsed customer back",
    ),
]


def play(journey: Journey, steps: list[Any]) -> None:
    for step in steps:
        if isinstance(step, Until):
            journey.advance(instant(step.day))
        else:
            journey.send(step)


@pytest.mark.parametrize(("steps", "expected"), STORIES)
def test_story_moves_through_the_expected_stages(steps: list[Any], expected: list[tuple[str, str]]) -> None:
    journey = Journey()
    play(journey, steps)
    assert [(t.to_stage, t.cause) for t in journey.transitions] == expected
    # The transitions form one chain that starts at nothing and ends at the customer's stage.
    assert [t.from_stage for t in journey.transitions] == [None] + [
        t.to_stage for t in journey.transitions[:-1]
    ]
    assert journey.stage == expected[-1][0]
    for transition in journey.transitions:
        assert (transition.event_id is None) == (transition.cause == INACTIVITY), transition
        assert transition.customer_id == "cust-1"
    assert journey.current.stage_since == journey.transitions[-1].at


def test_at_risk_and_lapsed_fire_exactly_at_their_instants_by_inactivity() -> None:
    journey = Journey()
    journey.send(purchase(0), purchase(30), purchase(60))  # median gap 30 days: at risk +60, lapsed +120
    assert journey.current.wake_at == instant(120)
    assert journey.advance(instant(120) - 1) == []
    assert journey.stage == REPEAT
    [at_risk] = journey.advance(instant(120))
    assert (at_risk.from_stage, at_risk.to_stage, at_risk.at) == (REPEAT, AT_RISK, instant(120))
    assert (at_risk.cause, at_risk.event_id) == (INACTIVITY, None)
    assert journey.current.wake_at == instant(180)
    assert journey.advance(instant(180) - 1) == []
    [lapsed] = journey.advance(instant(180))
    assert (lapsed.from_stage, lapsed.to_stage, lapsed.at) == (AT_RISK, LAPSED, instant(180))
    assert (lapsed.cause, lapsed.event_id) == (INACTIVITY, None)
    lapsed_state = journey.current
    assert lapsed_state.wake_at is None
    assert journey.advance(instant(10_000)) == []


def test_passing_time_alone_steps_through_every_due_deadline_each_at_its_own_instant() -> None:
    journey = Journey()
    journey.send(purchase(0), purchase(30), purchase(60))
    fired = journey.advance(instant(1_000))
    assert [(t.from_stage, t.to_stage, t.at) for t in fired] == [
        (REPEAT, AT_RISK, instant(120)),
        (AT_RISK, LAPSED, instant(180)),
    ]
    assert journey.current.stage_since == instant(180)


def test_a_late_event_after_silence_reports_missed_deadlines_at_their_own_instants_first() -> None:
    journey = Journey()
    journey.send(purchase(0), purchase(30), purchase(60))
    [step] = journey.send(purchase(400))
    assert [(t.to_stage, t.at, t.cause) for t in step.transitions] == [
        (AT_RISK, instant(120), INACTIVITY),
        (LAPSED, instant(180), INACTIVITY),
        (LOYAL, instant(400), WIN_BACK),
    ]


def test_a_late_first_purchase_changes_the_stage_at_the_customers_latest_time() -> None:
    journey = Journey()
    journey.send(visit(50))
    [step] = journey.send(purchase(5))
    [transition] = step.transitions
    assert (transition.to_stage, transition.at) == (FIRST_TIME, instant(50))
    assert journey.current.first_purchase == instant(5)


# Purchase days, rules → days after the last purchase at which the customer is at risk, then lapsed.
THRESHOLDS = [
    pytest.param([0, 10], {}, 120, 240, id="two purchase days use the default 60-day gap"),
    pytest.param([0, 30, 60], {}, 60, 120, id="three purchase days use their own median gap"),
    pytest.param([0, 10, 40, 50], {}, 20, 40, id="the median of uneven gaps, not the mean"),
    pytest.param([0, 10, 20, 50, 80], {}, 40, 80, id="the median of an even number of gaps is the midpoint"),
    pytest.param([0, 1, 2], {}, 14, 28, id="a daily shopper is never at risk sooner than 14 days"),
    pytest.param([0, 100, 200], {}, 200, 365, id="lapsing is capped by the 365-day window"),
    pytest.param([0, 200, 400], {}, 365, 365, id="a cadence beyond the window lapses straight away"),
    pytest.param([0, 5], {"default_gap_days": 10}, 20, 40, id="a custom default gap"),
    pytest.param([0, 10], {"min_purchase_days_for_cadence": 2}, 20, 40, id="own cadence from two days"),
    pytest.param([0, 1, 2], {"at_risk_min_days": 30}, 30, 60, id="a custom at-risk floor"),
    pytest.param([0, 30, 60], {"lapse_window_days": 100}, 60, 100, id="a custom lapse window"),
    pytest.param(
        [0, 30, 60], {"at_risk_multiplier": 3, "lapsed_multiplier": 5}, 90, 150, id="custom multipliers"
    ),
]


@pytest.mark.parametrize(("days", "rules", "at_risk_after", "lapsed_after"), THRESHOLDS)
def test_inactivity_deadlines_follow_the_customers_cadence_and_the_rules(
    days: list[int], rules: dict[str, Any], at_risk_after: int, lapsed_after: int
) -> None:
    journey = Journey(config_from_mapping({"lifecycle": rules}))
    journey.send(*(purchase(day) for day in days))
    last = days[-1]
    before = journey.stage
    assert journey.advance(instant(last + at_risk_after) - 1) == []
    assert journey.stage == before
    fired = journey.advance(instant(last + lapsed_after))
    if at_risk_after < lapsed_after:
        expected = [(AT_RISK, instant(last + at_risk_after)), (LAPSED, instant(last + lapsed_after))]
    else:
        expected = [(LAPSED, instant(last + lapsed_after))]
    assert [(t.to_stage, t.at) for t in fired] == expected


def test_a_custom_default_gap_moves_the_deadlines_compared_with_the_defaults() -> None:
    default, short = Journey(), Journey(config_from_mapping({"lifecycle": {"default_gap_days": 10}}))
    for journey in (default, short):
        journey.send(purchase(0, event_id="p1"), purchase(5, event_id="p2"))
        journey.advance(instant(60))
    assert default.stage == REPEAT
    assert [(t.to_stage, t.at) for t in short.transitions[2:]] == [
        (AT_RISK, instant(25)),
        (LAPSED, instant(45)),
    ]


@pytest.mark.parametrize(
    ("rules", "steps", "stage"),
    [
        pytest.param(
            {"loyal_min_purchase_days": 3, "loyal_min_tenure_days": 30},
            [purchase(0), purchase(15), purchase(30)],
            LOYAL,
            id="fewer purchase days and a shorter tenure make loyal",
        ),
        pytest.param(
            {"loyal_min_purchase_days": 5},
            loyal_history(),
            REPEAT,
            id="more purchase days needed",
        ),
        pytest.param({"loyal_min_tenure_days": 61}, loyal_history(), REPEAT, id="longer tenure needed"),
        pytest.param(
            {"loyal_min_satisfaction": 0.9},
            [feedback(1, csat=4), *loyal_history()],
            REPEAT,
            id="a stricter satisfaction bar",
        ),
        pytest.param(
            {"loyal_min_satisfaction": 0},
            [feedback(1, csat=1), *loyal_history()],
            LOYAL,
            id="no satisfaction bar",
        ),
        pytest.param(
            {"advocate_min_nps": 7},
            [*loyal_history(), feedback(61, nps=7)],
            ADVOCATE,
            id="a lower promoter score",
        ),
    ],
)
def test_loyalty_thresholds_come_from_the_rules(rules: dict[str, Any], steps: list[Any], stage: str) -> None:
    journey = Journey(config_from_mapping({"lifecycle": rules}))
    play(journey, steps)
    assert journey.stage == stage


def test_a_prospect_has_no_stage_deadline() -> None:
    journey = Journey()
    journey.send(visit(0), inquiry(1), complaint(2))
    assert next_stage_deadline(journey.current, 0, default_config().lifecycle) is None
    # What is left to wake for is the end of its open alerts (agents/alerts/closing.py), never a stage.
    assert journey.advance(instant(5_000)) == []
    assert journey.current.wake_at is None


def test_classify_is_pure_and_depends_only_on_the_state_and_the_instant() -> None:
    journey = Journey()
    journey.send(purchase(0), purchase(30), purchase(60))
    before = journey.current.encode()
    rules = default_config().lifecycle
    stages = [classify(journey.current, instant(day), rules) for day in (60, 119, 120, 179, 180)]
    assert stages == [REPEAT, REPEAT, AT_RISK, AT_RISK, LAPSED]
    assert journey.current.encode() == before


def test_next_stage_deadline_is_strictly_after_the_given_instant() -> None:
    state = CustomerState(
        purchase_count=3, purchase_days=[0, 30, 60], first_purchase=0, last_purchase=60 * DAY
    )
    rules = default_config().lifecycle
    assert next_stage_deadline(state, 60 * DAY, rules) == 120 * DAY
    assert next_stage_deadline(state, 120 * DAY - 1, rules) == 120 * DAY
    assert next_stage_deadline(state, 120 * DAY, rules) == 180 * DAY
    assert next_stage_deadline(state, 180 * DAY, rules) is None


def test_stages_are_listed_in_ladder_order() -> None:
    assert lifecycle.STAGES == (PROSPECT, FIRST_TIME, REPEAT, LOYAL, ADVOCATE, AT_RISK, LAPSED)


# --- the median gap, odd and even -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "median"),
    [
        pytest.param([0, 10, 30, 31], 10, id="three gaps (1, 10, 20): the middle one"),
        pytest.param([0, 4, 10, 30, 31], 5.0, id="four gaps (1, 4, 6, 20): the mean of the middle two"),
        pytest.param([0, 7, 14], 7, id="two equal gaps"),
    ],
)
def test_the_typical_gap_is_the_median_of_the_gaps_between_purchase_days(
    days: list[int], median: float
) -> None:
    state = CustomerState(purchase_count=len(days), purchase_days=days)
    assert lifecycle.typical_gap_days(state, default_config().lifecycle) == median


@given(st.lists(st.integers(min_value=0, max_value=40_000), min_size=3, max_size=40, unique=True))
def test_the_typical_gap_is_the_median_of_any_days_gaps(days: list[int]) -> None:
    days.sort()
    state = CustomerState(purchase_count=len(days), purchase_days=days)
    gaps = [later - earlier for earlier, later in itertools.pairwise(days)]
    assert lifecycle.typical_gap_days(state, default_config().lifecycle) == statistics.median(gaps)


def test_the_typical_gap_is_the_default_until_the_customer_has_a_cadence() -> None:
    rules = default_config().lifecycle
    two_days = CustomerState(purchase_count=2, purchase_days=[0, 5])
    assert lifecycle.typical_gap_days(two_days, rules) == rules.default_gap_days
    folded = CustomerState(purchase_count=5, purchase_days=[40], purchase_days_folded=4)
    assert lifecycle.typical_gap_days(folded, rules) == rules.default_gap_days, (
        "one listed day: no gap to measure"
    )


# --- stages from the model: P(alive) against the thresholds, exactly --------------------------------------

FIRST_DAY = 20_454  # 2026-01-01, days since 1970-01-01
MODEL = CustomerModel(DEFAULT_PARAMS)


def repeat_buyer(days: tuple[int, ...] = (0, 7, 14)) -> CustomerState:
    purchase_days = [FIRST_DAY + day for day in days]
    return CustomerState(
        purchase_count=len(days),
        purchase_days=purchase_days,
        first_purchase_day=purchase_days[0],
        first_purchase=purchase_days[0] * DAY,
        last_purchase=purchase_days[-1] * DAY,
    )


def stage_on(day: int, at_risk_below: float, lapsed_below: float, second: int = 0) -> str:
    stages = lifecycle.ModelStages(MODEL, at_risk_below, lapsed_below)
    return classify(repeat_buyer(), day * DAY + second, default_config().lifecycle, stages)


def test_p_alive_exactly_on_a_threshold_is_not_below_it() -> None:
    day = FIRST_DAY + 120
    alive = MODEL.p_alive_on(repeat_buyer(), day)
    assert alive is not None
    above = math.nextafter(alive, 1.0)
    assert 0.05 < alive < 0.95
    assert stage_on(day, at_risk_below=alive, lapsed_below=alive / 2) == REPEAT
    assert stage_on(day, at_risk_below=above, lapsed_below=alive / 2) == AT_RISK
    assert stage_on(day, at_risk_below=above, lapsed_below=alive) == AT_RISK
    assert stage_on(day, at_risk_below=above, lapsed_below=above) == LAPSED


def test_the_model_reads_p_alive_on_the_whole_utc_day_of_the_clock() -> None:
    day = FIRST_DAY + 120
    alive = MODEL.p_alive_on(repeat_buyer(), day)
    assert alive is not None
    # Any second of that day reads the same day: P(alive) only falls from one day to the next.
    assert stage_on(day, at_risk_below=alive, lapsed_below=alive / 2, second=DAY - 1) == REPEAT
    assert stage_on(day + 1, at_risk_below=alive, lapsed_below=alive / 2) == AT_RISK


def test_the_model_decides_only_for_repeat_buyers_with_a_known_first_day() -> None:
    stages = lifecycle.ModelStages(MODEL, 0.5, 0.2)
    assert stages.applies(repeat_buyer())
    assert stages.applies(repeat_buyer((0, 1)))
    assert not stages.applies(repeat_buyer((0,))), "one purchase day: the cadence rule"
    unknown_first = dataclasses.replace(repeat_buyer(), first_purchase_day=0)
    assert not stages.applies(unknown_first)
    # A one-day buyer long silent is judged by cadence (lapsed), whatever P(alive) says (1.0 for x = 0).
    one_day = repeat_buyer((0,))
    rules = default_config().lifecycle
    assert classify(one_day, (FIRST_DAY + 400) * DAY, rules, stages) == LAPSED
    assert classify(one_day, (FIRST_DAY + 400) * DAY, rules, None) == LAPSED


def test_model_deadlines_are_the_first_days_p_alive_falls_below_each_threshold() -> None:
    state = repeat_buyer()
    stages = lifecycle.ModelStages(MODEL, 0.5, 0.2)
    rules = default_config().lifecycle
    at_risk_day, lapsed_day = MODEL.day_below(state, 0.5), MODEL.day_below(state, 0.2)
    assert at_risk_day is not None
    assert lapsed_day is not None
    assert FIRST_DAY + 14 < at_risk_day < lapsed_day
    after_purchase = state.last_purchase
    assert next_stage_deadline(state, after_purchase, rules, stages) == at_risk_day * DAY
    assert next_stage_deadline(state, at_risk_day * DAY, rules, stages) == lapsed_day * DAY
    assert next_stage_deadline(state, lapsed_day * DAY, rules, stages) is None
    # Each deadline is the first instant of its stage.
    assert classify(state, at_risk_day * DAY - 1, rules, stages) == REPEAT
    assert classify(state, at_risk_day * DAY, rules, stages) == AT_RISK
    assert classify(state, lapsed_day * DAY - 1, rules, stages) == AT_RISK
    assert classify(state, lapsed_day * DAY, rules, stages) == LAPSED


def test_model_stages_leave_the_ladder_above_repeat_to_the_rules() -> None:
    stages = lifecycle.ModelStages(MODEL, 0.5, 0.2)
    state = repeat_buyer((0, 20, 40, 60))
    rules = default_config().lifecycle
    assert classify(state, state.last_purchase, rules, stages) == LOYAL
    state.referrals = 1
    assert classify(state, state.last_purchase, rules, stages) == ADVOCATE
