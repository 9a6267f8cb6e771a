"""Fitted model parameters: the file ``touchpoint fit`` writes and the worker reads (schemas/model_params.v1.json).

Before any fit the worker uses :data:`DEFAULT_PARAMS`, the published CDNOW estimates
(Fader, Hardie & Lee 2005, weekly units). They describe a 1990s CD retailer, not your
business: they keep P(alive), CLV and the churn alerts meaningful in shape until you fit
your own, but stages and value tiers only follow the model once a fitted file is given
(``model.stages`` / ``model.value_tiers_from`` = ``auto``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import orjson

import schemas
from agents.lines import not_utf8
from agents.models import gamma_gamma
from agents.models.bgnbd import SEARCH_RANGE, BGNBDFit, BGNBDParams
from agents.models.gamma_gamma import GammaGammaFit, GammaGammaParams
from agents.models.history import Summary

__all__ = [
    "DAYS_PER_UNIT",
    "DEFAULT_PARAMS",
    "ModelParams",
    "ParamsError",
    "best_customer_threshold",
    "fit_problem",
    "load_params",
    "params_document",
]

Unit = Literal["days", "weeks"]
DAYS_PER_UNIT: Final[dict[str, float]] = {"days": 1.0, "weeks": 7.0}


class ParamsError(ValueError):
    """The parameters file cannot be used: names the file and what is wrong, in one line."""


@dataclass(frozen=True, slots=True)
class ModelParams:
    """Population parameters of both models, in one time unit, and where they came from."""

    purchases: BGNBDParams
    spend: GammaGammaParams
    unit: Unit
    #: CLV at or above which a customer is one of the best (the fitted population's top decile).
    best_customer_clv: float
    #: The file read, or ``<defaults>``.
    source: str = "<defaults>"
    #: True when read from a fit of the user's own history.
    fitted: bool = False

    @property
    def days_per_unit(self) -> float:
        return DAYS_PER_UNIT[self.unit]


#: The published CDNOW estimates (BG/NBD: Fader, Hardie & Lee 2005, "Counting your customers the easy way";
#: Gamma-Gamma: "RFM and CLV"), weekly. The best-customer threshold is the top decile of CLV (12 months,
#: 1 % a month) at the last purchase over the 2,357 CDNOW sample customers with these parameters.
DEFAULT_PARAMS: Final = ModelParams(
    purchases=BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426),
    spend=GammaGammaParams(p=6.25, q=3.74, gamma=15.44),
    unit="weeks",
    best_customer_clv=151.32,
)


def params_document(params: ModelParams, **extra: Any) -> dict[str, Any]:
    """The JSON document for *params* (schemas/model_params.v1.json), with *extra* fields (fit diagnostics)."""
    p, g = params.purchases, params.spend
    document: dict[str, Any] = {
        "schema_version": 1,
        "unit": params.unit,
        "bgnbd": {"r": p.r, "alpha": p.alpha, "a": p.a, "b": p.b},
        "gamma_gamma": {"p": g.p, "q": g.q, "gamma": g.gamma},
        "best_customer_clv": params.best_customer_clv,
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(document.get(key), dict):
            document[key] = {**document[key], **value}
        else:
            document[key] = value
    return document


def load_params(path: Path) -> ModelParams:
    """Read and validate a parameters file written by ``touchpoint fit``."""
    try:
        data = path.read_bytes()
        # A byte-order mark before the JSON, as some editors write, is not part of it (RFC 8259 lets a reader
        # ignore it).
        document = orjson.loads(data.removeprefix(b"\xef\xbb\xbf"))
    except OSError as exc:
        raise ParamsError(f"{path}: cannot read model parameters: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        encoding = not_utf8(data)
        if encoding is not None:
            raise ParamsError(
                f"{path}: model parameters are {encoding} text, not UTF-8: save them as UTF-8"
            ) from None
        raise ParamsError(f"{path}: model parameters are not valid JSON: {exc}") from None
    try:
        schemas.validator("model_params")(document)
    except schemas.ValidationError as exc:
        field = str(exc.name).removeprefix("data").lstrip(".") or "(top level)"
        message = str(exc.message).removeprefix(str(exc.name)).strip()
        raise ParamsError(f"{path}: model parameters: {field}: {message}") from None
    b, g = document["bgnbd"], document["gamma_gamma"]
    return ModelParams(
        purchases=BGNBDParams(r=b["r"], alpha=b["alpha"], a=b["a"], b=b["b"]),
        spend=GammaGammaParams(p=g["p"], q=g["q"], gamma=g["gamma"]),
        unit=document["unit"],
        best_customer_clv=document["best_customer_clv"],
        source=str(path),
        fitted=True,
    )


def best_customer_threshold(
    purchases: BGNBDParams,
    spend: GammaGammaParams,
    summary: Summary,
    *,
    quantile: float,
    periods: int,
    period_days: float,
    discount_rate: float,
) -> float:
    """The CLV at *quantile* of the summarised population, each valued as the worker values it.

    As in :meth:`agents.models.customer.CustomerModel.clv`: at the last purchase (``T = t_x``),
    with the mean spend over all purchase days. NaN when a degenerate fit gives no finite CLV
    (fit_problem says so).
    """
    if spend.q <= 1:
        return math.nan  # no finite mean spend to value a customer by: fit_problem says so
    # A degenerate fit can overflow here; fit_problem reports it, numpy's warnings would only repeat it.
    with np.errstate(all="ignore"):
        values = gamma_gamma.clv(
            purchases,
            spend,
            summary.x,
            summary.t_x,
            summary.t_x,
            summary.spend_total / (summary.x + 1),
            periods=periods,
            discount_rate=discount_rate,
            period_length=period_days / DAYS_PER_UNIT[summary.unit],
        )
        threshold = float(np.quantile(values, quantile))
    return round(threshold, 2) if math.isfinite(threshold) else math.nan


def fit_problem(churn: BGNBDFit, spend: GammaGammaFit, best_customer_clv: float) -> str | None:
    """Why a fit must not be used, in one line, or None when it is sound.

    Degenerate: an optimiser that did not converge, a parameter run off to the edge of the search
    (the data cannot pin it down), a spend model with no finite mean (q <= 1), or a value that is not
    a finite number. The worker would refuse such a file, or accept nonsense from it.
    """
    problems = []
    for model, fitted in (("BG/NBD", churn), ("Gamma-Gamma", spend)):
        if not fitted.converged:
            problems.append(f"{model} did not converge ({fitted.message.strip().rstrip('.')})")
        if fitted.at_bounds:
            values = ", ".join(f"{name}={getattr(fitted.params, name):.4g}" for name in fitted.at_bounds)
            them = "it" if len(fitted.at_bounds) == 1 else "them"
            problems.append(
                f"{model} {values} ran to the edge of the search ({SEARCH_RANGE[0]:.0e} to "
                f"{SEARCH_RANGE[1]:.0e}): the history cannot pin {them} down"
            )
        if not math.isfinite(fitted.log_likelihood):
            problems.append(f"{model} log-likelihood is {fitted.log_likelihood}")
    if spend.params.q <= 1:
        problems.append(f"Gamma-Gamma q={spend.params.q:.3f} <= 1 means no finite mean spend")
    if not math.isfinite(best_customer_clv):
        problems.append("the best-customer CLV threshold is not a finite number")
    return "; ".join(problems) or None
