"""Story 5: churn risk from the BG/NBD model, scheduled, with service signals; and the best customers at risk."""

from __future__ import annotations

from typing import Any

import pytest

from agents import lifecycle
from agents.config import config_from_mapping
from agents.detectors.best_customer import BestCustomerAtRisk
from agents.detectors.churn_risk import ChurnRisk, Models
from agents.domain.alert import CRITICAL, OPEN, WARNING, make_alert_id
from agents.domain.instants import DAY
from agents.domain.state import CustomerState
from agents.journey.track import JourneyTracker
from agents.models.customer import CustomerModel
from agents.models.population import PopulationThreshold
from tests.agents.detectors.drive import CONFIG, Desk, clearing
from tests.agents.journey.touchpoints import (
    SALT,
    complaint,
    feedback,
    instant,
    purchase,
    resolution,
    touchpoint,
    visit,
)

pytestmark = pytest.mark.unit

MODEL = CustomerModel(CONFIG.model.params)


def churn(**options: Any) -> ChurnRisk:
    return ChurnRisk(options, Models(MODEL, CONFIG.lifecycle, CONFIG.detectors))


def best(**churn_options: Any) -> BestCustomerAtRisk:
    detectors = {**CONFIG.detectors, "churn_risk": churn_options}
    return BestCustomerAtRisk({}, Models(MODEL, CONFIG.lifecycle, detectors))


def weekly_buyer(weeks: int = 6, amount: float = 30.0) -> list[dict[str, Any]]:
    return [purchase(7 * week, amount) for week in range(weeks)]


def test_p_alive_below_the_threshold_is_scheduled_at_the_crossing_day_and_fires_there() -> None:
    desk = Desk(churn(overdue=False))
    desk.send(*weekly_buyer())
    crossing = MODEL.day_below(desk.state, 0.5)
    assert crossing is not None
    assert desk.due == crossing * DAY
    assert desk.advance(crossing * DAY - 1) == []
    [finding] = desk.advance(crossing * DAY)
    assert finding.severity == WARNING
    assert finding.reasons == ("p_alive_below_threshold",)
    assert finding.details["p_alive"] < 0.5 <= MODEL.p_alive_on(desk.state, crossing - 1)  # type: ignore[operator]
    assert finding.detected_at == crossing * DAY
    assert "P(alive)" in finding.summary


def test_overdue_against_the_cadence_comes_first_when_it_is_earlier() -> None:
    desk = Desk(churn())
    desk.send(*weekly_buyer())
    overdue = desk.state.last_purchase + lifecycle.inactivity_thresholds(desk.state, CONFIG.lifecycle)[0]
    crossing = MODEL.day_below(desk.state, 0.5)
    assert crossing is not None
    assert desk.due == min(overdue, crossing * DAY)
    [finding] = desk.advance(10**10)
    assert "overdue_for_cadence" in finding.reasons or "p_alive_below_threshold" in finding.reasons


def test_one_alert_per_last_purchase_and_its_evidence_is_that_purchase() -> None:
    desk = Desk(churn())
    events = weekly_buyer()
    desk.send(*events)
    [finding] = desk.advance(10**10)
    assert finding.evidence == (events[-1]["event_id"],)
    assert desk.due is None
    desk.send(visit(400))
    assert desk.advance(10**10) == []


def test_a_purchase_before_the_risk_day_starts_a_new_episode_with_a_later_day() -> None:
    desk = Desk(churn(overdue=False))
    desk.send(*weekly_buyer())
    first_due = desk.due
    assert first_due is not None
    desk.send(purchase((first_due - instant(0)) / DAY - 1))
    assert desk.due is not None
    assert desk.due > first_due
    assert desk.findings == []


def test_a_customer_with_a_single_purchase_day_is_only_ever_overdue() -> None:
    desk = Desk(churn(overdue=False))
    desk.send(purchase(0), purchase(0.1))
    assert desk.due is None
    desk = Desk(churn())
    desk.send(purchase(0))
    [finding] = desk.advance(10**10)
    assert finding.reasons == ("overdue_for_cadence",)


