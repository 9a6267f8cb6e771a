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
    "churn_risk": "agents.detectors.churn_risk:ChurnRisk",
    "best_customer_at_risk": "agents.detectors.best_customer:BestCustomerAtRisk",
}


def build_detectors(
    section: Mapping[str, Any], available: Mapping[str, str] = DETECTORS, models: Any = None
) -> list[Detector]:
    """The enabled detectors, configured from their sections of the rules file.

    A detector class with ``uses_models`` also gets *models* (agents.detectors.churn_risk.Models);
    without models such detectors are left out.
    """
    built: list[Detector] = []
    for alert_type, target in available.items():
        options = section.get(alert_type, {})
        if not options.get("enabled", True):
            continue
        module_name, _, class_name = target.partition(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        if getattr(cls, "uses_models", False):
            if models is not None:
                built.append(cls(options, models))
        else:
            built.append(cls(options))
    return built
