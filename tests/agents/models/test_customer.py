"""The models on one customer's live state: the scalar forms against the vectorised reference, the risk clock."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.domain.instants import day_number
from agents.domain.state import CustomerState
from agents.models import bgnbd, gamma_gamma
from agents.models.customer import CustomerModel, Summary
from agents.models.history import Transaction, summarise
from agents.models.params import DEFAULT_PARAMS, ModelParams

pytestmark = pytest.mark.unit

MODEL = CustomerModel(DEFAULT_PARAMS)
DAILY = CustomerModel(
    ModelParams(
        purchases=bgnbd.BGNBDParams(r=0.9, alpha=35.0, a=1.4, b=3.1),
        spend=gamma_gamma.GammaGammaParams(p=4.0, q=2.5, gamma=30.0),
        unit="days",
        best_customer_clv=500.0,
    )
)

triples = st.tuples(
    st.integers(min_value=0, max_value=60),
    st.floats(min_value=0, max_value=200, allow_nan=False),
    st.floats(min_value=0, max_value=200, allow_nan=False),
).map(lambda v: (v[0], 0.0 if v[0] == 0 else min(v[1], v[2]), max(v[1], v[2])))


@settings(max_examples=300)
@given(triples)
def test_p_alive_equals_the_vectorised_closed_form(triple: tuple[int, float, float]) -> None:
    x, t_x, T = triple
    for model in (MODEL, DAILY):
        reference = float(bgnbd.p_alive(model.params.purchases, x, t_x, T)[()])
        assert model.p_alive(x, t_x, T) == pytest.approx(reference, abs=1e-12)


@settings(max_examples=100)
@given(triples, st.floats(min_value=0.1, max_value=104))
def test_expected_purchases_equal_the_vectorised_closed_form(
    triple: tuple[int, float, float], t: float
) -> None:
    x, t_x, T = triple
    reference = float(bgnbd.expected_purchases(DEFAULT_PARAMS.purchases, t, x, t_x, T)[()])
    assert MODEL.expected_purchases(x, t_x, T, t) == pytest.approx(reference, rel=1e-9, abs=1e-12)


def buyer(*days_and_amounts: tuple[str, float]) -> CustomerState:
    """A state with purchases on the given ISO days, as the tracker keeps it."""
    state = CustomerState()
    for text, amount in days_and_amounts:
        day = day_number(date.fromisoformat(text))
        state.purchase_count += 1
        state.purchase_value += amount
        state.first_purchase_day = day if not state.first_purchase_day else min(state.first_purchase_day, day)
        state.last_purchase = max(state.last_purchase, day * 86_400 + 43_200)
        if day not in state.purchase_days:
            state.purchase_days = sorted([*state.purchase_days, day])
    return state


def test_the_summary_of_a_state_is_the_cdnow_summary_of_its_history() -> None:
    history = [("1997-01-01", 29.33), ("1997-01-18", 29.73), ("1997-01-18", 5.0), ("1997-08-02", 14.96)]
    state = buyer(*history)
    expected = summarise(
        [Transaction("c", date.fromisoformat(d), a) for d, a in history],
        calibration_end=date(1997, 9, 30),
        unit="weeks",
    )
    summary = MODEL.summary(state, day_number(date(1997, 9, 30)))
    assert summary is not None
    assert (summary.x, summary.t_x, summary.T) == (expected.x[0], expected.t_x[0], expected.T[0])


def test_no_summary_and_no_value_before_the_first_purchase() -> None:
    assert MODEL.summary(CustomerState(), 10_000) is None
    assert MODEL.p_alive_on(CustomerState(), 10_000) is None
    assert MODEL.clv(CustomerState()) == 0.0
    assert MODEL.day_below(CustomerState(), 0.5) is None


def test_a_one_time_buyer_never_crosses_any_threshold() -> None:
    state = buyer(("2026-01-05", 50.0))
    assert MODEL.day_below(state, 0.99) is None
    assert MODEL.p_alive_on(state, day_number(date(2030, 1, 1))) == 1.0


@settings(max_examples=200)
@given(
    st.lists(st.integers(min_value=0, max_value=400), min_size=2, max_size=30, unique=True),
    st.floats(min_value=0.05, max_value=0.95),
)
def test_the_risk_day_is_the_first_day_p_alive_is_below_the_threshold(
    offsets: list[int], threshold: float
) -> None:
    start = day_number(date(2025, 1, 1))
    state = CustomerState(purchase_count=len(offsets), first_purchase_day=start + min(offsets))
    state.purchase_days = sorted(start + offset for offset in offsets)
    for model in (MODEL, DAILY):
        day = model.day_below(state, threshold)
        assert day is not None
        alive = model.p_alive_on(state, day)
        assert alive is not None
        assert alive < threshold
        if day > state.purchase_days[-1]:
            before = model.p_alive_on(state, day - 1)
            assert before is not None
            assert before >= threshold


def test_clv_equals_the_vectorised_form_valued_at_the_last_purchase() -> None:
    state = buyer(("2025-02-01", 40.0), ("2025-03-15", 60.0), ("2025-06-01", 20.0))
    x, t_x = 2, (day_number(date(2025, 6, 1)) - day_number(date(2025, 2, 1))) / 7
    reference = gamma_gamma.clv(
        DEFAULT_PARAMS.purchases,
        DEFAULT_PARAMS.spend,
        x,
        t_x,
        t_x,
        120.0 / 3,
        periods=12,
        discount_rate=0.01,
        period_length=30.4375 / 7,
    )
    assert MODEL.clv(state) == pytest.approx(float(np.asarray(reference)[()]), rel=1e-9)


_PURCHASES = st.lists(
    st.tuples(st.integers(0, 900), st.floats(0.0, 5_000.0, allow_nan=False)), min_size=1, max_size=8
)


@given(st.lists(_PURCHASES, min_size=1, max_size=12))
@settings(max_examples=60, deadline=None)
def test_clv_is_the_same_whatever_customers_were_valued_before(buyers: list[list[tuple[int, float]]]) -> None:
    # A model keeps the horizon figures of the summaries it has seen: reading them back must give
    # the very float a model seeing the summary for the first time works out.
    kept = CustomerModel(DEFAULT_PARAMS)
    start = day_number(date(2025, 1, 1))
    for purchases in buyers:
        days = sorted({start + offset for offset, _ in purchases})
        state = CustomerState(
            purchase_count=len(purchases),
            purchase_value=sum(value for _, value in purchases),
            first_purchase_day=days[0],
        )
        state.purchase_days = days
        assert kept.clv(state) == CustomerModel(DEFAULT_PARAMS).clv(state)


def test_a_model_keeps_a_bounded_number_of_horizon_figures() -> None:
    model = CustomerModel(DEFAULT_PARAMS)
    model._horizons_kept = 4
    values = []
    for gap in range(1, 11):
        values.append(model.clv(repeat_buyer(0, gap)))
        assert 1 <= len(model._horizon) <= 4
    assert values == [CustomerModel(DEFAULT_PARAMS).clv(repeat_buyer(0, gap)) for gap in range(1, 11)]


def test_a_frequent_big_spender_is_a_best_customer_and_a_one_off_is_not() -> None:
    # Against the fixed threshold of the parameters file (the worker's default is the population's).
    frequent = buyer(*[(f"2025-{month:02d}-10", 150.0) for month in range(1, 13)])
    assert MODEL.is_best_customer(MODEL.clv(frequent), 0)
    assert not MODEL.is_best_customer(MODEL.clv(buyer(("2025-01-10", 150.0))), 0)


def test_the_view_reads_the_models_on_the_day_asked() -> None:
    state = buyer(("1997-01-01", 10.0), ("1997-03-01", 10.0))
    view = MODEL.view(state, day_number(date(1997, 9, 30)))
    assert view["as_of"] == "1997-09-30"
    assert (view["x"], view["unit"], view["params"]) == (1, "weeks", "<defaults>")
    assert view["T"] == (date(1997, 9, 30) - date(1997, 1, 1)).days / 7
    assert view["p_alive"] == pytest.approx(
        float(bgnbd.p_alive(DEFAULT_PARAMS.purchases, 1, 59 / 7, view["T"])[()])
    )
    assert 0 < view["expected_purchases_90_days"] < 5


def test_clv_follows_the_horizon_and_discount_of_the_rules() -> None:
    state = buyer(("2025-02-01", 40.0), ("2025-03-15", 60.0), ("2025-06-01", 20.0))
    x, t_x = 2, (day_number(date(2025, 6, 1)) - day_number(date(2025, 2, 1))) / 7
    model = CustomerModel(DEFAULT_PARAMS, clv_periods=4, clv_period_days=91.0, discount_rate=0.05)
    reference = gamma_gamma.clv(
        DEFAULT_PARAMS.purchases,
        DEFAULT_PARAMS.spend,
        x,
        t_x,
        t_x,
        120.0 / 3,
        periods=4,
        discount_rate=0.05,
        period_length=91.0 / 7,
    )
    assert model.clv(state) == pytest.approx(float(np.asarray(reference)[()]), rel=1e-9)
    assert model.clv(state) < MODEL.clv(state)  # a year at 5 % a quarter is worth less than at 1 % a month


def test_a_one_time_buyer_is_expected_to_spend_the_populations_mean_and_a_repeat_buyer_their_own_shrunk_to_it() -> (
    None
):
    spend = DEFAULT_PARAMS.spend
    assert MODEL.expected_spend(0, 1000.0) == spend.population_mean
    reference = float(np.asarray(gamma_gamma.expected_spend(spend, 3, 80.0))[()])
    assert MODEL.expected_spend(3, 80.0) == pytest.approx(reference, rel=1e-12)


def test_nothing_is_expected_in_no_time() -> None:
    assert MODEL.expected_purchases(3, 10.0, 20.0, 0.0) == 0.0
    assert MODEL.expected_purchases(3, 10.0, 20.0, -1.0) == 0.0


def test_a_customer_silent_for_ages_after_many_purchases_is_certainly_gone() -> None:
    assert MODEL.p_alive(200, 1.0, 1e6) == 0.0  # odds of e^700 and more: no overflow, just 0


def test_with_a_equal_to_one_expected_purchases_are_the_limit_from_either_side() -> None:
    def model(a: float) -> CustomerModel:
        purchases = bgnbd.BGNBDParams(r=0.9, alpha=35.0, a=a, b=3.1)
        return CustomerModel(
            ModelParams(purchases=purchases, spend=DAILY.params.spend, unit="days", best_customer_clv=500.0)
        )

    at_one = model(1.0).expected_purchases(4, 60.0, 90.0, 30.0)
    below, above = (model(a).expected_purchases(4, 60.0, 90.0, 30.0) for a in (1 - 1e-4, 1 + 1e-4))
    assert min(below, above) - 1e-4 <= at_one <= max(below, above) + 1e-4
    assert at_one > 0


def test_a_day_before_the_last_purchase_reads_as_that_day() -> None:
    state = buyer(("2025-01-01", 10.0), ("2025-03-01", 10.0))
    late = MODEL.summary(state, day_number(date(2025, 2, 1)))
    on_the_day = MODEL.summary(state, day_number(date(2025, 3, 1)))
    assert late == on_the_day
    assert on_the_day is not None
    assert on_the_day.T == on_the_day.t_x == (date(2025, 3, 1) - date(2025, 1, 1)).days / 7


def test_several_purchases_on_one_day_are_one_purchase_day() -> None:
    state = buyer(("2025-01-01", 10.0), ("2025-01-01", 15.0))
    summary = MODEL.summary(state, day_number(date(2025, 2, 1)))
    assert summary is not None
    assert (summary.x, summary.t_x) == (0, 0.0)
    assert summary.T == 31 / 7


def test_the_view_of_someone_who_never_bought_shows_no_model_reading_but_the_threshold() -> None:
    view = DAILY.view(CustomerState(), day_number(date(2026, 1, 5)))
    assert view == {
        "as_of": "2026-01-05",
        "unit": "days",
        "params": DAILY.params.source,
        "best_customer_clv": 500.0,
        "x": None,
        "t_x": None,
        "T": None,
        "p_alive": None,
        "clv": 0.0,
        "best_customer": False,
    }


def test_the_view_judges_the_best_customer_at_the_end_of_the_day_asked() -> None:
    from agents.models.population import PopulationThreshold

    model = CustomerModel(DEFAULT_PARAMS)
    threshold = PopulationThreshold(every=86_400, delay=3600)
    model.best_customers = threshold
    day = day_number(date(2026, 1, 5))
    threshold.learn(day * 86_400, 123.456)  # in effect from 01:00 that day
    state = buyer(("2025-12-01", 40.0), ("2025-12-20", 60.0))
    state.clv = 150.0
    view = model.view(state, day)
    assert (view["best_customer_clv"], view["clv"], view["best_customer"]) == (123.46, 150.0, True)
    assert view["expected_purchases_90_days"] == pytest.approx(
        model.expected_purchases(view["x"], view["t_x"], view["T"], 90 / 7)
    )
    assert model.view(state, day - 1)["best_customer_clv"] is None  # the day before: not known yet
    assert model.best_customer_clv(day * 86_400 + 3599) is None
    assert model.best_customer_clv(day * 86_400 + 3600) == 123.456


class CountingModel(CustomerModel):
    """A model that counts its P(alive) evaluations: the risk day is meant to cost a couple, not a search."""

    evaluations = 0

    def p_alive(self, x: int, t_x: float, T: float) -> float:
        CountingModel.evaluations += 1
        return super().p_alive(x, t_x, T)


def repeat_buyer(*offsets: int) -> CustomerState:
    """A customer with purchases on these days after 2025-01-01 (the first at offset 0)."""
    start = day_number(date(2025, 1, 1))
    state = CustomerState(purchase_count=len(offsets), first_purchase_day=start)
    state.purchase_days = [start + offset for offset in offsets]
    return state


REPEAT_BUYERS = (repeat_buyer(0, 30), repeat_buyer(0, 14, 50, 51), repeat_buyer(0, 7, 21, 35, 70, 140))


def test_p_alive_exactly_on_the_threshold_is_not_below_it_and_a_hair_above_it_is() -> None:
    for model in (MODEL, DAILY):
        for state in REPEAT_BUYERS:
            last = state.purchase_days[-1]
            for day in range(last + 1, last + 300, 7):
                alive = model.p_alive_on(state, day)
                assert alive is not None
                assert model.day_below(state, alive) == day + 1, "equal to the threshold is not below it"
                assert model.day_below(state, math.nextafter(alive, 1.0)) == day


def test_the_risk_day_comes_from_the_closed_form_not_a_day_by_day_search() -> None:
    for params in (DEFAULT_PARAMS, DAILY.params):
        model = CountingModel(params)
        for state in REPEAT_BUYERS:
            last = state.purchase_days[-1]
            for day in range(last + 1, last + 300, 7):
                alive = model.p_alive_on(state, day)
                assert alive is not None
                for threshold in (alive, math.nextafter(alive, 1.0), alive * 0.999):
                    CountingModel.evaluations = 0
                    model.day_below(state, threshold)
                    # The day found and its neighbours, to absorb rounding: at most three.
                    assert CountingModel.evaluations <= 3


def test_a_customer_already_below_the_threshold_at_their_last_purchase_is_at_risk_from_that_day() -> None:
    # Two purchases 200 weeks apart: P(alive) right after the second is below 0.9 already.
    state = repeat_buyer(0, 1400)
    last = state.purchase_days[-1]
    alive = MODEL.p_alive_on(state, last)
    assert alive is not None
    assert alive < 0.9
    assert MODEL.day_below(state, 0.9) == last
    assert DAILY.day_below(repeat_buyer(0, 3), 0.9) == day_number(date(2025, 1, 4))


def test_odds_beyond_e_to_the_700_are_certainly_gone_and_up_to_it_computed() -> None:
    # Inputs found to give log-odds of exactly 700.0 and about 700.5 with the default parameters.
    at_700 = MODEL.p_alive(150, 1.0, 587.324007781249)
    assert at_700 == pytest.approx(1 / (1 + math.exp(700)), rel=1e-9)
    assert at_700 > 0
    assert MODEL.p_alive(200, 1.0, 179.57776292956515) == 0.0


def test_with_a_equal_to_one_expected_purchases_equal_the_vectorised_form() -> None:
    purchases = bgnbd.BGNBDParams(r=0.9, alpha=35.0, a=1.0, b=3.1)
    model = CustomerModel(
        ModelParams(purchases=purchases, spend=DAILY.params.spend, unit="days", best_customer_clv=500.0)
    )
    reference = float(bgnbd.expected_purchases(purchases, 30.0, 4, 60.0, 90.0)[()])
    assert model.expected_purchases(4, 60.0, 90.0, 30.0) == pytest.approx(reference, rel=1e-12)


def test_a_one_time_repeat_buyer_is_expected_to_spend_their_own_mean_shrunk_to_the_populations() -> None:
    reference = float(np.asarray(gamma_gamma.expected_spend(DEFAULT_PARAMS.spend, 1, 80.0))[()])
    assert MODEL.expected_spend(1, 80.0) == pytest.approx(reference, rel=1e-12)
    assert MODEL.expected_spend(1, 80.0) != DEFAULT_PARAMS.spend.population_mean


def test_a_buyer_whose_purchase_days_were_all_folded_away_is_read_as_a_one_day_buyer() -> None:
    # A merge's cap can fold the customer's own day away, and a split then take the merged days back.
    state = CustomerState(
        purchase_count=1, purchase_value=50.0, first_purchase_day=day_number(date(2025, 1, 1))
    )
    summary = MODEL.summary(state, day_number(date(2025, 1, 15)))
    assert summary == Summary(0, 0.0, 2.0)
    reference = CustomerState(
        purchase_count=1, purchase_value=50.0, first_purchase_day=state.first_purchase_day
    )
    reference.purchase_days = [state.first_purchase_day]
    assert MODEL.clv(state) == MODEL.clv(reference) > 0


def test_the_default_clv_is_a_year_of_months_at_one_percent_a_month() -> None:
    state = buyer(("2025-02-01", 40.0), ("2025-03-15", 60.0), ("2025-06-01", 20.0))
    explicit = CustomerModel(DEFAULT_PARAMS, clv_periods=12, clv_period_days=30.4375, discount_rate=0.01)
    assert CustomerModel(DEFAULT_PARAMS).clv(state) == explicit.clv(state)


def test_the_view_shows_the_threshold_in_effect_at_the_last_second_of_the_day() -> None:
    from agents.models.population import PopulationThreshold

    day = day_number(date(2026, 1, 5))
    state = buyer(("2025-12-01", 40.0), ("2025-12-20", 60.0))
    # Taking effect at the day's last second: shown.
    late = CustomerModel(DEFAULT_PARAMS)
    late.best_customers = PopulationThreshold(every=86_400, delay=86_399)
    late.best_customers.learn(day * 86_400, 100.0)
    assert late.view(state, day)["best_customer_clv"] == 100.0
    # Taking effect at the next midnight: not shown yet.
    midnight = CustomerModel(DEFAULT_PARAMS)
    midnight.best_customers = PopulationThreshold(every=86_400, delay=0)
    midnight.best_customers.learn(day * 86_400, 100.0)
    midnight.best_customers.learn((day + 1) * 86_400, 200.0)
    assert midnight.view(state, day)["best_customer_clv"] == 100.0


def test_no_purchase_counted_means_no_model_reading_whatever_purchase_day_is_left() -> None:
    state = CustomerState(purchase_count=0, first_purchase_day=day_number(date(2025, 1, 1)))
    state.purchase_days = [state.first_purchase_day]
    assert MODEL.summary(state, day_number(date(2025, 3, 1))) is None
    assert MODEL.clv(state) == 0.0