@pytest.mark.parametrize(
    ("signal", "events"),
    [
        ("open_complaint", [complaint(40)]),
        ("recent_detractor", [feedback(40, nps=3)]),
        ("long_waits", [touchpoint("queue_wait", 40, channel="phone", wait_seconds=300)]),
    ],
)
def test_service_signals_are_reasons_that_make_it_critical(signal: str, events: list[dict[str, Any]]) -> None:
    desk = Desk(churn(overdue=False, signals_within_days=400))
    desk.send(*weekly_buyer(), *events)
    [finding] = desk.advance(10**10)
    assert finding.severity == CRITICAL
    assert finding.reasons == ("p_alive_below_threshold", signal)
    assert finding.details["service_signals"] == [signal]


def test_old_or_settled_service_signals_do_not_count() -> None:
    desk = Desk(churn(overdue=False, signals_within_days=5))
    desk.send(*weekly_buyer(), complaint(36), resolution(37), feedback(38, nps=2))
    [finding] = desk.advance(10**10)
    assert finding.severity == WARNING


def test_the_tracker_raises_churn_risk_from_its_own_timer() -> None:
    tracker = JourneyTracker(CONFIG, SALT)
    state = None
    for event in weekly_buyer():
        state = tracker.track(state, "cust-1", event, 0).state
    assert state is not None
    assert state.wake_at is not None
    raised = []
    while state.wake_at is not None and state.wake_at < instant(400):
        raised.extend(tracker.advance(state, "cust-1", state.wake_at).alerts)
    assert [alert.type for alert in raised if alert.status == OPEN].count("churn_risk") == 1


# --- best customers ------------------------------------------------------------------------------------------


def big_spender() -> list[dict[str, Any]]:
    return weekly_buyer(weeks=10, amount=400.0)


def test_a_complaint_from_a_best_customer_is_critical_at_once() -> None:
    desk = Desk(best())
    desk.send(*big_spender())
    assert MODEL.is_best_customer(desk.state.clv, desk.state.last_seen)
    event = complaint(64)
    [finding] = desk.send(event)
    assert finding.severity == CRITICAL
    assert finding.evidence == (event["event_id"],)
    assert finding.reasons[:2] == ("best_customer", "complaint")


@pytest.mark.parametrize(
    "event",
    [
        feedback(64, csat=1),
        touchpoint("queue_wait", 64, channel="chat", wait_seconds=120),
    ],
)
def test_detractor_feedback_or_a_long_wait_of_a_best_customer_is_critical(event: dict[str, Any]) -> None:
    desk = Desk(best())
    desk.send(*big_spender())
    [finding] = desk.send(event)
    assert finding.severity == CRITICAL


def test_the_same_signals_from_an_ordinary_customer_raise_nothing_here() -> None:
    desk = Desk(best())
    desk.send(purchase(0, 20.0), purchase(30, 20.0), complaint(31), feedback(32, nps=0))
    assert not MODEL.is_best_customer(desk.state.clv, desk.state.last_seen)
    assert desk.findings == []
    assert desk.advance(10**10) == []


def test_a_best_customer_slipping_away_is_critical_when_the_risk_day_comes() -> None:
    desk = Desk(best(overdue=False))
    events = big_spender()
    desk.send(*events)
    [finding] = desk.advance(10**10)
    assert finding.severity == CRITICAL
    assert finding.reasons == ("best_customer", "p_alive_below_threshold")


# --- stages and tiers from a fitted model ---------------------------------------------------------------------


def test_with_a_fitted_model_at_risk_and_lapsed_follow_p_alive(tmp_path: Any) -> None:
    from agents.models.params import DEFAULT_PARAMS, params_document

    path = tmp_path / "params.json"
    import orjson

    path.write_bytes(orjson.dumps(params_document(DEFAULT_PARAMS)))
    config = config_from_mapping({}, model_params=path)
    assert config.model.stages_from_model
    assert config.model.tiers_from_clv
    tracker = JourneyTracker(config, SALT)
    state = None
    for event in weekly_buyer():
        state = tracker.track(state, "cust-1", event, 0).state
    assert state is not None
    at_risk, lapsed = MODEL.day_below(state, 0.5), MODEL.day_below(state, 0.2)
    assert at_risk is not None
    assert lapsed is not None
    assert at_risk < lapsed
    transitions = []
    while state.wake_at is not None and state.wake_at <= lapsed * DAY:
        transitions.extend(tracker.advance(state, "cust-1", state.wake_at).transitions)
    changes = [(t.to_stage, t.at) for t in transitions]
    assert ("at_risk", at_risk * DAY) in changes
    assert ("lapsed", lapsed * DAY) in changes


