"""Gamma-Gamma spend model and CLV: hand-checked values, a proper density, parameter recovery."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import integrate, optimize, stats

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


# --- against independent computations -----------------------------------------------------------------------------


def spend_posterior(params: GammaGammaParams, x: int, m_x: float) -> tuple[float, float]:
    """(density of m_x, E[M | x, m_x]) from the model's story, integrating over the customer's ν.

    Given ν, the mean of x values Gamma(p, ν) is Gamma(p x, x ν); ν ~ Gamma(q, γ) (rate γ); a customer's mean
    transaction value is p / ν.
    """
    p, q, gamma = params.p, params.q, params.gamma
    prior = stats.gamma(q, scale=1 / gamma)

    def joint(nu: float) -> float:
        return float(stats.gamma.pdf(m_x, p * x, scale=1 / (x * nu)) * prior.pdf(nu))

    density, _ = integrate.quad(joint, 0, np.inf, epsabs=0, epsrel=1e-11, limit=200)
    weighted, _ = integrate.quad(lambda nu: p / nu * joint(nu), 0, np.inf, epsabs=0, epsrel=1e-11, limit=200)
    return density, weighted / density


#: Away from the paper's estimates, so that no parameter's term hides behind another.
ODD = GammaGammaParams(p=2.5, q=3.2, gamma=40.0)


@pytest.mark.parametrize(("x", "m_x"), [(1, 12.0), (3, 35.5), (8, 80.0)])
def test_the_likelihood_and_expected_spend_are_the_models_integrated_over_the_customers_rate(
    x: int, m_x: float
) -> None:
    density, mean = spend_posterior(ODD, x, m_x)
    assert float(gamma_gamma.log_likelihood(ODD, x, m_x)) == pytest.approx(math.log(density), rel=1e-8)
    assert float(gamma_gamma.expected_spend(ODD, x, m_x)) == pytest.approx(mean, rel=1e-8)


def test_a_customer_we_know_nothing_of_spends_the_population_mean() -> None:
    assert ODD.population_mean == pytest.approx(2.5 * 40.0 / 2.2)
    # E[p/ν] over the prior alone.
    mean, _ = integrate.quad(
        lambda nu: ODD.p / nu * stats.gamma.pdf(nu, ODD.q, scale=1 / ODD.gamma), 0, np.inf
    )
    assert ODD.population_mean == pytest.approx(mean, rel=1e-8)
    assert GammaGammaParams(p=1.0, q=1.0, gamma=1.0).population_mean == math.inf


def test_clv_without_dropout_is_a_discounted_annuity_of_the_purchase_rate() -> None:
    # With no dropout (b huge) a customer buys (r + x) / (α + T) per time unit for ever: each period of length Δ
    # brings (r + x) Δ / (α + T) purchases of E[M] each, and H periods at rate d are worth that times
    # (1 - (1 + d)^-H) / d.
    purchases = BGNBDParams(r=2.0, alpha=4.0, a=2.0, b=1e9)
    x, t_x, T, m_x = 3, 5.0, 6.0, 40.0
    per_period = (2.0 + 3) * 4.345 / (4.0 + 6.0) * float(gamma_gamma.expected_spend(SPEND, x, m_x))
    for periods, rate in ((12, 0.01), (6, 0.05), (1, 0.5)):
        annuity = (1 - (1 + rate) ** -periods) / rate
        value = gamma_gamma.clv(
            purchases, SPEND, x, t_x, T, m_x, periods=periods, discount_rate=rate, period_length=4.345
        )
        assert float(value) == pytest.approx(per_period * annuity, rel=1e-6)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"periods": -1, "discount_rate": 0.01}, r"^periods must be >= 0$"),
        ({"periods": 12, "discount_rate": -1.0}, r"^discount_rate must be finite and > -1$"),
        ({"periods": 12, "discount_rate": math.nan}, r"^discount_rate must be finite and > -1$"),
        (
            {"periods": 12, "discount_rate": 0.01, "period_length": 0.0},
            r"^period_length must be finite and > 0$",
        ),
        (
            {"periods": 12, "discount_rate": 0.01, "period_length": math.inf},
            r"^period_length must be finite and > 0$",
        ),
    ],
)
def test_clv_refuses_a_horizon_rate_or_period_it_cannot_use(settings: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gamma_gamma.clv(CDNOW_PURCHASES, SPEND, 2, 20.0, 39.0, 30.0, **settings)  # type: ignore[arg-type]


def test_clv_at_the_edges_of_what_it_accepts() -> None:
    args = (CDNOW_PURCHASES, SPEND, 2, 20.0, 39.0, 30.0)
    # A discount rate just above -1 makes later money worth more; a tiny period still counts.
    assert float(gamma_gamma.clv(*args, periods=2, discount_rate=-0.5)) > float(
        gamma_gamma.clv(*args, periods=2, discount_rate=0.0)
    )
    assert float(gamma_gamma.clv(*args, periods=1, discount_rate=0.0, period_length=1e-9)) > 0.0


@pytest.mark.parametrize("x", [-1.0, math.inf, math.nan])
def test_a_transaction_count_that_is_not_finite_and_non_negative_is_refused(x: float) -> None:
    with pytest.raises(ValueError, match=r"^x must be finite and >= 0$"):
        gamma_gamma.expected_spend(SPEND, [x], [10.0])


def test_simulated_mean_spends_follow_the_model() -> None:
    rng = np.random.default_rng(7)
    x = np.repeat([0.0, 1.0, 5.0], 40_000)
    m_x = gamma_gamma.simulate(ODD, x, rng)
    assert np.all(np.isnan(m_x[x == 0]))
    assert np.all(m_x[x > 0] > 0)
    # The mean of x values has the population mean E[p/ν] = pγ/(q-1), whatever x.
    for count in (1.0, 5.0):
        drawn = m_x[x == count]
        assert float(np.mean(drawn)) == pytest.approx(ODD.population_mean, rel=0.03)
    # Averaging 5 values narrows a customer's spread: the variance of the mean is smaller for x = 5.
    assert float(np.var(m_x[x == 5.0])) < float(np.var(m_x[x == 1.0]))


def spend_likelihood_maximum(x: np.ndarray, m_x: np.ndarray) -> np.ndarray:
    """The maximum-likelihood (p, q, γ), found here with other optimisers and tighter tolerances."""

    def minus(theta: np.ndarray) -> float:
        return -float(gamma_gamma.log_likelihood(GammaGammaParams(*np.exp(theta)), x, m_x).sum())

    start = np.log([1.0, 1.0, float(np.mean(m_x))])
    found = optimize.minimize(minus, start, method="Powell", options={"xtol": 1e-10, "ftol": 1e-13})
    found = optimize.minimize(minus, found.x, method="BFGS", options={"gtol": 1e-8})
    best: np.ndarray = np.exp(found.x)
    return best


def test_fit_finds_the_likelihoods_maximum_to_six_digits_and_reports_it() -> None:
    rng = np.random.default_rng(11)
    x = rng.integers(1, 10, size=400).astype(float)
    m_x = gamma_gamma.simulate(ODD, x, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing leaks onto the operator's terminal
        fitted = gamma_gamma.fit(x, m_x)
    best = fitted.params
    np.testing.assert_allclose([best.p, best.q, best.gamma], spend_likelihood_maximum(x, m_x), rtol=2e-6)
    assert fitted.log_likelihood == pytest.approx(
        float(gamma_gamma.log_likelihood(best, x, m_x).sum()), rel=1e-12
    )
    assert (fitted.n_customers, fitted.converged, fitted.at_bounds) == (400, True, ())
    assert fitted.message == "Optimization terminated successfully."
    # Started elsewhere, the same maximum.
    again = gamma_gamma.fit(x, m_x, initial=GammaGammaParams(20.0, 10.0, 500.0))
    assert again.params.p == pytest.approx(best.p, rel=2e-6)


def test_fit_leaves_out_only_customers_without_repeat_spend() -> None:
    with pytest.raises(
        ValueError,
        match=r"^need at least 2 customers with repeat purchases of positive value to fit Gamma-Gamma$",
    ):
        gamma_gamma.fit([3, 0, 2], [10.0, 5.0, 0.0])
    # Small amounts count: a spend below one unit of currency is still a spend.
    assert gamma_gamma.fit([3, 2, 0, 1, 4], [10.0, 0.5, 5.0, 0.0, math.nan]).n_customers == 2


@pytest.mark.parametrize(
    ("x", "m_x", "ran_off"),
    [
        # Every customer spends exactly the same: no spread within or between customers is left to fit.
        ([2, 2, 2], [20.0, 20.0, 20.0], ("p", "q")),
        # Far apart, and with so few values each: the shape runs off and the scale with it.
        ([2, 3, 4, 5], [10.0, 30.0, 10.0, 30.0], ("p", "gamma")),
    ],
)
def test_a_fit_the_data_cannot_pin_down_names_every_parameter_that_ran_off(
    x: list[int], m_x: list[float], ran_off: tuple[str, ...]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gamma_gamma.fit(x, m_x).at_bounds == ran_off


def test_clv_counts_periods_of_one_time_unit_unless_told() -> None:
    args = (CDNOW_PURCHASES, SPEND, 2, 20.0, 39.0, 30.0)
    assert float(gamma_gamma.clv(*args, periods=12, discount_rate=0.01)) == float(
        gamma_gamma.clv(*args, periods=12, discount_rate=0.01, period_length=1.0)
    )
    assert float(gamma_gamma.clv(*args, periods=12, discount_rate=0.01)) < float(
        gamma_gamma.clv(*args, periods=12, discount_rate=0.01, period_length=2.0)
    )


def test_simulating_customers_without_repeat_purchases_warns_about_nothing() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m_x = gamma_gamma.simulate(ODD, [0, 1, 0, 3], np.random.default_rng(5))
    assert np.isnan(m_x[[0, 2]]).all()
    assert np.isfinite(m_x[[1, 3]]).all()
