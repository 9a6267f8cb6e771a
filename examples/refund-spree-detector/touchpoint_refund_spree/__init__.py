"""A customer asking for refund after refund: something keeps going wrong with what they buy.

An example of a Touchpoint detector plug-in (see docs/detectors.md in Touchpoint). It raises
``refund_spree`` when a customer has ``refunds`` refunds within ``window_days``, at most
once per window, with the refunds as evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

from agents.detectors.base import Context, EventOnly, Finding, describe_span
from agents.domain.instants import DAY, local_time

TYPE: Final = "refund_spree"


class RefundSpree(EventOnly):
    """Several refunds in a short time: find out what keeps going wrong before the next order.

    Memory: ``{"refunds": [[instant, event id], ...], "alerted": instant}``, the refunds
    within the window (at most ``refunds`` of them) and when the last alert was raised.
    """

    type: ClassVar[str] = TYPE
    #: The rules file's [detectors.refund_spree] section; Touchpoint adds `enabled`.
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "refunds": {
                "description": "Refunds within the window that raise the alert.",
                "type": "integer",
                "minimum": 2,
                "default": 3,
            },
            "window_days": {
                "description": "The window, in days.",
                "type": "number",
                "exclusiveMinimum": 0,
                "default": 30,
            },
        },
    }

    def __init__(self, options: Mapping[str, Any]) -> None:
        # Touchpoint hands over the section validated against config_schema, defaults filled in.
        self.refunds: int = options["refunds"]
        self.window = round(options["window_days"] * DAY)

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        memory = memory or {"refunds": [], "alerted": None}
        if context.event["type"] != "refund":
            return memory if memory["refunds"] else None, []
        recent = [entry for entry in memory["refunds"] if 0 <= context.instant - entry[0] <= self.window]
        recent = sorted([*recent, [context.instant, context.event["event_id"]]])[-self.refunds :]
        alerted = memory["alerted"]
        findings = []
        quiet = alerted is None or context.instant - alerted > self.window
        if len(recent) >= self.refunds and quiet:
            findings.append(self._finding(context, recent))
            alerted = context.instant
        return {"refunds": recent, "alerted": alerted}, findings

    def _finding(self, context: Context, recent: list[list[Any]]) -> Finding:
        span = describe_span(recent[-1][0] - recent[0][0])
        at = local_time(context.instant, context.zone)
        return Finding(
            severity="warning",
            evidence=tuple(event_id for _, event_id in recent),
            reasons=("refund_spree",),
            summary=(
                f"Customer {context.customer_id} asked for {len(recent)} refunds within {span}, "
                f"the latest on {context.event['channel']} at {at}."
            ),
            suggested_action=(
                "Call the customer before the next order: find out what keeps going wrong "
                "(product, size, delivery) and fix it."
            ),
            occurred_at=context.instant,
            detected_at=context.instant,
            details={"refunds": len(recent), "window_days": self.window / DAY},
            channel=context.event["channel"],
            location=context.event.get("location"),
        )
