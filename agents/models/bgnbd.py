"""BG/NBD: the beta-geometric / negative binomial distribution model of repeat buying.

Fader, Hardie & Lee (2005), "Counting your customers the easy way: An alternative to the Pareto/NBD
model", Marketing Science 24(2). While alive a customer buys at Poisson rate λ ~ Gamma(r, α); after
each purchase she drops out with probability p ~ Beta(a, b). Per customer the data are

* ``x``   — number of repeat purchases (distinct purchase periods after the first) in calibration,
* ``t_x`` — time of the last purchase, measured from the first purchase (0 when ``x == 0``),
* ``T``   — time between the first purchase and the end of calibration,

all in one time unit (see :mod:`agents.models.history`). Closed forms (paper's equations):

* individual likelihood (eq. 6), computed in log space with ``gammaln``/``betaln``:
  ``L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
  + [x>0] B(a+1, b+x-1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))``
* P(alive | x, t_x, T) = ``1 / (1 + [x>0] a/(b+x-1) · ((α+T)/(α+t_x))^(r+x))`` — exactly 1 for
  ``x == 0`` (in this model a customer can only drop out right after a purchase);
* E[Y(t) | x, t_x, T] (eq. 10) = ``P(alive) · (a+b+x-1)/(a-1) · [1 - ((α+T)/(α+T+t))^(r+x)
  ₂F₁(r+x, b+x; a+b+x-1; t/(α+T+t))]``. With ``z = t/(α+T+t)`` the bracketed product is rewritten
  by Euler's transformation as ``(1-z)^(a-1) ₂F₁(a+b-1-r, a-1; a+b+x-1; z)``: the same number, but
  the hypergeometric series then converges fast and stays near 1 for large ``x`` instead of
  multiplying a vanishing power by a huge series. At ``a == 1`` the formula is 0/0; we take the
  limit numerically (mean of ``a = 1 ± 1e-6``).
* E[X(t)] for a new customer (eq. 7) = ``(a+b-1)/(a-1) · [1 - (α/(α+t))^r ₂F₁(r, b; a+b-1; t/(α+t))]``.

Fitting maximises the summed log-likelihood over ``log(r, α, a, b)`` (so the parameters stay
positive) with scipy's L-BFGS-B, then polishes with Nelder-Mead. Customers with identical
``(x, t_x, T)`` are collapsed into one weighted row first, so fitting cost grows with the number of
distinct triples, not customers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

__all__ = [
    "BGNBDFit",
    "BGNBDParams",
    "expected_purchases",
    "expected_purchases_new",
    "fit",
    "log_likelihood",
    "p_alive",
    "simulate",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BGNBDParams:
    """Population parameters: purchase rate λ ~ Gamma(r, α) (α a scale in time units), dropout p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    def __post_init__(self) -> None:
        for name in ("r", "alpha", "a", "b"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"BG/NBD parameter {name} must be finite and > 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class BGNBDFit:
    """A maximum-likelihood fit: the parameters, the maximised log-likelihood and how the optimiser fared."""

    params: BGNBDParams
    log_likelihood: float
    n_customers: int
    converged: bool
    message: str
    #: Parameters the optimiser pushed outside SEARCH_RANGE: the data cannot pin them down.
    at_bounds: tuple[str, ...] = ()


#: Where a fitted parameter is believable. Beyond it the likelihood keeps improving as a parameter runs
#: off towards 0 or infinity (no heterogeneity left to fit, say): the fit is degenerate, not a finding.
# Not Final: compiled with mypyc, a Final tuple of floats read "value for final name was not set" at run time.
SEARCH_RANGE: tuple[float, float] = (1e-5, 1e5)


def at_bounds(names: tuple[str, ...], theta: Any) -> tuple[str, ...]:
    """The *names* whose log-scale optimiser values *theta* lie outside SEARCH_RANGE (or are not finite)."""
    low, high = math.log(SEARCH_RANGE[0]), math.log(SEARCH_RANGE[1])
    return tuple(name for name, value in zip(names, theta, strict=True) if not low < float(value) < high)


def _arrays(
    x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    xs, txs, Ts = np.broadcast_arrays(
        np.asarray(x, dtype=np.float64), np.asarray(t_x, dtype=np.float64), np.asarray(T, dtype=np.float64)
    )
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(txs)) and np.all(np.isfinite(Ts))):
        raise ValueError("x, t_x and T must be finite")
    if np.any(xs < 0) or np.any(txs < 0) or np.any(txs > Ts + 1e-9):
        raise ValueError("need x >= 0 and 0 <= t_x <= T")
    if np.any((xs == 0) & (txs != 0)):
        raise ValueError("t_x must be 0 when x == 0")
    return xs, txs, Ts


