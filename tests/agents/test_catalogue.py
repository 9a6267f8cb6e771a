"""Which detectors exist: the built-ins, the installed plug-ins, and how a plug-in is checked before it runs."""

from __future__ import annotations

from typing import Any

import pytest

from agents import catalogue
from agents.catalogue import (
    DETECTORS,
    Plugin,
    PluginError,
    all_detectors,
    check_plugins,
    config_schema,
    plugin_class,
)
from agents.detectors.registry import build_detectors
from tests.agents.example_detectors import HERE, RefundSpree, plugin

pytestmark = pytest.mark.unit


def test_with_no_plugin_installed_every_detector_is_a_built_in() -> None:
    assert catalogue.plugins() == ()
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

    monkeypatch.setattr(catalogue, "entry_points", entry_points)
    catalogue.plugins.cache_clear()
    try:
        found = catalogue.plugins()
        assert seen == ["touchpoint.detectors"]
        assert found == (
            Plugin("alpha", f"{HERE}:NoSchema", ""),
            Plugin("zeta", f"{HERE}:RefundSpree", "touchpoint-example 0.2.0"),
        )
        assert list(all_detectors()) == [*DETECTORS, "alpha", "zeta"]
        assert catalogue.plugin_types() == ("alpha", "zeta")
        assert check_plugins() == [
            f"detector plug-in 'alpha' ({HERE}:NoSchema): the class's `type` is 'no_schema', not 'alpha'",
            f"detector plug-in 'zeta' ({HERE}:RefundSpree, touchpoint-example 0.2.0): the class's `type` is "
            "'refund_spree', not 'zeta'",
        ]
        with pytest.raises(PluginError, match="not 'alpha'"):
            build_detectors({}, {"alpha": f"{HERE}:NoSchema"})
    finally:
        catalogue.plugins.cache_clear()
