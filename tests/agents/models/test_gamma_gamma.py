"""Gamma-Gamma spend model and CLV: hand-checked values, a proper density, parameter recovery."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from agents.models import bgnbd, gamma_gamma
from agents.models.bgnbd import BGNBDParams
from agents.models.gamma_gamma import GammaGammaParams

pytestmark = pytest.mark.unit

CDNOW_SPEND = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)
CDNOW_PURCHASES = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


def test_expected_spend_without_purchases_is_the_population_mean() -> None:
    mean = 6.25 * 15.44 / 2.74
    assert CDNOW_SPEND.population_mean == pytest.approx(mean)
    assert float(gamma_gamma.expected_spend(CDNOW_SPEND, 0, np.nan)) == pytest.approx(mean)


def test_expected_spend_is_the_weighted_average_of_population_and_own_mean() -> None:
    p, q, gamma = 6.25, 3.74, 15.44
    x, m = 4, 50.0
    weight = p * x / (p * x + q - 1)
    want = (1 - weight) * p * gamma / (q - 1) + weight * m
    assert float(gamma_gamma.expected_spend(CDNOW_SPEND, x, m)) == pytest.approx(want, rel=1e-12)
    # More transactions → closer to the customer's own mean.
    shrunk = gamma_gamma.expected_spend(CDNOW_SPEND, [1, 10, 1000], 100.0)
    assert np.all(np.diff(shrunk) > 0)
    assert shrunk[-1] == pytest.approx(100.0, rel=1e-2)


@pytest.mark.parametrize("x", [1, 3, 20])
def test_the_likelihood_is_a_density_of_m_x(x: int) -> None:
    total, _ = integrate.quad(
        lambda m: math.exp(float(gamma_gamma.log_likelihood(CDNOW_SPEND, x, m))), 0, np.inf, limit=200
    )
    assert total == pytest.approx(1.0, rel=1e-6)


def test_expected_spend_needs_q_above_one() -> None:
    with pytest.raises(ValueError, match="q > 1"):
        gamma_gamma.expected_spend(GammaGammaParams(1.0, 0.9, 1.0), 1, 10.0)


def test_fit_recovers_simulated_parameters() -> None:
    truth = GammaGammaParams(p=6.0, q=4.0, gamma=15.0)
    rng = np.random.default_rng(42)
    x = rng.integers(0, 12, size=20_000).astype(float)
    m_x = gamma_gamma.simulate(truth, x, rng)
    fitted = gamma_gamma.fit(x, m_x)
    assert fitted.n_customers == int((x > 0).sum())
    assert fitted.params.p == pytest.approx(truth.p, rel=0.15)
    assert fitted.params.q == pytest.approx(truth.q, rel=0.15)
    assert fitted.params.gamma == pytest.approx(truth.gamma, rel=0.2)
    keep = x > 0
    assert fitted.log_likelihood == pytest.approx(
        float(gamma_gamma.log_likelihood(fitted.params, x[keep], m_x[keep]).sum()), rel=1e-9
    )
    assert fitted.log_likelihood >= float(gamma_gamma.log_likelihood(truth, x[keep], m_x[keep]).sum())


def test_clv_without_discount_is_expected_purchases_times_expected_spend() -> None:
    args = ([0, 2, 7], [0.0, 20.0, 35.0], [39.0, 39.0, 39.0], [np.nan, 30.0, 45.0])
    value = gamma_gamma.clv(
        CDNOW_PURCHASES, CDNOW_SPEND, *args, periods=12, discount_rate=0.0, period_length=4.0
    )
    want = bgnbd.expected_purchases(CDNOW_PURCHASES, 48.0, *args[:3]) * gamma_gamma.expected_spend(
        CDNOW_SPEND, args[0], args[3]
    )
    np.testing.assert_allclose(value, want, rtol=1e-12)


def test_clv_discounting_lowers_value_and_zero_periods_is_zero() -> None:
    args = (3, 30.0, 39.0, 40.0)
    plain = float(gamma_gamma.clv(CDNOW_PURCHASES, CDNOW_SPEND, *args, periods=24, discount_rate=0.0))
    discounted = float(gamma_gamma.clv(CDNOW_PURCHASES, CDNOW_SPEND, *args, periods=24, discount_rate=0.01))
    assert 0 < discounted < plain
    assert float(gamma_gamma.clv(CDNOW_PURCHASES, CDNOW_SPEND, *args, periods=0, discount_rate=0.01)) == 0.0


# --- what each function refuses, exactly -------------------------------------------------------------------------

SPEND = GammaGammaParams(p=6.0, q=4.0, gamma=16.0)


@pytest.mark.parametrize("value", [0.0, -1.0, math.inf, math.nan])
def test_a_parameter_that_is_not_finite_and_positive_is_refused_by_name(value: float) -> None:
    with pytest.raises(ValueError, match=r"^Gamma-Gamma parameter q must be finite and > 0, got "):
        GammaGammaParams(p=1.0, q=value, gamma=1.0)
    assert GammaGammaParams(p=1e-9, q=1e-9, gamma=1e-9).p == 1e-9


@pytest.mark.parametrize(("x", "m_x"), [(0, 10.0), (1, 0.0), (2, math.nan)])
def test_the_likelihood_refuses_customers_without_repeat_spend(x: int, m_x: float) -> None:
    with pytest.raises(ValueError, match=r"^the Gamma-Gamma likelihood needs x > 0 and m_x > 0$"):
        gamma_gamma.log_likelihood(SPEND, [x], [m_x])


def test_expected_spend_is_defined_from_q_just_above_one() -> None:
    with pytest.raises(
        ValueError, match=r"^expected spend needs q > 1 \(the population mean is infinite\), got q=1.0$"
    ):
        gamma_gamma.expected_spend(GammaGammaParams(p=1.0, q=1.0, gamma=1.0), [1], [10.0])
    spend = GammaGammaParams(p=1.0, q=1.5, gamma=1.0)
    # x = 1: p (γ + x m) / (p x + q - 1) = (1 + 10) / 1.5
    assert gamma_gamma.expected_spend(spend, [1], [10.0])[0] == pytest.approx(11 / 1.5)


@pytest.mark.parametrize("m_x", [-1.0, math.inf, math.nan])
def test_expected_spend_refuses_a_mean_spend_that_is_not_finite_and_non_negative(m_x: float) -> None:
    with pytest.raises(ValueError, match=r"^m_x must be finite and >= 0 where x > 0$"):
        gamma_gamma.expected_spend(SPEND, [1], [m_x])
    # Where x is 0 the mean spend is not read: the population mean, whatever was passed.
    assert gamma_gamma.expected_spend(SPEND, [0], [m_x])[0] == pytest.approx(SPEND.population_mean)
