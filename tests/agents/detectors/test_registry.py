"""The registry: which detectors run, built from the rules file."""

from __future__ import annotations

import pytest

from agents import catalogue
from agents.catalogue import DETECTORS
from agents.config import default_config
from agents.detectors import registry
from agents.detectors.churn_risk import Models
from agents.detectors.registry import build_detectors
from agents.models.customer import CustomerModel
from agents.models.params import DEFAULT_PARAMS
from tests.agents.example_detectors import HERE, RefundSpree, plugin

pytestmark = pytest.mark.unit

CONFIG = default_config()
MODELS = Models(CustomerModel(DEFAULT_PARAMS), CONFIG.lifecycle, CONFIG.detectors)


def test_the_built_in_detectors_run_in_their_listed_order() -> None:
    built = build_detectors(default_config().detectors, models=MODELS)
    assert [detector.type for detector in built] == list(DETECTORS)


def test_a_detector_switched_off_in_the_rules_file_is_not_built() -> None:
    section = {**default_config().detectors, "long_wait": {"enabled": False}}
    built = [detector.type for detector in build_detectors(section, models=MODELS)]
    assert "long_wait" not in built
    assert len(built) == len(DETECTORS) - 1


def test_detectors_that_use_the_models_are_left_out_without_models() -> None:
    built = [detector.type for detector in build_detectors(default_config().detectors)]
    assert built == [kind for kind in DETECTORS if kind not in ("churn_risk", "best_customer_at_risk")]


def test_a_detector_gets_its_own_section_of_the_rules_file() -> None:
    [built] = build_detectors({"refund_spree": {"refunds": 5}}, {"refund_spree": f"{HERE}:RefundSpree"})
    assert isinstance(built, RefundSpree)
    assert built.options == {"refunds": 5}
    [defaulted] = build_detectors({}, {"refund_spree": f"{HERE}:RefundSpree"})
    assert isinstance(defaulted, RefundSpree)
    assert defaulted.options == {}


def test_an_installed_plugin_is_built_after_the_built_ins_once_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    installed = (plugin("refund_spree", "RefundSpree"),)
    monkeypatch.setattr(catalogue, "plugins", lambda: installed)
    monkeypatch.setattr(registry, "plugins", lambda: installed)
    built = build_detectors({"refund_spree": {"refunds": 4}}, models=MODELS)
    assert [detector.type for detector in built] == [*DETECTORS, "refund_spree"]
    assert built[-1].options == {"refunds": 4}  # type: ignore[attr-defined]
    assert build_detectors({"refund_spree": {"enabled": False}})[-1].type == "advocate_opportunity"
