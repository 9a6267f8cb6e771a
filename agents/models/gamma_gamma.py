"""Gamma-Gamma spend model and a discounted customer lifetime value.

Fader, Hardie & Lee (2005), "RFM and CLV: Using iso-value curves for customer base analysis", Journal
of Marketing Research 42(4), and Fader & Hardie's note "The Gamma-Gamma model of monetary value".
A customer's transaction values are Gamma(p, ν) around her mean ``p/ν``; across customers
ν ~ Gamma(q, γ). Only customers with ``x > 0`` repeat transactions carry information; ``m_x`` is the
mean value of those ``x`` transactions (CDNOW convention: the first purchase is excluded, see
:mod:`agents.models.history`). The model assumes spend is independent of purchase frequency.

* Likelihood of ``m_x`` given ``x`` (note, eq. 3 after the change of variables to the mean):
  ``ln f = lnΓ(px+q) - lnΓ(px) - lnΓ(q) + q ln γ + (px-1) ln m_x + px ln x - (px+q) ln(γ + x m_x)``.
* E[M | p, q, γ, m_x, x] = ``p (γ + x m_x) / (px + q - 1)`` — a weighted average of the population
  mean ``pγ/(q-1)`` and the customer's own ``m_x`` (needs ``q > 1``; for ``x == 0`` it is the
  population mean).

CLV (:func:`clv`) is the simple discrete form, in the BG/NBD model's time unit::

    CLV = Σ_{k=1..H} (E[Y(k·Δ)] - E[Y((k-1)·Δ)]) · E[M] / (1 + d)^k

with ``E[Y(t)]`` the BG/NBD conditional expected number of purchases in the next ``t`` time units,
``Δ`` the length of one discounting period in time units (e.g. 4.345 weeks per month), ``H`` the
number of periods and ``d`` the discount rate per period. Purchases within a period are discounted
as if at its end. No margin is applied: multiply by your margin to get profit rather than revenue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from agents.models import bgnbd

__all__ = [
    "GammaGammaFit",
    "GammaGammaParams",
    "clv",
    "expected_spend",
    "fit",
    "log_likelihood",
    "simulate",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class GammaGammaParams:
    """Transaction values ~ Gamma(p, ν) per customer; ν ~ Gamma(q, γ) across customers."""

    p: float
    q: float
    gamma: float

    def __post_init__(self) -> None:
        for name in ("p", "q", "gamma"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"Gamma-Gamma parameter {name} must be finite and > 0, got {value!r}")

    @property
    def population_mean(self) -> float:
        """E[M] for a customer we know nothing about: pγ/(q-1); infinite when q <= 1."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else math.inf


@dataclass(frozen=True, slots=True)
class GammaGammaFit:
    """A maximum-likelihood fit on the ``n_customers`` customers with ``x > 0`` and ``m_x > 0``."""

    params: GammaGammaParams
    log_likelihood: float
    n_customers: int
    converged: bool
    message: str
    #: Parameters the optimiser pushed outside bgnbd.SEARCH_RANGE (γ relative to the mean spend).
    at_bounds: tuple[str, ...] = ()


def _arrays(x: npt.ArrayLike, m_x: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    xs, ms = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(m_x, dtype=np.float64))
    if not np.all(np.isfinite(xs)) or np.any(xs < 0):
        raise ValueError("x must be finite and >= 0")
    return xs, ms


def _log_likelihood(p: float, q: float, gamma: float, x: FloatArray, m: FloatArray) -> FloatArray:
    px = p * x
    result: FloatArray = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + x * m)
    )
    return result


def log_likelihood(params: GammaGammaParams, x: npt.ArrayLike, m_x: npt.ArrayLike) -> FloatArray:
    """Per-customer log density of the observed mean spend ``m_x`` over ``x > 0`` transactions."""
    xs, ms = _arrays(x, m_x)
    if np.any(xs <= 0) or np.any(~(ms > 0)):
        raise ValueError("the Gamma-Gamma likelihood needs x > 0 and m_x > 0")
    return _log_likelihood(params.p, params.q, params.gamma, xs, ms)