def test_before_a_fit_stages_and_tiers_keep_the_cadence_and_net_value() -> None:
    assert not CONFIG.model.stages_from_model
    assert not CONFIG.model.tiers_from_clv
    forced = config_from_mapping({"model": {"stages": "model", "value_tiers_from": "clv"}})
    assert forced.model.stages_from_model
    assert forced.model.tiers_from_clv


# --- what the alerts say, word for word -------------------------------------------------------------------


def test_a_churn_risk_alert_says_p_alive_against_the_threshold_and_suggests_a_win_back_offer() -> None:
    desk = Desk(churn(overdue=False))
    desk.send(*weekly_buyer())
    [finding] = desk.advance(10**10)
    assert finding.summary == "Customer cust-1 is at risk of churning: P(alive) 49% is below 50%."
    assert finding.suggested_action == "Send a win-back offer matched to the customer's usual purchases."
    assert finding.details == {
        "days_since_last_purchase": 32,
        "p_alive": 0.4909,
        "p_alive_threshold": 0.5,
        "clv": 352.41,
        "service_signals": [],
    }


def test_an_overdue_customer_is_told_against_their_own_cadence() -> None:
    desk = Desk(churn())
    desk.send(purchase(0))
    [finding] = desk.advance(10**10)
    assert finding.summary == (
        "Customer cust-1 is at risk of churning: 120 days since the last purchase, usually every 60 days."
    )
    assert finding.details["typical_gap_days"] == 60


@pytest.mark.parametrize(
    ("events", "signals", "action"),
    [
        pytest.param(
            [complaint(40)],
            "open complaint",
            "Resolve the open complaint first, then reach out personally with a retention offer.",
            id="an open complaint comes first",
        ),
        pytest.param(
            [feedback(40, nps=3), touchpoint("queue_wait", 40, channel="phone", wait_seconds=300)],
            "recent detractor, long waits",
            "Reach out personally: acknowledge the recent service problem and offer a reason to come back.",
            id="other service problems",
        ),
    ],
)
def test_service_signals_are_named_and_change_the_suggestion(
    events: list[dict[str, Any]], signals: str, action: str
) -> None:
    desk = Desk(churn(overdue=False, signals_within_days=400))
    desk.send(*weekly_buyer(), *events)
    [finding] = desk.advance(10**10)
    assert finding.summary == (
        f"Customer cust-1 is at risk of churning: P(alive) 49% is below 50%. Service signals: {signals}."
    )
    assert finding.suggested_action == action


@pytest.mark.parametrize(
    ("event", "happened", "action"),
    [
        pytest.param(
            complaint(64),
            "a complaint on email",
            "Have a senior agent own the complaint today and call the customer back personally.",
            id="complaint",
        ),
        pytest.param(
            feedback(64, csat=1),
            "detractor feedback on email",
            "Call the customer within a day: find out what went wrong and put it right.",
            id="detractor",
        ),
        pytest.param(
            touchpoint("queue_wait", 64, channel="chat", wait_seconds=120),
            "a long queue wait on chat",
            "Prioritise this customer in the queue and follow up on what they contacted us about.",
            id="long wait",
        ),
    ],
)
def test_a_best_customers_alert_names_their_value_and_what_just_happened(
    event: dict[str, Any], happened: str, action: str
) -> None:
    desk = Desk(best())
    desk.send(*big_spender())
    [finding] = desk.send(event)
    assert finding.summary == f"Best customer cust-1 (CLV 6,311.40, top decile) just had {happened}."
    assert finding.suggested_action == action
    assert finding.details["best_customer_clv"] == round(
        MODEL.best_customer_clv(desk.state.last_seen) or 0.0, 2
    )


def test_a_best_customer_slipping_away_is_told_with_days_and_p_alive() -> None:
    desk = Desk(best(overdue=False))
    events = big_spender()
    desk.send(*events)
    [finding] = desk.advance(10**10)
    assert finding.summary == (
        "Best customer cust-1 (CLV 6,311.40, top decile) is slipping away: 30 days since the last purchase, "
        "P(alive) 48%."
    )
    assert (
        finding.suggested_action
        == "A personal call from the account owner this week, before any automated offer."
    )
    assert finding.occurred_at == instant(63)


