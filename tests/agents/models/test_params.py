"""The parameters file: what `touchpoint fit` writes is what the worker reads; bad files fail in one line."""

from __future__ import annotations

import math
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import orjson
import pytest

from agents.config import ConfigError, config_from_mapping, load_config
from agents.domain.instants import day_number
from agents.domain.state import CustomerState
from agents.models.bgnbd import BGNBDFit, BGNBDParams, at_bounds
from agents.models.customer import CustomerModel
from agents.models.gamma_gamma import GammaGammaFit, GammaGammaParams
from agents.models.history import Transaction, summarise
from agents.models.params import (
    DEFAULT_PARAMS,
    ModelParams,
    ParamsError,
    best_customer_threshold,
    fit_problem,
    load_params,
    params_document,
)

pytestmark = pytest.mark.unit


def write(path: Path, document: object) -> Path:
    path.write_bytes(orjson.dumps(document))
    return path


def test_a_written_document_reads_back_as_the_same_fitted_parameters(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.json", params_document(DEFAULT_PARAMS, customers=10, bgnbd={"converged": True})
    )
    loaded = load_params(path)
    assert (loaded.purchases, loaded.spend, loaded.unit) == (
        DEFAULT_PARAMS.purchases,
        DEFAULT_PARAMS.spend,
        DEFAULT_PARAMS.unit,
    )
    assert loaded.best_customer_clv == DEFAULT_PARAMS.best_customer_clv
    assert loaded.fitted
    assert loaded.source == str(path)
    assert not DEFAULT_PARAMS.fitted


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d.pop("bgnbd"), "(top level): must contain ['bgnbd'] properties"),
        (lambda d: d["gamma_gamma"].update(q=0.9), "gamma_gamma.q: must be bigger than 1"),
        (lambda d: d.update(unit="months"), "unit: must be one of ['days', 'weeks']"),
        (lambda d: d["bgnbd"].update(r=-1), "bgnbd.r: must be bigger than or equal to 1e-05"),
        (lambda d: d["bgnbd"].update(alpha=1e300), "bgnbd.alpha: must be smaller than or equal to 100000"),
    ],
)
def test_an_invalid_document_is_a_one_line_error_naming_the_field(tmp_path: Path, change, problem) -> None:  # type: ignore[no-untyped-def]
    document = params_document(DEFAULT_PARAMS)
    change(document)
    path = write(tmp_path / "p.json", document)
    with pytest.raises(ParamsError) as raised:
        load_params(path)
    assert str(raised.value) == f"{path}: model parameters: {problem}"


def test_a_document_that_is_not_an_object_is_named_as_the_top_level(tmp_path: Path) -> None:
    path = write(tmp_path / "p.json", [1])
    with pytest.raises(ParamsError) as raised:
        load_params(path)
    assert str(raised.value) == f"{path}: model parameters: (top level): must be object"


def test_extra_fields_join_the_document_and_a_fits_diagnostics_join_their_models_section() -> None:
    document = params_document(
        DEFAULT_PARAMS,
        customers=2357,
        calibration_end="1997-09-30",
        bgnbd={"converged": True},
        notes={"by": "fit"},
    )
    assert document["bgnbd"] == {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "converged": True}
    assert document["gamma_gamma"] == {"p": 6.25, "q": 3.74, "gamma": 15.44}
    assert (document["customers"], document["calibration_end"], document["notes"]) == (
        2357,
        "1997-09-30",
        {"by": "fit"},
    )
    assert params_document(DEFAULT_PARAMS, unit="days")["unit"] == "days", "a plain value replaces"


def test_a_file_that_is_not_json_or_not_there_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ParamsError, match="not valid JSON"):
        load_params(tmp_path / "bad.json")
    with pytest.raises(ParamsError, match="cannot read"):
        load_params(tmp_path / "missing.json")


def test_the_rules_file_names_the_parameters_relative_to_itself(tmp_path: Path) -> None:
    write(tmp_path / "fitted.json", params_document(DEFAULT_PARAMS))
    rules = tmp_path / "rules.toml"
    rules.write_text('[model]\nparams = "fitted.json"\n')
    config = load_config(rules)
    assert config.model.params.source == str(tmp_path / "fitted.json")
    assert config.model.stages_from_model
    assert config.model.tiers_from_clv


def test_the_command_line_file_wins_over_the_rules_file(tmp_path: Path) -> None:
    other = write(tmp_path / "other.json", params_document(DEFAULT_PARAMS))
    rules = tmp_path / "rules.toml"
    rules.write_text('[model]\nparams = "missing.json"\n')
    assert load_config(rules, other).model.params.source == str(other)
    with pytest.raises(ConfigError, match=r"missing\.json"):
        load_config(rules)


