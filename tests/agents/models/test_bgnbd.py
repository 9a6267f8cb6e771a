"""BG/NBD closed forms on hand-derived values, their shape, and recovery of simulated parameters."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from agents.models import bgnbd
from agents.models.bgnbd import BGNBDParams

pytestmark = pytest.mark.unit

CDNOW = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


def paper_eq10(params: BGNBDParams, t: float, x: float, t_x: float, T: float) -> float:
    """Eq. 10 exactly as printed, without the Euler transformation (fine for moderate x)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    bracket = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * special.hyp2f1(
        r + x, b + x, a + b + x - 1, t / (alpha + T + t)
    )
    alive = 1 / (1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    return float((a + b + x - 1) / (a - 1) * bracket * alive)


def test_p_alive_is_one_without_repeat_purchases() -> None:
    assert bgnbd.p_alive(CDNOW, 0, 0, [0.0, 1.0, 39.0, 1e6]).tolist() == [1.0, 1.0, 1.0, 1.0]


def test_p_alive_right_after_a_purchase_is_b_over_a_plus_b() -> None:
    # x=1, t_x=T: 1 / (1 + a/b) = b / (a + b).
    params = BGNBDParams(r=1.0, alpha=1.0, a=1.0, b=3.0)
    assert float(bgnbd.p_alive(params, 1, 5.0, 5.0)) == pytest.approx(0.75, rel=1e-12)


def test_p_alive_hand_computed() -> None:
    # a/(b+x-1) = 2/4, ((α+T)/(α+t_x))^(r+x) = (4/2)^3 = 8 → 1/(1+4) = 0.2.
    params = BGNBDParams(r=1.0, alpha=1.0, a=2.0, b=3.0)
    assert float(bgnbd.p_alive(params, 2, 1.0, 3.0)) == pytest.approx(0.2, rel=1e-12)


def test_p_alive_falls_as_T_grows() -> None:
    alive = bgnbd.p_alive(CDNOW, 3, 10.0, np.linspace(10.0, 500.0, 50))
    assert np.all(np.diff(alive) < 0)
    assert alive[0] <= 1.0


def test_p_alive_stays_a_probability_for_extreme_inputs() -> None:
    alive = bgnbd.p_alive(CDNOW, [1, 500, 10_000], [0.0, 1.0, 0.001], [1e6, 1e6, 1e7])
    assert np.all(np.isfinite(alive))
    assert np.all((alive >= 0) & (alive <= 1))


def test_log_likelihood_for_x_zero_is_the_gamma_poisson_zero_term() -> None:
    # x=0: L = (α/(α+T))^r, whatever a and b.
    params = BGNBDParams(r=2.0, alpha=3.0, a=0.7, b=5.0)
    assert float(bgnbd.log_likelihood(params, 0, 0, 3.0)) == pytest.approx(2 * math.log(0.5), rel=1e-12)


def test_log_likelihood_x_one_hand_computed() -> None:
    # r=α=a=b=1, x=1, t_x=1, T=2: B(1,2)/B(1,1)·1/3^2 + B(2,1)/B(1,1)·1/2^2 = 1/18 + 1/8.
    params = BGNBDParams(1.0, 1.0, 1.0, 1.0)
    assert float(bgnbd.log_likelihood(params, 1, 1.0, 2.0)) == pytest.approx(
        math.log(1 / 18 + 1 / 8), rel=1e-12
    )


@pytest.mark.parametrize(
    ("x", "t_x", "T"), [(0, 0.0, 39.0), (1, 5.0, 39.0), (5, 30.0, 38.0), (12, 36.0, 38.5)]
)
@pytest.mark.parametrize("params", [CDNOW, BGNBDParams(1.5, 10.0, 2.0, 4.0)])
def test_expected_purchases_equals_the_printed_eq10(
    params: BGNBDParams, x: int, t_x: float, T: float
) -> None:
    for t in (1.0, 39.0, 200.0):
        ours = float(bgnbd.expected_purchases(params, t, x, t_x, T))
        assert ours == pytest.approx(paper_eq10(params, t, x, t_x, T), rel=1e-9)


def test_expected_purchases_without_dropout_is_the_nbd_mean() -> None:
    # p → 0 (b huge): E[Y(t) | x, T] → (r + x) t / (α + T), E[X(t)] → r t / α.
    params = BGNBDParams(r=2.0, alpha=4.0, a=2.0, b=1e8)
    assert float(bgnbd.expected_purchases(params, 10.0, 3, 5.0, 6.0)) == pytest.approx(5 * 10 / 10, rel=1e-5)
    assert float(bgnbd.expected_purchases_new(params, 10.0)) == pytest.approx(2 * 10 / 4, rel=1e-5)


def test_expected_purchases_grow_with_t_and_start_at_zero() -> None:
    ts = np.linspace(0.0, 500.0, 101)
    expected = bgnbd.expected_purchases(CDNOW, ts, 2, 20.0, 39.0)
    assert expected[0] == 0.0
    assert np.all(np.diff(expected) > 0)
    assert np.all(np.diff(bgnbd.expected_purchases_new(CDNOW, ts)) > 0)


def test_expected_purchases_at_a_equal_one_is_the_limit() -> None:
    near = [
        float(bgnbd.expected_purchases(BGNBDParams(0.5, 5.0, a, 2.0), 20.0, 3, 10.0, 30.0))
        for a in (0.999, 1.001)
    ]
    exact = float(bgnbd.expected_purchases(BGNBDParams(0.5, 5.0, 1.0, 2.0), 20.0, 3, 10.0, 30.0))
    assert math.isfinite(exact)
    assert min(near) - 1e-3 <= exact <= max(near) + 1e-3


def test_expected_purchases_is_finite_for_heavy_buyers() -> None:
    expected = bgnbd.expected_purchases(CDNOW, 52.0, [300, 3000], [38.0, 38.9], [39.0, 39.0])
    assert np.all(np.isfinite(expected))
    assert np.all(expected > 0)


def test_inputs_are_validated() -> None:
    with pytest.raises(ValueError, match="t_x"):
        bgnbd.p_alive(CDNOW, 1, 5.0, 4.0)
    with pytest.raises(ValueError, match="x == 0"):
        bgnbd.p_alive(CDNOW, 0, 1.0, 4.0)
    with pytest.raises(ValueError, match="alpha"):
        BGNBDParams(1.0, 0.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="repeat"):
        bgnbd.fit([0, 0, 0], [0, 0, 0], [5, 6, 7])


def test_fit_recovers_simulated_parameters() -> None:
    truth = BGNBDParams(r=0.5, alpha=6.0, a=0.8, b=2.5)
    rng = np.random.default_rng(20050301)
    T = rng.uniform(26.0, 52.0, size=8000)
    x, t_x = bgnbd.simulate(truth, T, rng)
    fitted = bgnbd.fit(x, t_x, T)
    assert fitted.converged
    assert fitted.n_customers == 8000
    for got, want in zip(
        (fitted.params.r, fitted.params.alpha, fitted.params.a, fitted.params.b),
        (truth.r, truth.alpha, truth.a, truth.b),
        strict=True,
    ):
        assert got == pytest.approx(want, rel=0.25)
    # The optimum beats the truth on the same data.
    assert fitted.log_likelihood >= float(bgnbd.log_likelihood(truth, x, t_x, T).sum())


# --- against published figures and independent computations ------------------------------------------------------

# The paper's CDNOW estimates; the published figures below come from Hardie's spreadsheet of the paper, computed
# with the unrounded estimates, hence the tolerances.


def test_the_papers_example_customer_expects_1_226_purchases_in_the_next_39_weeks() -> None:
    # x = 2 repeat purchases, the last at week 30.43, observed for 38.86 weeks.
    assert float(bgnbd.expected_purchases(CDNOW, 39.0, 2, 30.43, 38.86)) == pytest.approx(1.226, abs=5e-4)


def test_a_new_customers_expected_purchases_are_the_papers() -> None:
    weeks = [0.1429, 1.0, 3.0, 31.8571, 32.0, 78.0]
    published = [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576]
    np.testing.assert_allclose(bgnbd.expected_purchases_new(CDNOW, weeks), published, rtol=2e-3, atol=6e-5)


def paper_eq7(params: BGNBDParams, t: float) -> float:
    """Eq. 7 as printed: E[X(t)] for a new customer."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    series = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
    return float((a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * series))


@pytest.mark.parametrize("params", [CDNOW, BGNBDParams(1.5, 10.0, 2.0, 4.0), BGNBDParams(0.4, 2.0, 3.5, 0.6)])
def test_a_new_customers_expected_purchases_equal_the_printed_eq7(params: BGNBDParams) -> None:
    for t in (0.5, 10.0, 52.0, 300.0):
        assert float(bgnbd.expected_purchases_new(params, t)) == pytest.approx(paper_eq7(params, t), rel=1e-9)


#: Away from the paper's estimates, so that no parameter's term hides behind another.
ODD = BGNBDParams(r=0.7, alpha=3.5, a=1.3, b=2.8)


def by_integration(params: BGNBDParams, x: int, t_x: float, T: float) -> tuple[float, float]:
    """(likelihood, P(alive)) of one customer from the model's story, integrating over purchase rate and dropout.

    Given λ and p: alive throughout, x purchases then none up to T: (1-p)^x λ^x e^(-λT); or dropped out right
    after the x-th purchase at t_x: p (1-p)^(x-1) λ^x e^(-λ t_x). λ ~ Gamma(r, α) (rate α), p ~ Beta(a, b).
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    log_norm = r * math.log(alpha) - math.lgamma(r) - special.betaln(a, b)

    def density(lam: float, p: float) -> float:
        return math.exp(
            log_norm
            + (r + x - 1) * math.log(lam)
            - alpha * lam
            + (a - 1) * math.log(p)
            + (b - 1) * math.log1p(-p)
        )

    def alive(lam: float, p: float) -> float:
        return (1 - p) ** x * math.exp(-lam * T) * density(lam, p)

    def dropped(lam: float, p: float) -> float:
        return p * (1 - p) ** (x - 1) * math.exp(-lam * t_x) * density(lam, p) if x > 0 else 0.0

    kept, _ = integrate.dblquad(alive, 0, 1, 0, np.inf, epsabs=0, epsrel=1e-10)
    gone, _ = integrate.dblquad(dropped, 0, 1, 0, np.inf, epsabs=0, epsrel=1e-10) if x > 0 else (0.0, 0.0)
    return kept + gone, kept / (kept + gone)


@pytest.mark.parametrize(("x", "t_x", "T"), [(0, 0.0, 10.0), (1, 2.0, 10.0), (4, 7.5, 9.0)])
def test_the_likelihood_and_p_alive_are_the_models_integrated_over_rate_and_dropout(
    x: int, t_x: float, T: float
) -> None:
    likelihood, alive = by_integration(ODD, x, t_x, T)
    assert float(bgnbd.log_likelihood(ODD, x, t_x, T)) == pytest.approx(math.log(likelihood), rel=1e-8)
    assert float(bgnbd.p_alive(ODD, x, t_x, T)) == pytest.approx(alive, rel=1e-8)


def by_dropout(params: BGNBDParams, t: float, x: int, T: float) -> float:
    """E[Y(t) | alive at T, x] from the model's story, as a mean over the customer's dropout probability.

    Alive with rate λ and dropout p, a customer buys min(Poisson(λt), Geometric(p)) times: (1 - e^(-λpt))/p on
    average. Given x purchases and alive at T, λ ~ Gamma(r+x, α+T) and p ~ Beta(a, b+x); the mean over λ is
    (1 - ((α+T)/(α+T+pt))^(r+x))/p, integrated here over the density of p.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    scale = alpha + T
    dropout = stats.beta(a, b + x)

    def per_dropout(p: float) -> float:
        return float((1 - (scale / (scale + p * t)) ** (r + x)) / p * dropout.pdf(p))

    upper = min(1.0, dropout.mean() + 60 * dropout.std())
    value, _ = integrate.quad(
        per_dropout, 0, upper, points=[dropout.mean()], epsabs=0, epsrel=1e-11, limit=200
    )
    return float(value)


@pytest.mark.parametrize(
    ("params", "x", "t_x", "T", "t"),
    [
        pytest.param(ODD, 4, 7.5, 9.0, 30.0, id="ordinary"),
        pytest.param(ODD, 0, 0.0, 9.0, 30.0, id="no repeat purchase"),
        pytest.param(BGNBDParams(2.0, 4.0, 2.0, 1e3), 3, 5.0, 6.0, 40.0, id="little dropout"),
        pytest.param(BGNBDParams(0.5, 4.0, 0.4, 0.9), 1, 3.0, 6.0, 300.0, id="much dropout, long horizon"),
    ],
)
def test_expected_purchases_are_p_alive_times_the_mean_over_dropout(
    params: BGNBDParams, x: int, t_x: float, T: float, t: float
) -> None:
    expected = float(bgnbd.expected_purchases(params, t, x, t_x, T))
    assert expected == pytest.approx(
        float(bgnbd.p_alive(params, x, t_x, T)) * by_dropout(params, t, x, T), rel=1e-8
    )


def test_at_a_equal_one_expected_purchases_are_the_limit_to_eight_digits() -> None:
    # a = 1 is 0/0 in eq. 10; the mean over dropout has no such point.
    params = BGNBDParams(0.5, 5.0, 1.0, 2.0)
    for x, t_x, t in ((0, 0.0, 20.0), (3, 10.0, 200.0)):
        expected = float(bgnbd.expected_purchases(params, t, x, t_x, 30.0))
        assert expected == pytest.approx(
            float(bgnbd.p_alive(params, x, t_x, 30.0)) * by_dropout(params, t, x, 30.0), rel=1e-8
        )


# --- what each function refuses, exactly --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["r", "alpha", "a", "b"])
@pytest.mark.parametrize("value", [0.0, -1.0, math.inf, math.nan])
def test_a_parameter_that_is_not_finite_and_positive_is_refused_by_name(name: str, value: float) -> None:
    values = {"r": 1.0, "alpha": 1.0, "a": 1.0, "b": 1.0, name: value}
    with pytest.raises(ValueError, match=rf"^BG/NBD parameter {name} must be finite and > 0, got "):
        BGNBDParams(**values)


@pytest.mark.parametrize(
    ("x", "t_x", "T"), [(math.nan, 0.0, 1.0), (1, math.inf, 1.0), (1, 0.5, math.nan), (1, 0.5, math.inf)]
)
def test_a_summary_that_is_not_finite_is_refused(x: float, t_x: float, T: float) -> None:
    with pytest.raises(ValueError, match=r"^x, t_x and T must be finite$"):
        bgnbd.p_alive(CDNOW, [1, x], [0.5, t_x], [1.0, T])


@pytest.mark.parametrize(("x", "t_x", "T"), [(-1, 0.0, 1.0), (1, -0.5, 1.0), (1, 1.5, 1.0)])
def test_a_summary_out_of_order_is_refused(x: float, t_x: float, T: float) -> None:
    with pytest.raises(ValueError, match=r"^need x >= 0 and 0 <= t_x <= T$"):
        bgnbd.log_likelihood(CDNOW, x, t_x, T)
    with pytest.raises(ValueError, match=r"^t_x must be 0 when x == 0$"):
        bgnbd.log_likelihood(CDNOW, 0, 0.5, 1.0)


def test_a_last_purchase_a_rounding_error_after_the_end_is_at_the_end() -> None:
    # Weeks are days / 7: a purchase on the last day can come out a hair after T.
    T = 38.0 / 7 * 7
    assert float(bgnbd.p_alive(CDNOW, 2, T + 1e-9, T)) == pytest.approx(float(bgnbd.p_alive(CDNOW, 2, T, T)))


@pytest.mark.parametrize("t", [-1.0, math.nan, math.inf])
def test_a_horizon_that_is_not_finite_and_non_negative_is_refused(t: float) -> None:
    with pytest.raises(ValueError, match=r"^t must be finite and >= 0$"):
        bgnbd.expected_purchases(CDNOW, [1.0, t], 2, 10.0, 20.0)
    with pytest.raises(ValueError, match=r"^t must be finite and >= 0$"):
        bgnbd.expected_purchases_new(CDNOW, [1.0, t])


def test_where_a_parameter_is_believable_the_search_range_is_open() -> None:
    low, high = math.log(bgnbd.SEARCH_RANGE[0]), math.log(bgnbd.SEARCH_RANGE[1])
    names = ("r", "alpha", "a", "b", "c")
    assert bgnbd.at_bounds(names, [low, low + 1e-9, 0.0, high - 1e-9, high]) == ("r", "c")
    assert bgnbd.at_bounds(("r", "alpha"), [math.nan, -math.inf]) == ("r", "alpha")
    with pytest.raises(ValueError, match="zip"):
        bgnbd.at_bounds(("r", "alpha"), [0.0])  # a name per parameter, no fewer


# --- fitting ------------------------------------------------------------------------------------------------------


def test_fit_needs_two_customers_and_a_repeat_purchase_and_no_more() -> None:
    with pytest.raises(ValueError, match=r"^need at least 2 customers to fit BG/NBD$"):
        bgnbd.fit([1], [1.0], [2.0])
    with pytest.raises(ValueError, match=r"^nobody made a repeat purchase: BG/NBD cannot be fitted$"):
        bgnbd.fit([0, 0], [0.0, 0.0], [2.0, 3.0])
    # Two customers, one of whom came back once: enough.
    assert bgnbd.fit([1, 0], [1.0, 0.0], [2.0, 3.0]).n_customers == 2


def likelihood_maximum(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """The maximum-likelihood parameters, found here with other optimisers and tighter tolerances."""

    def minus(theta: np.ndarray) -> float:
        return -float(bgnbd.log_likelihood(BGNBDParams(*np.exp(theta)), x, t_x, T).sum())

    found = optimize.minimize(minus, np.zeros(4), method="Powell", options={"xtol": 1e-10, "ftol": 1e-13})
    found = optimize.minimize(minus, found.x, method="BFGS", options={"gtol": 1e-8})
    best: np.ndarray = np.exp(found.x)
    return best


def test_fit_finds_the_likelihoods_maximum_to_six_digits_and_reports_it() -> None:
    truth = BGNBDParams(r=0.5, alpha=6.0, a=0.8, b=2.5)
    rng = np.random.default_rng(3)
    T = rng.uniform(26.0, 52.0, size=600)
    x, t_x = bgnbd.simulate(truth, T, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing leaks onto the operator's terminal
        fitted = bgnbd.fit(x, t_x, T)
    best = fitted.params
    np.testing.assert_allclose([best.r, best.alpha, best.a, best.b], likelihood_maximum(x, t_x, T), rtol=2e-6)
    assert fitted.log_likelihood == pytest.approx(
        float(bgnbd.log_likelihood(best, x, t_x, T).sum()), rel=1e-12
    )
    assert (fitted.n_customers, fitted.converged, fitted.at_bounds) == (600, True, ())
    assert fitted.message == "Optimization terminated successfully."
    # Started elsewhere, the same maximum.
    again = bgnbd.fit(x, t_x, T, initial=BGNBDParams(5.0, 1.0, 3.0, 0.5))
    assert again.params.r == pytest.approx(best.r, rel=2e-6)


def test_a_fit_the_data_cannot_pin_down_names_every_parameter_that_ran_off() -> None:
    # Four customers, each with four repeat purchases, the last at the end: no spread in rate or dropout.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted = bgnbd.fit([4, 4, 4, 4], [4.0, 4.0, 4.0, 4.0], [4.0, 4.0, 4.0, 4.0])
    assert fitted.at_bounds == ("r", "alpha", "a", "b")
    # L-BFGS-B converged at the edge of its box; the polish that ran out of steps does not unsay it.
    assert fitted.converged


# --- simulation ---------------------------------------------------------------------------------------------------


def test_simulated_customers_buy_as_the_model_expects() -> None:
    rng = np.random.default_rng(17)
    T = np.full(20_000, 10.0)
    x, t_x = bgnbd.simulate(ODD, T, rng)
    # E[X(T)] of eq. 7, within four standard errors.
    assert float(np.mean(x)) == pytest.approx(
        paper_eq7(ODD, 10.0), abs=4 * float(np.std(x)) / math.sqrt(x.size)
    )
    assert np.all((t_x > 0) == (x > 0))
    assert np.all(t_x <= T)
    assert np.all(t_x[x == 0] == 0)