def expected_spend(params: GammaGammaParams, x: npt.ArrayLike, m_x: npt.ArrayLike) -> FloatArray:
    """E[average transaction value | x, m_x]; the population mean where ``x == 0`` (m_x ignored there)."""
    xs, ms = _arrays(x, m_x)
    if params.q <= 1:
        raise ValueError(f"expected spend needs q > 1 (the population mean is infinite), got q={params.q}")
    ms = np.where(xs > 0, ms, 0.0)
    if np.any(~np.isfinite(ms)) or np.any(ms < 0):
        raise ValueError("m_x must be finite and >= 0 where x > 0")
    p, q, gamma = params.p, params.q, params.gamma
    result: FloatArray = p * (gamma + xs * ms) / (p * xs + q - 1)
    return result


def fit(x: npt.ArrayLike, m_x: npt.ArrayLike, *, initial: GammaGammaParams | None = None) -> GammaGammaFit:
    """Maximum-likelihood ``(p, q, γ)`` from per-customer ``(x, m_x)``.

    Customers with ``x == 0`` or ``m_x <= 0`` (or NaN) carry no spend information and are left out;
    ValueError when fewer than 2 remain.
    """
    xs, ms = _arrays(x, m_x)
    xs, ms = xs.ravel(), ms.ravel()
    keep = (xs > 0) & (ms > 0) & np.isfinite(ms)
    xs, ms = xs[keep], ms[keep]
    if xs.size < 2:
        raise ValueError(
            "need at least 2 customers with repeat purchases of positive value to fit Gamma-Gamma"
        )
    n = float(xs.size)
    # Scale spend to mean 1 while optimising: γ is in currency units and would otherwise dominate.
    scale = float(np.mean(ms))
    mscaled = ms / scale

    def objective(theta: FloatArray) -> float:
        p, q, gamma = np.exp(np.clip(theta, -30.0, 30.0))
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            ll = float(np.sum(_log_likelihood(p, q, gamma, xs, mscaled)))
        return -ll / n if math.isfinite(ll) else math.inf

    start = initial or GammaGammaParams(1.0, 1.0, scale)
    theta0 = np.log([start.p, start.q, start.gamma / scale])
    # Imported here: scipy.optimize takes 0.1 s to import, and only fitting needs it.
    from scipy import optimize

    first: Any = optimize.minimize(objective, theta0, method="L-BFGS-B", bounds=[(-20.0, 20.0)] * 3)
    polished: Any = optimize.minimize(
        objective, first.x, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20_000}
    )
    best = polished if polished.fun <= first.fun else first
    p, q, gamma_scaled = (float(v) for v in np.exp(best.x))
    # The density of m_x picks up a Jacobian 1/scale per customer when we undo the scaling.
    ll = -float(best.fun) * n - n * math.log(scale)
    return GammaGammaFit(
        params=GammaGammaParams(p, q, gamma_scaled * scale),
        log_likelihood=ll,
        n_customers=int(n),
        converged=bool(first.success or polished.success),
        message=str(best.message),
        at_bounds=bgnbd.at_bounds(("p", "q", "gamma"), best.x),
    )


def clv(
    purchases: bgnbd.BGNBDParams,
    spend: GammaGammaParams,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    m_x: npt.ArrayLike,
    *,
    periods: int,
    discount_rate: float,
    period_length: float = 1.0,
) -> FloatArray:
    """Discounted expected revenue over ``periods`` periods of ``period_length`` time units (module doc)."""
    if periods < 0:
        raise ValueError("periods must be >= 0")
    if not (math.isfinite(discount_rate) and discount_rate > -1):
        raise ValueError("discount_rate must be finite and > -1")
    if not (math.isfinite(period_length) and period_length > 0):
        raise ValueError("period_length must be finite and > 0")
    value = expected_spend(spend, x, m_x)
    total = np.zeros_like(value)
    previous = np.zeros_like(value)
    for k in range(1, periods + 1):
        cumulative = bgnbd.expected_purchases(purchases, k * period_length, x, t_x, T)
        total = total + (cumulative - previous) * value / (1 + discount_rate) ** k
        previous = cumulative
    return total


def simulate(params: GammaGammaParams, x: npt.ArrayLike, rng: np.random.Generator) -> FloatArray:
    """Draw ``m_x``, the mean of ``x`` transaction values, per customer (NaN where ``x == 0``)."""
    xs = np.asarray(x, dtype=np.float64).ravel()
    nu = rng.gamma(params.q, 1.0 / params.gamma, size=xs.size)
    # The sum of x Gamma(p, ν) values is Gamma(p·x, ν).
    total = rng.gamma(np.where(xs > 0, params.p * xs, 1.0), 1.0 / nu)
    result: FloatArray = np.where(xs > 0, total / np.where(xs > 0, xs, 1.0), np.nan)
    return result
