"""Best customer at risk: one of the most valuable customers shows any sign of leaving. Always critical.

"Best" is the top decile by customer lifetime value: the CLV the worker estimates at
each purchase (agents/models/customer.py) at or above the threshold in effect at that
moment: the population's top decile among current buyers, kept as the data streams
(agents/models/population.py), or the fixed threshold ``touchpoint fit`` recorded. The
threshold is population-wide, so every worker and every replay agrees on who is best.

Risk signals, with churn_risk's thresholds:

* on a touchpoint: a complaint, detractor feedback (NPS or CSAT at or below the
  detractor maximum) or a long queue wait (over long_wait's standard on its channels);
* in time: P(alive) below the threshold or overdue against the cadence — scheduled
  like churn_risk, once per last purchase.

The alert clears with its cause (``details.signal``): the complaint's issue resolved
(``auto:resolution``), feedback that is no longer a detractor's (``auto:recovered``), or, for
a churn risk, a purchase (``auto:purchase``); a long wait has no clearing event and expires.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from agents.detectors.base import Context, Finding
from agents.detectors.churn_risk import (
    ChurnClock,
    Models,
    fired,
    last_purchase_evidence,
    merge_episodes,
    pending,
    track_episode,
)
from agents.domain.alert import CRITICAL, Alert
from agents.domain.state import CustomerState

TYPE: Final = "best_customer_at_risk"


class BestCustomerAtRisk:
    """A top-decile customer with a complaint, detractor feedback, a long wait or churn risk.

    Memory: churn_risk's episode without the event id (``[last purchase, purchase days, due]``,
    about 30 bytes); the evidence is read from churn_risk's memory when the alert is raised.
    """

    type: str = TYPE
    uses_models: Final = True
    cleared_by: frozenset[str] = frozenset({"resolution", "feedback", "purchase"})

    def __init__(self, options: Mapping[str, Any], models: Models) -> None:
        detectors = models.detectors
        self.clock = ChurnClock(detectors.get("churn_risk", {}), models)
        self.model = models.customer
        long_wait = detectors.get("long_wait", {})
        self.wait_seconds: float = long_wait.get("wait_seconds", 20)
        self.wait_channels = frozenset(long_wait.get("channels", ("phone", "chat")))

    def merge(self, memory: Any, other: Any, state: CustomerState) -> Any:
        """The episode of the merged history's last purchase (see churn_risk)."""
        return merge_episodes(memory, other, state, self.clock)

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        memory = track_episode(memory, context, self.clock, keep_evidence=False)
        state = context.state
        if not self.model.is_best_customer(state.clv, context.instant):
            return memory, []
        signal = self._signal(context.event)
        if signal is None:
            return memory, []
        risk = self.clock.risk(state, context.instant)
        details: dict[str, Any] = {
            **risk.details,
            "signal": signal,
            "best_customer_clv": _rounded(self.model.best_customer_clv(context.instant)),
        }
        issue = (context.event.get("attributes") or {}).get("issue_id")
        if signal == "complaint" and isinstance(issue, str):
            details["issue_id"] = issue
        reasons = ("best_customer", signal, *risk.churn)
        event = context.event
        summary = (
            f"Best customer {context.customer_id} (CLV {state.clv:,.2f}, top decile) just had "
            f"{_SIGNAL_TEXT[signal]} on {event['channel']}."
        )
        return memory, [
            Finding(
                severity=CRITICAL,
                evidence=(event["event_id"],),
                reasons=reasons,
                summary=summary,
                suggested_action=_ACTIONS[signal],
                occurred_at=context.instant,
                detected_at=context.instant,
                details=details,
                channel=event["channel"],
                location=event.get("location"),
            )
        ]

    def due(self, memory: Any) -> int | None:
        return pending(memory)

    def fire(
        self, memory: Any, customer_id: str, now: int, state: CustomerState
    ) -> tuple[Any, list[Finding]]:
        memory = fired(memory)
        if not self.model.is_best_customer(state.clv, now):
            return memory, []
        risk = self.clock.risk(state, now)
        if not risk.churn:
            return memory, []
        summary = (
            f"Best customer {customer_id} (CLV {state.clv:,.2f}, top decile) is slipping away: "
            f"{risk.details['days_since_last_purchase']} days since the last purchase"
            + (f", P(alive) {risk.details['p_alive']:.0%}" if "p_alive" in risk.details else "")
            + "."
        )
        return memory, [
            Finding(
                severity=CRITICAL,
                evidence=(last_purchase_evidence(state),),
                reasons=("best_customer", *risk.churn, *risk.signals),
                summary=summary,
                suggested_action="A personal call from the account owner this week, before any automated offer.",
                occurred_at=state.last_purchase,
                detected_at=now,
                details={
                    **risk.details,
                    "signal": "churn_risk",
                    "best_customer_clv": _rounded(self.model.best_customer_clv(now)),
                },
            )
        ]

    def clears(self, alert: Alert, context: Context) -> str | None:
        """The cause went away: the complaint's issue resolved, happy feedback, or a purchase after a churn risk."""
        signal = alert.details.get("signal")
        event = context.event
        attributes = event.get("attributes") or {}
        if context.instant < alert.detected_at:
            return None  # delivered late: it happened before the alert
        if signal == "complaint" and event["type"] == "resolution":
            issue = alert.details.get("issue_id")
            return "resolution" if issue is None or attributes.get("issue_id") == issue else None
        if signal == "detractor_feedback" and event["type"] == "feedback":
            nps, csat = attributes.get("nps"), attributes.get("csat")
            happy = (nps is not None and nps > self.clock.nps_max) or (
                csat is not None and csat > self.clock.csat_max
            )
            sad = (nps is not None and nps <= self.clock.nps_max) or (
                csat is not None and csat <= self.clock.csat_max
            )
            return "recovered" if happy and not sad else None
        if signal == "churn_risk" and event["type"] == "purchase":
            return "purchase"
        return None

    def _signal(self, event: dict[str, Any]) -> str | None:
        kind = event["type"]
        attributes = event.get("attributes") or {}
        if kind == "complaint":
            return "complaint"
        if kind == "feedback":
            nps, csat = attributes.get("nps"), attributes.get("csat")
            if (nps is not None and nps <= self.clock.nps_max) or (
                csat is not None and csat <= self.clock.csat_max
            ):
                return "detractor_feedback"
        if kind == "queue_wait" and event["channel"] in self.wait_channels:
            wait = attributes.get("wait_seconds")
            if isinstance(wait, int | float) and wait > self.wait_seconds:
                return "long_wait"
        return None


_SIGNAL_TEXT: Final = {
    "complaint": "a complaint",
    "detractor_feedback": "detractor feedback",
    "long_wait": "a long queue wait",
}
_ACTIONS: Final = {
    "complaint": "Have a senior agent own the complaint today and call the customer back personally.",
    "detractor_feedback": "Call the customer within a day: find out what went wrong and put it right.",
    "long_wait": "Prioritise this customer in the queue and follow up on what they contacted us about.",
}


def _rounded(threshold: float | None) -> float | None:
    return None if threshold is None else round(threshold, 2)