@pytest.mark.parametrize(
    ("event", "raised"),
    [
        pytest.param(feedback(64, nps=6), True, id="NPS at the detractor maximum"),
        pytest.param(feedback(64, nps=7), False, id="NPS one above"),
        pytest.param(feedback(64, csat=2), True, id="CSAT at the detractor maximum"),
        pytest.param(feedback(64, csat=3), False, id="CSAT one above"),
        pytest.param(touchpoint("queue_wait", 64, channel="phone", wait_seconds=20), False, id="a 20 s wait"),
        pytest.param(touchpoint("queue_wait", 64, channel="phone", wait_seconds=20.5), True, id="just over"),
        pytest.param(
            touchpoint("queue_wait", 64, channel="email", wait_seconds=600), False, id="not a live channel"
        ),
        pytest.param(touchpoint("visit", 64), False, id="a visit"),
    ],
)
def test_a_best_customers_signal_uses_the_churn_and_long_wait_thresholds_exactly(
    event: dict[str, Any], raised: bool
) -> None:
    desk = Desk(best())
    desk.send(*big_spender())
    assert bool(desk.send(event)) is raised


def test_a_best_customer_alert_carries_the_events_channel_and_location() -> None:
    desk = Desk(best())
    desk.send(*big_spender())
    [finding] = desk.send({**complaint(64), "location": "store-berlin-mitte"})
    assert (finding.channel, finding.location) == ("email", "store-berlin-mitte")


def test_a_best_customer_slipping_away_is_told_once_per_last_purchase() -> None:
    desk = Desk(best(overdue=False))
    desk.send(*big_spender())
    assert len(desk.advance(10**10)) == 1
    desk.send(visit(400))
    assert desk.advance(10**11) == []


def test_without_long_wait_settings_a_best_customer_uses_the_twenty_second_standard_on_phone_and_chat() -> (
    None
):
    bare = BestCustomerAtRisk({}, Models(MODEL, CONFIG.lifecycle, {}))
    assert (bare.wait_seconds, bare.wait_channels) == (20, frozenset({"phone", "chat"}))
    desk = Desk(bare)
    desk.send(*big_spender())
    assert desk.send(touchpoint("queue_wait", 64, channel="phone", wait_seconds=20)) == []
    [finding] = desk.send(touchpoint("queue_wait", 64.1, channel="chat", wait_seconds=21))
    assert finding.reasons[:2] == ("best_customer", "long_wait")


def test_a_best_customer_follows_the_long_wait_rules_of_the_rules_file() -> None:
    detectors = {**CONFIG.detectors, "long_wait": {"wait_seconds": 60, "channels": ["store"]}}
    desk = Desk(BestCustomerAtRisk({}, Models(MODEL, CONFIG.lifecycle, detectors)))
    desk.send(*big_spender())
    assert desk.send(touchpoint("queue_wait", 64, channel="phone", wait_seconds=600)) == []
    assert desk.send(touchpoint("queue_wait", 64.1, channel="store", wait_seconds=60)) == []
    assert len(desk.send(touchpoint("queue_wait", 64.2, channel="store", wait_seconds=61))) == 1


# --- edges of the rules ----------------------------------------------------------------------------------------


