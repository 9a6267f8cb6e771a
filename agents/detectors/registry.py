"""Building the enabled detectors from the rules file (which exist: agents/catalogue.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.catalogue import all_detectors, load_class, plugin_class, plugins
from agents.detectors.base import Detector


def build_detectors(
    section: Mapping[str, Any], available: Mapping[str, str] | None = None, models: Any = None
) -> list[Detector]:
    """The enabled detectors, configured from their sections of the rules file.

    *available* defaults to the built-ins and the installed plug-ins. A detector class with
    ``uses_models`` also gets *models* (agents.detectors.churn_risk.Models); without models such
    detectors are left out.
    """
    by_type = {plugin.type: plugin for plugin in plugins()}
    built: list[Detector] = []
    for alert_type, target in (all_detectors() if available is None else available).items():
        options = section.get(alert_type, {})
        if not options.get("enabled", True):
            continue
        plugin = by_type.get(alert_type)
        cls = plugin_class(plugin) if plugin is not None and plugin.target == target else load_class(target)
        if getattr(cls, "uses_models", False):
            if models is not None:
                built.append(cls(options, models))
        else:
            built.append(cls(options))
    return built