def _log_likelihood(
    r: float, alpha: float, a: float, b: float, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    repeat = x > 0
    x1 = np.where(repeat, x, 1.0)  # keeps betaln(a+1, b+x-1) defined; masked out below
    base = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) - special.betaln(a, b)
    term_t = special.betaln(a, b + x) - (r + x) * np.log(alpha + T)
    term_tx = np.where(repeat, special.betaln(a + 1, b + x1 - 1) - (r + x) * np.log(alpha + t_x), -np.inf)
    result: FloatArray = base + np.logaddexp(term_t, term_tx)
    return result


def log_likelihood(params: BGNBDParams, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike) -> FloatArray:
    """Per-customer log-likelihood ln L(r, α, a, b | x, t_x, T) (paper eq. 6)."""
    xs, txs, Ts = _arrays(x, t_x, T)
    return _log_likelihood(params.r, params.alpha, params.a, params.b, xs, txs, Ts)


def p_alive(params: BGNBDParams, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike) -> FloatArray:
    """P(customer still alive at T | x, t_x, T): 1 for x == 0, in [0, 1] always (log-space, no overflow)."""
    xs, txs, Ts = _arrays(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = xs > 0
    x1 = np.where(repeat, xs, 1.0)
    log_odds_dead = np.log(a) - np.log(b + x1 - 1) + (r + x1) * (np.log(alpha + Ts) - np.log(alpha + txs))
    result: FloatArray = np.where(repeat, special.expit(-log_odds_dead), 1.0)
    return result


def _bracket(a: float, b: float, r: float, x: FloatArray, z: FloatArray) -> FloatArray:
    """(a+b+x-1)/(a-1) · [1 - (1-z)^(a-1) ₂F₁(a+b-1-r, a-1; a+b+x-1; z)] (Euler-transformed eq. 10)."""
    c = a + b + x - 1
    series = special.hyp2f1(a + b - 1 - r, a - 1, c, z)
    # 1 - (1-z)^(a-1)·F, with (1-z)^(a-1) = exp((a-1)·log1p(-z)); -expm1 keeps small t accurate.
    one_minus = -np.expm1((a - 1) * np.log1p(-z) + np.log(series))
    result: FloatArray = c / (a - 1) * one_minus
    return result


def _expected_given_alive(params: BGNBDParams, t: FloatArray, x: FloatArray, T: FloatArray) -> FloatArray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + T + t)
    if abs(a - 1) < 1e-6:
        return 0.5 * (_bracket(1 - 1e-6, b, r, x, z) + _bracket(1 + 1e-6, b, r, x, z))
    return _bracket(a, b, r, x, z)


def expected_purchases(
    params: BGNBDParams, t: npt.ArrayLike, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike
) -> FloatArray:
    """E[number of purchases in (T, T+t] | x, t_x, T] (paper eq. 10), per customer; ``t`` broadcasts."""
    xs, txs, Ts = _arrays(x, t_x, T)
    ts = np.asarray(t, dtype=np.float64)
    if np.any(ts < 0) or not np.all(np.isfinite(ts)):
        raise ValueError("t must be finite and >= 0")
    result: FloatArray = p_alive(params, xs, txs, Ts) * _expected_given_alive(params, ts, xs, Ts)
    return result


