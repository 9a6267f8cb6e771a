"""The registry: which detectors run, built from the rules file, and how a plug-in is checked before it runs."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from agents.config import default_config
from agents.detectors import registry
from agents.detectors.base import Context, EventOnly, Finding
from agents.detectors.churn_risk import Models
from agents.detectors.registry import (
    DETECTORS,
    Plugin,
    PluginError,
    all_detectors,
    build_detectors,
    check_plugins,
    config_schema,
    plugin_class,
)
from agents.models.customer import CustomerModel
from agents.models.params import DEFAULT_PARAMS

pytestmark = pytest.mark.unit

HERE = __name__
CONFIG = default_config()
MODELS = Models(CustomerModel(DEFAULT_PARAMS), CONFIG.lifecycle, CONFIG.detectors)


class RefundSpree(EventOnly):
    """Several refunds in a short time."""

    type: ClassVar[str] = "refund_spree"
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"refunds": {"type": "integer", "minimum": 2, "default": 3}},
    }

    def __init__(self, options: Any) -> None:
        self.options = options

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        return memory, []


class NoSchemaAttribute(EventOnly):
    type = "bare"

    def __init__(self, options: Any) -> None:
        self.options = options

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        return memory, []


class NoSchema(RefundSpree):
    type: ClassVar[str] = "no_schema"
    config_schema: ClassVar[dict[str, Any]] = {}


class WrongType(RefundSpree):
    type: ClassVar[str] = "something_else"


class NoObserve:
    type = "no_observe"

    def due(self, memory: Any) -> None:
        return None


class ArraySchema(RefundSpree):
    type: ClassVar[str] = "array_schema"
    config_schema: ClassVar[dict[str, Any]] = {"type": "array"}


class NotAMapping(RefundSpree):
    type: ClassVar[str] = "not_a_mapping"
    config_schema: ClassVar[Any] = ["refunds"]


def plugin(kind: str, cls: str, distribution: str = "example 1.0") -> Plugin:
    return Plugin(kind, f"{HERE}:{cls}", distribution)


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


def test_with_no_plugin_installed_every_detector_is_a_built_in() -> None:
    assert registry.plugins() == ()
    assert all_detectors() == DETECTORS
    assert check_plugins() == []


def test_a_plugin_that_keeps_the_contract_is_loaded() -> None:
    assert plugin_class(plugin("refund_spree", "RefundSpree")) is RefundSpree


def test_a_plugins_section_gets_enabled_and_keeps_its_own_keys_and_defaults() -> None:
    schema = config_schema(plugin("refund_spree", "RefundSpree"))
    assert schema == {
        "additionalProperties": False,
        "type": "object",
        "default": {},
        "properties": {
            "refunds": {"type": "integer", "minimum": 2, "default": 3},
            "enabled": {"description": "Run this detector.", "type": "boolean", "default": True},
        },
    }
    assert config_schema(plugin("bare", "NoSchemaAttribute"))["properties"] == {
        "enabled": {"description": "Run this detector.", "type": "boolean", "default": True}
    }
    assert config_schema(plugin("no_schema", "NoSchema"))["properties"] == {
        "enabled": {"description": "Run this detector.", "type": "boolean", "default": True}
    }


@pytest.mark.parametrize(
    ("kind", "cls", "problem"),
    [
        pytest.param(
            "refund-spree",
            "RefundSpree",
            "the entry point name must be an alert type: a-z and _, e.g. refund_spree",
            id="not an alert type",
        ),
        pytest.param("Refunds", "RefundSpree", "must be an alert type", id="capitals"),
        pytest.param(
            "long_wait", "RefundSpree", "'long_wait' is taken by Touchpoint itself", id="a built-in"
        ),
        pytest.param(
            "after_hours_unanswered",
            "RefundSpree",
            "'after_hours_unanswered' is taken by Touchpoint itself",
            id="a first-response alert type",
        ),
        pytest.param("inhibitions", "RefundSpree", "is taken by Touchpoint itself", id="a rules-file key"),
        pytest.param(
            "missing", "Missing", f"cannot load {HERE}:Missing: AttributeError:", id="no such class"
        ),
        pytest.param(
            "something_else",
            "RefundSpree",
            "the class's `type` is 'refund_spree', not 'something_else'",
            id="type",
        ),
        pytest.param(
            "no_observe", "NoObserve", "the class has no observe, fire (subclass EventOnly", id="methods"
        ),
        pytest.param(
            "array_schema",
            "ArraySchema",
            "`config_schema` must be a JSON Schema of type object",
            id="array schema",
        ),
        pytest.param(
            "not_a_mapping",
            "NotAMapping",
            "`config_schema` must be a JSON Schema of type object",
            id="a list",
        ),
    ],
)
def test_a_plugin_that_breaks_the_contract_is_refused_naming_it_and_why(
    kind: str, cls: str, problem: str
) -> None:
    with pytest.raises(PluginError) as caught:
        plugin_class(plugin(kind, cls))
    message = str(caught.value)
    assert message.startswith(f"detector plug-in {kind!r} ({HERE}:{cls}, example 1.0): ")
    assert problem in message


def test_a_plugin_without_a_known_distribution_is_named_by_its_target() -> None:
    with pytest.raises(PluginError) as caught:
        plugin_class(Plugin("long_wait", f"{HERE}:RefundSpree", ""))
    assert str(caught.value).startswith(f"detector plug-in 'long_wait' ({HERE}:RefundSpree): ")


def test_installed_plugins_are_read_from_the_entry_point_group_sorted_by_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Entry:
        def __init__(self, name: str, value: str, dist: Any) -> None:
            self.name, self.value, self.dist = name, value, dist

    class Dist:
        name, version = "touchpoint-example", "0.2.0"

    seen: list[str] = []

    def entry_points(*, group: str) -> list[Entry]:
        seen.append(group)
        return [Entry("zeta", f"{HERE}:RefundSpree", Dist()), Entry("alpha", f"{HERE}:NoSchema", None)]

    monkeypatch.setattr(registry, "entry_points", entry_points)
    registry.plugins.cache_clear()
    try:
        found = registry.plugins()
        assert seen == ["touchpoint.detectors"]
        assert found == (
            Plugin("alpha", f"{HERE}:NoSchema", ""),
            Plugin("zeta", f"{HERE}:RefundSpree", "touchpoint-example 0.2.0"),
        )
        assert list(all_detectors()) == [*DETECTORS, "alpha", "zeta"]
        assert registry.plugin_types() == ("alpha", "zeta")
        assert check_plugins() == [
            f"detector plug-in 'alpha' ({HERE}:NoSchema): the class's `type` is 'no_schema', not 'alpha'",
            f"detector plug-in 'zeta' ({HERE}:RefundSpree, touchpoint-example 0.2.0): the class's `type` is "
            "'refund_spree', not 'zeta'",
        ]
        with pytest.raises(PluginError, match="not 'alpha'"):
            build_detectors({}, {"alpha": f"{HERE}:NoSchema"})
    finally:
        registry.plugins.cache_clear()


def test_an_installed_plugin_is_built_after_the_built_ins_once_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(registry, "plugins", lambda: (plugin("refund_spree", "RefundSpree"),))
    built = build_detectors({"refund_spree": {"refunds": 4}}, models=MODELS)
    assert [detector.type for detector in built] == [*DETECTORS, "refund_spree"]
    assert built[-1].options == {"refunds": 4}  # type: ignore[attr-defined]
    assert build_detectors({"refund_spree": {"enabled": False}})[-1].type == "advocate_opportunity"
