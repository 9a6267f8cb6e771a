"""Which detectors exist: the built-ins, and the plug-ins other packages install.

The built-in detectors are listed here. Other packages add theirs through the entry point
group ``touchpoint.detectors``: the entry point's name is the alert type, its value the
detector class (``package.module:Class``). A plug-in is configured under
``detectors.<type>`` in the rules file like a built-in, validated against the JSON Schema
its class declares (``config_schema``), and runs unless ``enabled = false``. See
docs/detectors.md for the contract.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Final

from agents.domain.alert import SLA_ALERT_TYPES

#: Alert type → "module:Class" of its detector, in the order they run.
DETECTORS: Final[dict[str, str]] = {
    "repeat_contact_unresolved": "agents.detectors.repeat_contact:RepeatContactUnresolved",
    "excessive_transfers": "agents.detectors.transfers:ExcessiveTransfers",
    "long_wait": "agents.detectors.long_wait:LongWait",
    "sales_in_service": "agents.detectors.sales_in_service:SalesInService",
    "service_recovery": "agents.detectors.service_recovery:ServiceRecovery",
    "usage_pattern_change": "agents.detectors.usage_pattern:UsagePatternChange",
    "advocate_opportunity": "agents.detectors.advocate:AdvocateOpportunity",
    "churn_risk": "agents.detectors.churn_risk:ChurnRisk",
    "best_customer_at_risk": "agents.detectors.best_customer:BestCustomerAtRisk",
}

#: The entry point group third-party detectors register in.
ENTRY_POINT_GROUP: Final = "touchpoint.detectors"

#: An alert type is also a topic suffix and the first part of an alert id (schemas/alert.v1.json).
ALERT_TYPE: Final = re.compile(r"^[a-z][a-z_]*$")

#: Names a plug-in cannot take: the first-response alert types, and rules-file keys of the detectors section.
RESERVED: Final = frozenset(
    {
        *SLA_ALERT_TYPES,
        "inhibitions",
        "top_tier_boost",
        "complaint",
        "default",
    }
)


class PluginError(ValueError):
    """An installed detector plug-in cannot be used: names the entry point and what is wrong."""


@dataclass(frozen=True)
class Plugin:
    """One detector registered through the entry point group."""

    type: str
    #: "module:Class", as the entry point gives it.
    target: str
    #: The distribution that registered it, "name version" (empty if unknown).
    distribution: str


@functools.cache
def plugins() -> tuple[Plugin, ...]:
    """The detectors other installed packages register, sorted by type (read once per process)."""
    found = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        dist = entry.dist
        distribution = f"{dist.name} {dist.version}" if dist is not None else ""
        found.append(Plugin(entry.name, entry.value, distribution))
    return tuple(sorted(found, key=lambda plugin: plugin.type))


def all_detectors() -> dict[str, str]:
    """Alert type → "module:Class" of every detector: the built-ins first, then plug-ins by type."""
    # A plug-in cannot replace a built-in: plugin_class refuses the name, and the built-in stays listed.
    return {
        **DETECTORS,
        **{plugin.type: plugin.target for plugin in plugins() if plugin.type not in DETECTORS},
    }


def plugin_types() -> tuple[str, ...]:
    return tuple(plugin.type for plugin in plugins())


def load_class(target: str) -> Any:
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


@functools.cache
def plugin_class(plugin: Plugin) -> Any:
    """The plug-in's detector class, checked against the contract; PluginError if it breaks it."""
    where = f"detector plug-in {plugin.type!r} ({plugin.target}{', ' + plugin.distribution if plugin.distribution else ''})"
    if not ALERT_TYPE.match(plugin.type):
        raise PluginError(
            f"{where}: the entry point name must be an alert type: a-z and _, e.g. refund_spree"
        )
    if plugin.type in DETECTORS or plugin.type in RESERVED:
        raise PluginError(f"{where}: {plugin.type!r} is taken by Touchpoint itself; choose another name")
    try:
        cls = load_class(plugin.target)
    except Exception as exc:  # any import-time failure of foreign code is the plug-in's error, said once
        raise PluginError(f"{where}: cannot load {plugin.target}: {type(exc).__name__}: {exc}") from None
    if getattr(cls, "type", None) != plugin.type:
        raise PluginError(
            f"{where}: the class's `type` is {getattr(cls, 'type', None)!r}, not {plugin.type!r}"
        )
    missing = [name for name in ("observe", "due", "fire") if not callable(getattr(cls, name, None))]
    if missing:
        raise PluginError(f"{where}: the class has no {', '.join(missing)} (subclass EventOnly for due/fire)")
    schema = getattr(cls, "config_schema", {})
    if not isinstance(schema, Mapping) or schema.get("type", "object") != "object":
        raise PluginError(f"{where}: `config_schema` must be a JSON Schema of type object")
    return cls


def config_schema(plugin: Plugin) -> dict[str, Any]:
    """The JSON Schema of the plug-in's section of the rules file, with ``enabled`` added."""
    declared: Mapping[str, Any] = getattr(plugin_class(plugin), "config_schema", {})
    properties = dict(declared.get("properties", {}))
    properties.setdefault(
        "enabled", {"description": "Run this detector.", "type": "boolean", "default": True}
    )
    return {
        "additionalProperties": False,
        **declared,
        "type": "object",
        "default": {},
        "properties": properties,
    }


def check_plugins() -> list[str]:
    """What is wrong with the installed plug-ins, one line each (empty: all usable)."""
    problems = []
    for plugin in plugins():
        try:
            plugin_class(plugin)
        except PluginError as exc:
            problems.append(str(exc))
    return problems
