"""The parameters file: what `touchpoint fit` writes is what the worker reads; bad files fail in one line."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from agents.config import ConfigError, config_from_mapping, load_config
from agents.models.params import DEFAULT_PARAMS, ParamsError, load_params, params_document

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
