"""The job of ``touchpoint fit``: both models fitted to a purchase history, checked, and written.

A fit is refused, with a one-line reason, when it went non-finite, did not converge to usable
parameters or ran to the edge of the search; the file is written only when the worker will read
it (validated against schemas/model_params.v1.json first, then replaced atomically).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson

import schemas
from agents.models import bgnbd, gamma_gamma
from agents.models.history import Summary
from agents.models.params import ModelParams, best_customer_threshold, fit_problem, params_document

__all__ = ["FitError", "Fitted", "fit_models", "write_params"]


class FitError(ValueError):
    """No parameters can be written: says why in one line."""


@dataclass(frozen=True)
class Fitted:
    """Both fits, the best-customer threshold, and the parameters document to write."""

    churn: bgnbd.BGNBDFit
    spend: gamma_gamma.GammaGammaFit
    #: CLV at model.best_customer_quantile of the fitted customers.
    threshold: float
    document: dict[str, Any]


def fit_models(
    summary: Summary,
    calibration_end: date,
    *,
    best_customer_quantile: float,
    clv_periods: int,
    clv_period_days: float,
    discount_rate: float,
) -> Fitted:
    """Fit BG/NBD and Gamma-Gamma to *summary*; FitError when the result cannot be used.

    The keyword arguments are the rules file's model section (the CLV horizon and the quantile
    of fitted customers whose CLV makes the best-customer threshold).
    """
    try:
        churn = bgnbd.fit(summary.x, summary.t_x, summary.T)
        spend = gamma_gamma.fit(summary.x, summary.m_x)
    except ValueError as exc:  # a fit that went non-finite cannot even be held as parameters
        raise FitError(f"no parameters written: the fit failed: {exc}") from None
    quantile = best_customer_quantile
    threshold = best_customer_threshold(
        churn.params,
        spend.params,
        summary,
        quantile=quantile,
        periods=clv_periods,
        period_days=clv_period_days,
        discount_rate=discount_rate,
    )
    problem = fit_problem(churn, spend, threshold)
    if problem is not None:
        raise FitError(
            f"no parameters written: degenerate fit on {len(summary):,} customers "
            f"({summary.repeat_buyers:,} repeat buyers): {problem}"
        )
    fitted = ModelParams(churn.params, spend.params, summary.unit, threshold)
    document = params_document(
        fitted,
        calibration_end=calibration_end.isoformat(),
        customers=len(summary),
        repeat_buyers=summary.repeat_buyers,
        best_customer_quantile=quantile,
        bgnbd={"log_likelihood": churn.log_likelihood, "converged": churn.converged},
        gamma_gamma={
            "log_likelihood": spend.log_likelihood,
            "customers": spend.n_customers,
            "converged": spend.converged,
        },
    )
    return Fitted(churn, spend, threshold, document)


def write_params(path: Path, document: dict[str, Any]) -> None:
    """Write *document* as the worker will read it, or not at all: checked first, then replaced atomically."""
    try:
        schemas.validator("model_params")(orjson.loads(orjson.dumps(document)))
    except schemas.ValidationError as exc:
        raise FitError(f"no parameters written: the worker would refuse them: {exc.message}") from None
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise FitError(f"cannot write {path}: {exc.strerror}") from None