def test_p_alive_exactly_at_the_threshold_is_not_below_it() -> None:
    desk = Desk(churn())
    desk.send(*weekly_buyer())
    overdue = desk.state.last_purchase + lifecycle.inactivity_thresholds(desk.state, CONFIG.lifecycle)[0]
    alive = MODEL.p_alive_on(desk.state, overdue // DAY)
    assert alive is not None
    exact = Desk(churn(p_alive_below=alive))
    exact.send(*weekly_buyer())
    [finding] = exact.advance(10**10)
    assert finding.detected_at == overdue
    assert finding.reasons == ("overdue_for_cadence",)
    assert finding.details["p_alive"] == round(alive, 4)


def test_the_alert_counts_from_the_last_purchase() -> None:
    desk = Desk(churn())
    desk.send(*weekly_buyer())
    [finding] = desk.advance(10**10)
    assert finding.occurred_at == instant(35)


@pytest.mark.parametrize(
    ("score", "signal"),
    [
        pytest.param({"csat": 2}, True, id="CSAT at the detractor maximum"),
        pytest.param({"csat": 3}, False, id="CSAT one above"),
        pytest.param({"nps": 6}, True, id="NPS at the detractor maximum"),
        pytest.param({"nps": 7}, False, id="NPS one above"),
    ],
)
def test_detractor_feedback_is_a_service_signal_up_to_the_detractor_maximum(
    score: dict[str, int], signal: bool
) -> None:
    desk = Desk(churn(overdue=False, signals_within_days=400))
    desk.send(*weekly_buyer(), feedback(40, **score))
    [finding] = desk.advance(10**10)
    assert ("recent_detractor" in finding.reasons) is signal


def test_detractor_feedback_counts_exactly_signals_within_days_back() -> None:
    clock = churn(signals_within_days=10).clock
    now = 100 * DAY
    for nps, csat in (([3, now - 10 * DAY], None), (None, [1, now - 10 * DAY])):
        assert clock.signals(CustomerState(nps=nps, csat=csat), now) == ("recent_detractor",)
    for nps, csat in (([3, now - 10 * DAY - 1], None), (None, [1, now - 10 * DAY - 1])):
        assert clock.signals(CustomerState(nps=nps, csat=csat), now) == ()


def test_an_open_first_response_breach_or_after_hours_alert_is_a_long_wait_signal_and_a_due_soon_one_is_not() -> (
    None
):
    clock = churn(signals_within_days=10).clock
    now = 100 * DAY

    def open_alert(alert_type: str, detected: int) -> CustomerState:
        alert_id = make_alert_id(alert_type, "cust-1", ("ev-1",))
        return CustomerState(alerts_open={alert_id: ["critical", detected - 60, detected]})

    assert clock.signals(open_alert("first_response_breach", now - 10 * DAY), now) == ("long_waits",)
    assert clock.signals(open_alert("after_hours_unanswered", now), now) == ("long_waits",)
    assert clock.signals(open_alert("first_response_breach", now - 10 * DAY - 1), now) == ()
    assert clock.signals(open_alert("first_response_due_soon", now), now) == ()
    assert clock.signals(CustomerState(detector_memory={"long_wait": [now - 10 * DAY - 1]}), now) == ()
    assert clock.signals(CustomerState(detector_memory={"long_wait": [now - 10 * DAY]}), now) == (
        "long_waits",
    )


def test_a_purchase_after_the_last_one_clears_the_alert_and_one_at_the_same_instant_does_not() -> None:
    desk = Desk(churn())
    desk.send(*weekly_buyer())
    [finding] = desk.advance(10**10)
    assert clearing(desk, finding, purchase(35)) is None
    assert clearing(desk, finding, purchase(36)) == "purchase"


def test_a_late_purchase_on_a_new_day_moves_the_risk_day_of_the_same_last_purchase() -> None:
    desk = Desk(churn(overdue=False))
    desk.send(*weekly_buyer())
    due = desk.due
    desk.send(purchase(31))
    assert desk.due != due
    assert desk.memory[1] == desk.state.distinct_purchase_days == 7


def test_without_its_memory_the_episode_names_the_last_purchase_by_its_instant() -> None:
    desk = Desk(churn())
    desk.send(*weekly_buyer())
    desk.memories.clear()  # as if the rule had just been switched on
    desk.fire = False
    desk.send(visit(36))
    [finding] = desk.advance(10**10)
    assert finding.evidence == (f"purchase@{instant(35)}",)


def test_without_its_memory_a_late_older_purchase_is_not_taken_for_the_last_one() -> None:
    desk = Desk(churn())
    desk.send(*weekly_buyer())
    desk.memories.clear()
    desk.fire = False
    desk.send(purchase(20.5))
    [finding] = desk.advance(10**10)
    assert finding.evidence == (f"purchase@{instant(35)}",)


def test_once_fired_a_late_older_purchase_on_a_new_day_does_not_raise_it_again() -> None:
    desk = Desk(churn())
    desk.send(*weekly_buyer())
    assert len(desk.advance(10**10)) == 1
    desk.send(purchase(31))
    assert desk.due is None
    assert desk.advance(10**11) == []


def test_a_best_customer_slipping_away_names_the_purchase_by_its_instant_with_churn_risk_switched_off() -> (
    None
):
    config = config_from_mapping({"detectors": {"churn_risk": {"enabled": False}}})
    desk = Desk(best(overdue=False), config=config)
    desk.send(*big_spender())
    [finding] = desk.advance(10**10)
    assert finding.evidence == (f"purchase@{instant(63)}",)


def test_a_merged_episode_that_has_fired_stays_fired() -> None:
    detector = churn()
    desk = Desk(detector)
    desk.send(*weekly_buyer())
    desk.advance(10**10)
    fired = desk.memory
    assert detector.merge(fired, None, desk.state) == fired
    assert detector.due(detector.merge(fired, None, desk.state)) is None
    assert detector.merge(fired, None, CustomerState()) is None, "nothing bought: no episode"


# --- best customers: clearing, merging, what the alert says ------------------------------------------------------


def test_a_best_customers_complaint_alert_names_the_issue_and_the_signal() -> None:
    desk = Desk(best())
    desk.send(*big_spender())
    [finding] = desk.send(complaint(64, "tv-1"))
    assert finding.details["signal"] == "complaint"
    assert finding.details["issue_id"] == "tv-1"
    [wait] = desk.send(touchpoint("queue_wait", 64.1, channel="chat", wait_seconds=120, issue_id="tv-1"))
    assert wait.details["signal"] == "long_wait"
    assert "issue_id" not in wait.details, "a long wait's alert does not clear with the issue"


def test_a_best_customer_who_complains_when_overdue_is_told_both() -> None:
    desk = Desk(best())
    desk.send(*big_spender())
    desk.fire = False  # the scheduled risk is not fired here
    [finding] = desk.send(complaint(100, "tv-1"))
    assert finding.reasons == ("best_customer", "complaint", "p_alive_below_threshold", "overdue_for_cadence")


def test_a_best_customer_slipping_away_names_the_same_purchase_as_churn_risk() -> None:
    desk = Desk(best(overdue=False))
    events = big_spender()
    desk.send(*events)
    [finding] = desk.advance(10**10)
    assert finding.evidence == (events[-1]["event_id"],)
    assert finding.details["signal"] == "churn_risk"
    assert finding.details["best_customer_clv"] == round(MODEL.best_customer_clv(instant(63)) or 0.0, 2)
    assert desk.due is None


def test_a_best_customer_slipping_away_with_service_signals_is_told_them() -> None:
    desk = Desk(best(overdue=False, signals_within_days=400))
    desk.send(*big_spender(), complaint(64))
    desk.findings.clear()
    [finding] = desk.advance(10**10)
    assert finding.reasons == ("best_customer", "p_alive_below_threshold", "open_complaint")


@pytest.mark.parametrize(
    ("signal_event", "clearing_event", "reason"),
    [
        pytest.param(complaint(64, "tv-1"), resolution(65, "tv-1"), "resolution", id="its issue resolved"),
        pytest.param(complaint(64, "tv-1"), resolution(65, "tv-2"), None, id="another issue resolved"),
        pytest.param(complaint(64, "tv-1"), resolution(63.5, "tv-1"), None, id="resolved late, before it"),
        pytest.param(complaint(64, "tv-1"), feedback(65, nps=10), None, id="happy feedback on a complaint"),
        pytest.param(feedback(64, nps=2), feedback(65, nps=7), "recovered", id="NPS one above the maximum"),
        pytest.param(feedback(64, nps=2), feedback(65, csat=3), "recovered", id="CSAT one above the maximum"),
        pytest.param(feedback(64, nps=2), feedback(65, nps=6), None, id="NPS still a detractor's"),
        pytest.param(feedback(64, nps=2), feedback(65, nps=9, csat=1), None, id="mixed: still sad"),
        pytest.param(feedback(64, nps=2), resolution(65, "tv-1"), None, id="a resolution on feedback"),
        pytest.param(feedback(64, nps=2), purchase(65), None, id="a purchase on feedback"),
        pytest.param(feedback(64, nps=2), feedback(65, nps=6, csat=3), None, id="NPS at the maximum"),
        pytest.param(feedback(64, nps=2), feedback(65, nps=7, csat=2), None, id="CSAT at the maximum"),
        pytest.param(complaint(64, "tv-1"), resolution(64, "tv-1"), "resolution", id="at its very instant"),
    ],
)
def test_a_best_customers_alert_clears_with_its_own_cause(
    signal_event: dict[str, Any], clearing_event: dict[str, Any], reason: str | None
) -> None:
    desk = Desk(best())
    desk.send(*big_spender())
    [finding] = desk.send(dict(signal_event))
    assert clearing(desk, finding, dict(clearing_event)) == reason


def test_a_best_customers_churn_alert_clears_with_a_purchase() -> None:
    desk = Desk(best(overdue=False))
    desk.send(*big_spender())
    [finding] = desk.advance(10**10)
    assert clearing(desk, finding, complaint(100, "tv-1")) is None
    assert clearing(desk, finding, purchase(101)) == "purchase"


def test_a_best_customers_episode_merges_as_churn_risks_does() -> None:
    detector = best()
    state = CustomerState(purchase_count=3, purchase_days=[20458, 20460, 20470], last_purchase=1768000000)
    older, newer = [1767000000, 1, 1770000000], [1768000000, 2, 1771000000]
    assert detector.merge(newer, older, state) == detector.merge(older, newer, state)
    merged = detector.merge(older, newer, state)
    assert merged[0] == 1768000000
    assert merged[1] == state.distinct_purchase_days
    assert merged[2] == churn().clock.due(state)


def test_when_p_alive_falls_before_the_customer_is_overdue_only_p_alive_is_the_reason() -> None:
    desk = Desk(churn(p_alive_below=0.9))
    desk.send(*weekly_buyer())
    overdue = desk.state.last_purchase + lifecycle.inactivity_thresholds(desk.state, CONFIG.lifecycle)[0]
    [finding] = desk.advance(10**10)
    assert finding.detected_at < overdue
    assert finding.reasons == ("p_alive_below_threshold",)
    assert finding.details["typical_gap_days"] == 7


def test_a_risk_fired_late_names_both_reasons() -> None:
    detector = churn()
    desk = Desk(detector)
    desk.send(*weekly_buyer())
    _, [finding] = detector.fire(desk.memory, "cust-1", instant(200), desk.state)
    assert finding.reasons == ("p_alive_below_threshold", "overdue_for_cadence")
    assert finding.summary.startswith("Customer cust-1 is at risk of churning: P(alive) ")
    assert "% is below 50%; 165 days since the last purchase, usually every 7 days." in finding.summary


def test_of_two_episodes_of_purchases_at_one_instant_the_customers_own_is_kept() -> None:
    detector = churn()
    desk = Desk(detector)
    desk.send(*weekly_buyer())
    desk.advance(10**10)
    mine = desk.memory
    theirs = [mine[0], mine[1], 10**10, "ev-theirs"]
    assert detector.merge(mine, theirs, desk.state) == mine


def test_a_churn_risk_memory_without_the_purchases_event_id_names_it_by_its_instant() -> None:
    detector = best(overdue=False)
    desk = Desk(detector)
    desk.send(*big_spender())
    last, days, due = desk.state.detector_memory["churn_risk"][:3]
    desk.state.detector_memory["churn_risk"] = [last, days, due]  # as an episode without its evidence
    _, [finding] = detector.fire(desk.memory, "cust-1", 10**10, desk.state)
    assert finding.evidence == (f"purchase@{instant(63)}",)


def test_a_best_customers_alerts_tell_the_population_threshold_in_effect_at_their_instant() -> None:
    model = CustomerModel(CONFIG.model.params)
    population = PopulationThreshold(every=7 * DAY, delay=0)
    for day in range(-7, 400, 7):
        population.known[population.boundary(instant(day))] = 1000.0 + day + 0.125
    model.best_customers = population
    detectors = {**CONFIG.detectors, "churn_risk": {"overdue": False}}
    desk = Desk(BestCustomerAtRisk({}, Models(model, CONFIG.lifecycle, detectors)))
    desk.send(*big_spender())
    [complained] = desk.send(complaint(64))
    assert complained.details["best_customer_clv"] == round(population.at(instant(64)) or 0.0, 2)
    [slipping] = desk.advance(10**10)
    assert slipping.details["best_customer_clv"] == round(population.at(slipping.detected_at) or 0.0, 2)
    assert slipping.details["best_customer_clv"] != complained.details["best_customer_clv"]
