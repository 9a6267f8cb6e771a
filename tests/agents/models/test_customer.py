"""The models on one customer's live state: the scalar forms against the vectorised reference, the risk clock."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.domain.instants import day_number
from agents.domain.state import CustomerState
from agents.models import bgnbd, gamma_gamma
from agents.models.customer import CustomerModel
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
