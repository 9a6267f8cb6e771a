"""Which detectors exist, and building the enabled ones from the rules file."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Final

from agents.detectors.base import Detector

#: Alert type → "module:Class" of its detector, in the order they run.
DETECTORS: Final[dict[str, str]] = {
    "repeat_contact_unresolved": "agents.detectors.repeat_contact:RepeatContactUnresolved",
    "excessive_transfers": "agents.detectors.transfers:ExcessiveTransfers",
    "long_wait": "agents.detectors.long_wait:LongWait",
    "sales_in_service": "agents.detectors.sales_in_service:SalesInService",
    "service_recovery": "agents.detectors.service_recovery:ServiceRecovery",
    "usage_pattern_change": "agents.detectors.usage_pattern:UsagePatternChange",
    "advocate_opportunity": "agents.detectors.advocate:AdvocateOpportunity",
}


def build_detectors(section: Mapping[str, Any], available: Mapping[str, str] = DETECTORS) -> list[Detector]:
    """The enabled detectors, configured from their sections of the rules file."""
    built: list[Detector] = []
    for alert_type, target in available.items():
        options = section.get(alert_type, {})
        if not options.get("enabled", True):
            continue
        module_name, _, class_name = target.partition(":")
        built.append(getattr(importlib.import_module(module_name), class_name)(options))
    return built