def expected_purchases_new(params: BGNBDParams, t: npt.ArrayLike) -> FloatArray:
    """E[X(t)]: expected repeat purchases in the first ``t`` periods of a newly acquired customer (eq. 7)."""
    ts = np.asarray(t, dtype=np.float64)
    if np.any(ts < 0) or not np.all(np.isfinite(ts)):
        raise ValueError("t must be finite and >= 0")
    # A new customer at time 0 is E[Y(t) | x=0, t_x=0, T=0]: P(alive)=1 and the same bracket.
    return _expected_given_alive(params, ts, np.zeros_like(ts), np.zeros_like(ts))


def _compress(
    x: FloatArray, t_x: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    rows = np.stack([x, t_x, T], axis=1)
    unique, counts = np.unique(rows, axis=0, return_counts=True)
    return unique[:, 0], unique[:, 1], unique[:, 2], counts.astype(np.float64)


def fit(
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    *,
    initial: BGNBDParams | None = None,
) -> BGNBDFit:
    """Maximum-likelihood BG/NBD parameters from per-customer ``(x, t_x, T)``.

    Raises ValueError when the data cannot identify the model (fewer than 2 customers or nobody with a
    repeat purchase). The reported log-likelihood is the sum over all customers (not the mean).
    """
    xs, txs, Ts = _arrays(x, t_x, T)
    xs, txs, Ts = xs.ravel(), txs.ravel(), Ts.ravel()
    if xs.size < 2:
        raise ValueError("need at least 2 customers to fit BG/NBD")
    if not np.any(xs > 0):
        raise ValueError("nobody made a repeat purchase: BG/NBD cannot be fitted")
    ux, utx, uT, weight = _compress(xs, txs, Ts)
    n = float(weight.sum())

    def objective(theta: FloatArray) -> float:
        r, alpha, a, b = np.exp(np.clip(theta, -30.0, 30.0))
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            ll = float(np.dot(weight, _log_likelihood(r, alpha, a, b, ux, utx, uT)))
        return -ll / n if math.isfinite(ll) else math.inf

    start = initial or BGNBDParams(1.0, max(float(np.mean(Ts)), 1e-3), 1.0, 1.0)
    theta0 = np.log([start.r, start.alpha, start.a, start.b])
    # Imported here: scipy.optimize takes 0.1 s to import, and only fitting needs it.
    from scipy import optimize

    first: Any = optimize.minimize(objective, theta0, method="L-BFGS-B", bounds=[(-20.0, 20.0)] * 4)
    polished: Any = optimize.minimize(
        objective, first.x, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20_000}
    )
    best = polished if polished.fun <= first.fun else first
    r, alpha, a, b = (float(v) for v in np.exp(best.x))
    return BGNBDFit(
        params=BGNBDParams(r, alpha, a, b),
        log_likelihood=-float(best.fun) * n,
        n_customers=int(n),
        converged=bool(first.success or polished.success),
        message=str(best.message),
        at_bounds=at_bounds(("r", "alpha", "a", "b"), best.x),
    )


def simulate(
    params: BGNBDParams, T: npt.ArrayLike, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Draw ``(x, t_x)`` for customers observed for ``T`` periods after their first purchase (continuous time)."""
    Ts = np.asarray(T, dtype=np.float64).ravel()
    n = Ts.size
    lam = rng.gamma(params.r, 1.0 / params.alpha, size=n)
    p = rng.beta(params.a, params.b, size=n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    for i in range(n):
        now, count = 0.0, 0
        while True:
            now += rng.exponential(1.0 / lam[i]) if lam[i] > 0 else math.inf
            if now > Ts[i]:
                break
            count += 1
            t_x[i] = now
            if rng.random() < p[i]:
                break
        x[i] = count
    return x, t_x
