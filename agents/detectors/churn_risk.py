"""Story 5, churn risk: the customer is slipping away, and service may be why.

Risk is the BG/NBD model's P(alive) falling below ``p_alive_below`` — or, with
``overdue``, the customer going past their own cadence (the lifecycle section's
at-risk point), whichever comes first. Both are functions of the purchase history
and the clock only, so the instant is computed once per purchase and scheduled on
the customer's timer; nothing rescans customers. When it comes, service signals —
an open complaint, detractor feedback or a long wait within ``signals_within_days``
— are added as reasons and make the alert critical.

One alert per customer per last purchase: its evidence is that purchase's event id,
so a redelivery or replay gives the same alert, and a new purchase starts afresh. That purchase
also clears the alert (``auto:purchase``): the customer is back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from agents import lifecycle
from agents.config import LifecycleConfig, detector_settings
from agents.detectors.base import Context, Finding
from agents.domain.alert import CRITICAL, SLA_ALERT_TYPES, WARNING, Alert
from agents.domain.instants import DAY
from agents.domain.state import CustomerState
from agents.models.customer import CustomerModel

TYPE: Final = "churn_risk"

# Memory: [last purchase instant, distinct purchase days, due instant, that purchase's event id]; the due
# instant is FIRED once the episode has fired and NONE when nothing is due.
_LAST, _DAYS, _DUE, _EVIDENCE = range(4)
FIRED: Final = -1
NONE: Final = 0

_BREACHES: Final = frozenset(kind for kind in SLA_ALERT_TYPES if kind != "first_response_due_soon")


@dataclass(frozen=True, slots=True)
class Models:
    """What the model-driven detectors need beside their own options."""

    customer: CustomerModel
    lifecycle: LifecycleConfig
    #: The whole detectors section, defaults filled (best_customer_at_risk shares churn_risk's thresholds).
    detectors: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Risk:
    """Why a customer is at risk at one instant: churn reasons, service signals and the figures behind them."""

    churn: tuple[str, ...]
    signals: tuple[str, ...]
    details: dict[str, Any]


class ChurnClock:
    """When a customer becomes a churn risk, and why they are one at a given instant."""

    def __init__(self, options: Mapping[str, Any], models: Models) -> None:
        settings = detector_settings(TYPE, options)
        self.threshold: float = settings["p_alive_below"]
        self.overdue: bool = settings["overdue"]
        self.window = round(settings["signals_within_days"] * DAY)
        self.nps_max: int = settings["detractor_nps_max"]
        self.csat_max: int = settings["detractor_csat_max"]
        self.model = models.customer
        self.lifecycle = models.lifecycle

    def due(self, state: CustomerState) -> int | None:
        """The first instant at which the customer is at risk without buying again; None: never."""
        candidates = []
        day = self.model.day_below(state, self.threshold)
        if day is not None:
            candidates.append(day * DAY)
        if self.overdue and state.purchase_count:
            candidates.append(state.last_purchase + lifecycle.inactivity_thresholds(state, self.lifecycle)[0])
        return min(candidates) if candidates else None

    def risk(self, state: CustomerState, now: int) -> Risk:
        churn: list[str] = []
        details: dict[str, Any] = {"days_since_last_purchase": (now - state.last_purchase) // DAY}
        alive = self.model.p_alive_on(state, now // DAY)
        if alive is not None:
            details["p_alive"] = round(alive, 4)
            details["p_alive_threshold"] = self.threshold
            if alive < self.threshold:
                churn.append("p_alive_below_threshold")
        if self.overdue and state.purchase_count:
            gap = lifecycle.typical_gap_days(state, self.lifecycle)
            details["typical_gap_days"] = gap
            if now - state.last_purchase >= lifecycle.inactivity_thresholds(state, self.lifecycle)[0]:
                churn.append("overdue_for_cadence")
        if state.clv:
            details["clv"] = state.clv
        return Risk(tuple(churn), self.signals(state, now), details)

    def signals(self, state: CustomerState, now: int) -> tuple[str, ...]:
        """Service signals: an open complaint, recent detractor feedback, a recent long wait or SLA breach."""
        found: list[str] = []
        if state.complaints_open:
            found.append("open_complaint")
        recent = now - self.window
        detractor = (state.nps is not None and state.nps[0] <= self.nps_max and state.nps[1] >= recent) or (
            state.csat is not None and state.csat[0] <= self.csat_max and state.csat[1] >= recent
        )
        if detractor:
            found.append("recent_detractor")
        waits = state.detector_memory.get("long_wait")
        breached = any(
            alert_id.partition("/")[0] in _BREACHES and data[2] >= recent
            for alert_id, data in state.alerts_open.items()
        )
        if breached or (isinstance(waits, list) and any(at >= recent for at in waits)):
            found.append("long_waits")
        return tuple(found)


class ChurnRisk:
    """P(alive) below the threshold or overdue against the customer's cadence; critical with service signals.

    Memory: ``[last purchase, distinct purchase days, due, last purchase's event id]``, about
    45 bytes; the due instant is recomputed only when the purchase history changes.
    """

    type: str = TYPE
    uses_models: Final = True
    cleared_by: frozenset[str] = frozenset({"purchase"})

    def __init__(self, options: Mapping[str, Any], models: Models) -> None:
        self.clock = ChurnClock(options, models)

    def clears(self, alert: Alert, context: Context) -> str | None:
        """A purchase after the one the alert counted from: the customer bought again."""
        return "purchase" if context.instant > alert.occurred_at else None

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        return track_episode(memory, context, self.clock, keep_evidence=True), []

    def merge(self, memory: Any, other: Any, state: CustomerState) -> Any:
        """The episode of the merged history's last purchase, due again from the merged state."""
        return merge_episodes(memory, other, state, self.clock)

    def due(self, memory: Any) -> int | None:
        return pending(memory)

    def evidence(self, memory: Any) -> str:
        return str(memory[_EVIDENCE])

    def fire(
        self, memory: Any, customer_id: str, now: int, state: CustomerState
    ) -> tuple[Any, list[Finding]]:
        risk = self.clock.risk(state, now)
        memory = fired(memory)
        if not risk.churn:
            return memory, []  # not reachable by construction; kept as a guard against a stale due
        severity = CRITICAL if risk.signals else WARNING
        return memory, [
            Finding(
                severity=severity,
                evidence=(self.evidence(memory),),
                reasons=(*risk.churn, *risk.signals),
                summary=describe(customer_id, risk),
                suggested_action=suggest(risk),
                occurred_at=state.last_purchase,
                detected_at=now,
                details={**risk.details, "service_signals": list(risk.signals)},
            )
        ]


def track_episode(memory: Any, context: Context, clock: ChurnClock, *, keep_evidence: bool) -> Any:
    """The episode memory after one touchpoint: a new last purchase starts a new, unfired episode.

    With *keep_evidence* the last purchase's event id is kept as a fifth item (churn_risk's memory);
    without, it is read from churn_risk's memory when the alert is raised.
    """
    state = context.state
    if state.purchase_count == 0:
        return None
    last, days = state.last_purchase, state.distinct_purchase_days
    if isinstance(memory, list) and len(memory) >= 3 and memory[_LAST] == last:
        if memory[_DUE] == FIRED or memory[_DAYS] == days:
            return memory
    elif keep_evidence:
        # The event that made this the last purchase is that purchase; a late older one never is.
        event = context.event
        own = event["type"] == "purchase" and context.instant == last
        memory = [last, days, NONE, event["event_id"] if own else purchase_evidence(last)]
    else:
        memory = [last, days, NONE]
    memory = [*memory]
    memory[_DAYS] = days
    memory[_DUE] = clock.due(state) or NONE
    return memory


def merge_episodes(memory: Any, other: Any, state: CustomerState, clock: ChurnClock) -> Any:
    """One customer's episode from two (an anonymous profile merged in): the one of the later last purchase.

    Its due instant is computed again from the merged state, whose purchase history changed, unless it
    has fired already.
    """
    episodes = [kept for kept in (memory, other) if isinstance(kept, list) and len(kept) >= 3]
    if not episodes or state.purchase_count == 0:
        return None
    episode = [*max(episodes, key=lambda kept: kept[_LAST])]
    if episode[_DUE] != FIRED:
        episode[_DAYS] = state.distinct_purchase_days
        episode[_DUE] = clock.due(state) or NONE
    return episode


def pending(memory: Any) -> int | None:
    """The episode's due instant while it has not fired."""
    due: int = memory[_DUE]
    return due if due > 0 else None


def fired(memory: Any) -> Any:
    """The memory once its episode has fired: nothing more is due until the next purchase."""
    return [*memory[:_DUE], FIRED, *memory[_DUE + 1 :]]


def purchase_evidence(last_purchase: int) -> str:
    """Evidence naming the last purchase by its instant, when its event id is not known."""
    return f"purchase@{last_purchase}"


def last_purchase_evidence(state: CustomerState) -> str:
    """The last purchase's event id as churn_risk remembers it, or its instant."""
    memory = state.detector_memory.get(TYPE)
    if isinstance(memory, list) and len(memory) > _EVIDENCE and memory[_LAST] == state.last_purchase:
        return str(memory[_EVIDENCE])
    return purchase_evidence(state.last_purchase)


def describe(customer_id: str, risk: Risk) -> str:
    details = risk.details
    parts = []
    if "p_alive_below_threshold" in risk.churn:
        parts.append(f"P(alive) {details['p_alive']:.0%} is below {details['p_alive_threshold']:.0%}")
    if "overdue_for_cadence" in risk.churn:
        parts.append(
            f"{details['days_since_last_purchase']} days since the last purchase, usually every "
            f"{details['typical_gap_days']:g} days"
        )
    text = f"Customer {customer_id} is at risk of churning: {'; '.join(parts)}."
    if risk.signals:
        text += " Service signals: " + ", ".join(signal.replace("_", " ") for signal in risk.signals) + "."
    return text


def suggest(risk: Risk) -> str:
    if "open_complaint" in risk.signals:
        return "Resolve the open complaint first, then reach out personally with a retention offer."
    if risk.signals:
        return "Reach out personally: acknowledge the recent service problem and offer a reason to come back."
    return "Send a win-back offer matched to the customer's usual purchases."