def test_lapsed_below_may_not_exceed_at_risk_below() -> None:
    with pytest.raises(ConfigError, match=r"model\.lapsed_below"):
        config_from_mapping({"model": {"at_risk_below": 0.3, "lapsed_below": 0.4}})


# --- a degenerate fit is refused, with the reason --------------------------------------------------------


def churn_fit(**changes: object) -> BGNBDFit:
    fields: dict[str, object] = {
        "params": DEFAULT_PARAMS.purchases,
        "log_likelihood": -9582.4,
        "n_customers": 2357,
        "converged": True,
        "message": "CONVERGENCE: REL_REDUCTION_OF_F_<=_FACTR*EPSMCH",
    }
    return BGNBDFit(**{**fields, **changes})  # type: ignore[arg-type]


def spend_fit(**changes: object) -> GammaGammaFit:
    fields: dict[str, object] = {
        "params": DEFAULT_PARAMS.spend,
        "log_likelihood": -4055.9,
        "n_customers": 946,
        "converged": True,
        "message": "Optimization terminated successfully.",
    }
    return GammaGammaFit(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_sound_fit_has_no_problem() -> None:
    assert fit_problem(churn_fit(), spend_fit(), 151.28) is None
    assert fit_problem(churn_fit(), spend_fit(params=GammaGammaParams(6.0, 1.5, 15.0)), 151.28) is None


# --- the best-customer threshold is the worker's own CLV, at a quantile of the population -----------------

HISTORIES = {
    "anna": [("2025-01-02", 120.0), ("2025-02-10", 80.0), ("2025-04-01", 95.0), ("2025-06-20", 140.0)],
    "ben": [("2025-03-05", 15.0)],
    "carl": [("2025-01-20", 40.0), ("2025-01-27", 35.0)],
    "dora": [("2025-02-01", 500.0), ("2025-08-30", 450.0)],
    "emil": [("2025-05-05", 60.0), ("2025-05-06", 20.0), ("2025-05-07", 25.0)],
    "fay": [("2025-07-14", 300.0)],
    "gus": [("2025-01-05", 10.0), ("2025-03-05", 12.0), ("2025-05-05", 9.0), ("2025-07-05", 11.0)],
}
DAILY = ModelParams(BGNBDParams(0.9, 35.0, 1.4, 3.1), GammaGammaParams(4.0, 2.5, 30.0), "days", 500.0)


def state_of(history: list[tuple[str, float]]) -> CustomerState:
    state = CustomerState()
    for text, amount in history:
        day = day_number(date.fromisoformat(text))
        state.purchase_count += 1
        state.purchase_value += amount
        state.first_purchase_day = min(state.first_purchase_day or day, day)
        state.last_purchase = max(state.last_purchase, day * 86_400)
        state.purchase_days = sorted({*state.purchase_days, day})
    return state


@pytest.mark.parametrize("params", [DEFAULT_PARAMS, DAILY], ids=["weekly", "daily"])
@pytest.mark.parametrize("quantile", [0.5, 0.9])
def test_the_best_customer_threshold_is_a_quantile_of_the_clv_the_worker_gives_each_customer(
    params: ModelParams, quantile: float
) -> None:
    worker = CustomerModel(params, clv_periods=6, clv_period_days=30.0, discount_rate=0.02)
    values = [worker.clv(state_of(history)) for history in HISTORIES.values()]
    summary = summarise(
        [Transaction(c, date.fromisoformat(d), a) for c, history in HISTORIES.items() for d, a in history],
        calibration_end=date(2025, 9, 30),
        unit=params.unit,
    )
    threshold = best_customer_threshold(
        params.purchases,
        params.spend,
        summary,
        quantile=quantile,
        periods=6,
        period_days=30.0,
        discount_rate=0.02,
    )
    assert threshold == pytest.approx(float(np.quantile(values, quantile)), abs=0.01)
    assert threshold == round(threshold, 2), "to the cent"


@pytest.mark.parametrize(
    "spend",
    [
        pytest.param(GammaGammaParams(1e300, 1.5, 1e300), id="overflowing"),
        # No finite mean spend: valuing customers by it used to raise from inside gamma_gamma.
        pytest.param(GammaGammaParams(6.0, 0.9, 15.0), id="q below 1"),
    ],
)
def test_a_spend_model_that_values_nobody_finitely_gives_a_nan_threshold_without_a_warning(
    spend: GammaGammaParams,
) -> None:
    summary = summarise(
        [Transaction(c, date.fromisoformat(d), a) for c, history in HISTORIES.items() for d, a in history],
        calibration_end=date(2025, 9, 30),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        threshold = best_customer_threshold(
            DEFAULT_PARAMS.purchases,
            spend,
            summary,
            quantile=0.9,
            periods=12,
            period_days=30.0,
            discount_rate=0.01,
        )
    assert math.isnan(threshold)


@pytest.mark.parametrize(
    ("churn", "spend", "threshold", "problem"),
    [
        pytest.param(
            churn_fit(converged=False, message="ABNORMAL_TERMINATION_IN_LNSRCH."),
            spend_fit(),
            151.28,
            "BG/NBD did not converge (ABNORMAL_TERMINATION_IN_LNSRCH)",
            id="no convergence",
        ),
        pytest.param(
            churn_fit(params=BGNBDParams(0.3, 0.7, 4.558e6, 4.419e7), at_bounds=("a", "b")),
            spend_fit(),
            151.28,
            "BG/NBD a=4.558e+06, b=4.419e+07 ran to the edge of the search (1e-05 to 1e+05): "
            "the history cannot pin them down",
            id="parameters at the bounds",
        ),
        pytest.param(
            churn_fit(),
            spend_fit(params=GammaGammaParams(6.0, 5.7e5, 15.0), at_bounds=("q",)),
            151.28,
            "Gamma-Gamma q=5.7e+05 ran to the edge of the search (1e-05 to 1e+05): the history cannot pin it down",
            id="one parameter at a bound",
        ),
        pytest.param(
            churn_fit(),
            spend_fit(params=GammaGammaParams(6.0, 0.9, 15.0)),
            151.28,
            "Gamma-Gamma q=0.900 <= 1 means no finite mean spend",
            id="no finite mean spend",
        ),
        pytest.param(
            churn_fit(),
            spend_fit(params=GammaGammaParams(6.0, 1.0, 15.0)),
            151.28,
            "Gamma-Gamma q=1.000 <= 1 means no finite mean spend",
            id="q exactly 1",
        ),
        pytest.param(
            churn_fit(log_likelihood=math.nan),
            spend_fit(),
            151.28,
            "BG/NBD log-likelihood is nan",
            id="non-finite log-likelihood",
        ),
        pytest.param(
            churn_fit(),
            spend_fit(),
            math.nan,
            "the best-customer CLV threshold is not a finite number",
            id="non-finite threshold",
        ),
        pytest.param(
            churn_fit(converged=False, message="failed."),
            spend_fit(log_likelihood=-math.inf),
            math.inf,
            "BG/NBD did not converge (failed); Gamma-Gamma log-likelihood is -inf; "
            "the best-customer CLV threshold is not a finite number",
            id="several problems in one line",
        ),
    ],
)
def test_a_degenerate_fit_is_refused_with_every_reason_in_one_line(
    churn: BGNBDFit, spend: GammaGammaFit, threshold: float, problem: str
) -> None:
    assert fit_problem(churn, spend, threshold) == problem


@pytest.mark.parametrize(
    ("theta", "outside"),
    [
        pytest.param([0.0, 11.5, -11.5], (), id="inside the range"),
        pytest.param([0.0, math.log(1e5), math.log(1e-5)], ("b", "c"), id="on its edges"),
        pytest.param([math.nan, 20.0, -20.0], ("a", "b", "c"), id="not finite or beyond"),
    ],
)
def test_at_bounds_names_the_parameters_outside_the_search_range(
    theta: list[float], outside: tuple[str, ...]
) -> None:
    assert at_bounds(("a", "b", "c"), theta) == outside


def test_a_byte_order_mark_before_the_json_is_not_part_of_it(tmp_path: Path) -> None:
    path = write(tmp_path / "p.json", params_document(DEFAULT_PARAMS, customers=10))
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_params(path).spend == DEFAULT_PARAMS.spend


def test_parameters_saved_as_utf16_are_refused_saying_so(tmp_path: Path) -> None:
    path = write(tmp_path / "p.json", params_document(DEFAULT_PARAMS, customers=10))
    path.write_bytes(path.read_bytes().decode().encode("utf-16"))
    with pytest.raises(
        ParamsError, match=r"p\.json: model parameters are UTF-16 text, not UTF-8: save them as UTF-8"
    ):
        load_params(path)
