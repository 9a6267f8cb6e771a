"""The parameters file: what `touchpoint fit` writes is what the worker reads; bad files fail in one line."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest

from agents.config import ConfigError, config_from_mapping, load_config
from agents.models.bgnbd import BGNBDFit, BGNBDParams, at_bounds
from agents.models.gamma_gamma import GammaGammaFit, GammaGammaParams
from agents.models.params import DEFAULT_PARAMS, ParamsError, fit_problem, load_params, params_document

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
    ("change", "message"),
    [
        (lambda d: d.pop("bgnbd"), "must contain"),
        (lambda d: d["gamma_gamma"].update(q=0.9), "gamma_gamma.q"),
        (lambda d: d.update(unit="months"), "unit"),
        (lambda d: d["bgnbd"].update(r=-1), "bgnbd.r"),
    ],
)
def test_an_invalid_document_is_a_one_line_error_naming_the_field(tmp_path: Path, change, message) -> None:  # type: ignore[no-untyped-def]
    document = params_document(DEFAULT_PARAMS)
    change(document)
    with pytest.raises(ParamsError, match=message) as raised:
        load_params(write(tmp_path / "p.json", document))
    assert "\n" not in str(raised.value)
    assert str(tmp_path / "p.json") in str(raised.value)


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
