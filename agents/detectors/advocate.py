"""Story 9, ask for the referral: a promoter, or a loyal and satisfied customer with nothing open.

A positive alert (severity info). It qualifies on either of two grounds, judged
on the state after the event:

- *promoter*: the event is feedback with an NPS of at least ``min_nps`` and the
  customer's latest NPS (by event time) is one too, so a late, old score does not count,
  from a customer who has bought on ``min_purchase_days`` days (a first-time buyer's first
  impression is not yet loyalty: measured against the simulator's ground truth, most such
  promoters were not would-be advocates);
- *loyal and satisfied*: any event of a customer in the loyal or advocate stage
  whose rolling satisfaction is known and at least ``min_satisfaction``, with no
  open complaint and no unanswered inquiry.

Never while a complaint is open, and at most once per ``every_days`` per
customer. The tracker's inhibitions (open complaints, service-recovery alerts)
apply on top.

The alert clears when the customer refers someone (``auto:referral``: the ask worked, or was not
needed) and when they complain (``auto:complaint``: not the moment to ask any more).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from agents import lifecycle
from agents.config import detector_settings
from agents.detectors.base import Context, EventOnly, Finding
from agents.domain.alert import INFO, Alert
from agents.domain.instants import DAY, local_time
from agents.domain.state import CustomerState

TYPE: Final = "advocate_opportunity"
#: Stages whose satisfied customers are worth asking.
LOYAL_STAGES: Final = frozenset({lifecycle.LOYAL, lifecycle.ADVOCATE})
#: How a summary names a customer of each of those stages.
_AS: Final = {lifecycle.LOYAL: "a loyal customer", lifecycle.ADVOCATE: "an advocate"}


class AdvocateOpportunity(EventOnly):
    """Time to thank the customer and ask for a referral or a review.

    Memory: the instant of the latest finding (an int, about 10 bytes), dropped
    once ``every_days`` have passed since it; None before the first.
    """

    type: str = TYPE
    cleared_by: frozenset[str] = frozenset({"referral", "complaint"})

    def __init__(self, options: Mapping[str, Any]) -> None:
        settings = detector_settings(TYPE, options)
        self.min_nps: int = settings["min_nps"]
        self.min_purchase_days: int = settings["min_purchase_days"]
        self.min_satisfaction: float = settings["min_satisfaction"]
        self.every = round(settings["every_days"] * DAY)

    def clears(self, alert: Alert, context: Context) -> str | None:
        """A referral makes the ask moot; a complaint makes it the wrong moment."""
        if context.instant < alert.detected_at:
            return None
        return str(context.event["type"])

    def merge(self, memory: Any, other: Any, state: CustomerState) -> Any:
        """Two customers' memories as one (an anonymous profile merged in): the later finding counts."""
        found = [at for at in (memory, other) if isinstance(at, int)]
        return max(found) if found else None

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        last = memory if isinstance(memory, int) else None
        if last is not None and context.instant - last >= self.every:
            last = None  # the quiet period is over: nothing to remember
        state = context.state
        if last is not None or state.complaints_open:
            return last, []
        event = context.event
        reasons: list[str] = []
        details: dict[str, Any] = {}
        nps = (event.get("attributes") or {}).get("nps") if event["type"] == "feedback" else None
        if (
            isinstance(nps, int)
            and nps >= self.min_nps
            and state.nps is not None
            and state.nps[0] >= self.min_nps
            and state.distinct_purchase_days >= self.min_purchase_days
        ):
            reasons.append("promoter")
            details["nps"] = nps
        satisfaction = state.satisfaction
        if (
            state.stage in LOYAL_STAGES
            and satisfaction is not None
            and satisfaction >= self.min_satisfaction
            and not state.inquiries_open
        ):
            reasons.append("loyal_and_satisfied")
            details["satisfaction"] = round(satisfaction, 2)
            details["stage"] = state.stage
        if not reasons:
            return None, []
        return context.instant, [self._finding(context, reasons, details)]

    def _finding(self, context: Context, reasons: list[str], details: dict[str, Any]) -> Finding:
        event = context.event
        who = f"Customer {context.customer_id}"
        if "promoter" in reasons:
            at = local_time(context.instant, context.zone)
            summary = f"{who} gave an NPS of {details['nps']} on {event['channel']} at {at}"
            if "satisfaction" in details:
                summary += f" and is {_AS[details['stage']]} with nothing open"
            summary += ": a promoter, ready to be asked for a referral."
        else:
            summary = (
                f"{who} is {_AS[details['stage']]}, {round(details['satisfaction'] * 100)}% satisfied and "
                "with nothing open: a good moment to ask for a referral."
            )
        return Finding(
            severity=INFO,
            evidence=(event["event_id"],),
            reasons=tuple(reasons),
            summary=summary,
            suggested_action=(
                "Thank the customer personally for their loyalty, then ask whether they would recommend "
                "us to a friend or leave a review; mention the referral programme if there is one."
            ),
            occurred_at=context.instant,
            detected_at=context.instant,
            details=details,
            channel=event["channel"],
            location=event.get("location"),
        )
