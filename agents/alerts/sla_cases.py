"""A customer's first-response cases over time: opened by an inquiry, closed by the first reply.

The cases live in the customer's state (``sla_cases``, one per conversation, see
``agents.alerts.sla.Case``). A case's warning time and deadline fire as the customer's clock
passes them; the breach is an alert through the gate, and closes its early warning. The warning
is an item of its queue's digest (``Outputs.due_soon``, agents/alerts/digests.py), or, with
``sla.warning_digest_minutes = 0``, an alert about the customer. A reply closes the case and
resolves its alerts (and tells the digest the inquiry was answered); an operator's
acknowledgement or resolution means someone owns it, and nothing more is raised for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from agents.alerts import sla
from agents.alerts.gating import AlertGate
from agents.calendar import Calendars
from agents.config import SlaConfig
from agents.domain.alert import FIRST_RESPONSE_DUE_SOON, RESOLVED, Alert, DueSoon, make_alert_id
from agents.domain.instants import sooner
from agents.domain.outputs import Outputs
from agents.domain.state import CustomerState

__all__ = ["AUTO_REPLY", "FirstResponseCases"]

#: Who changed an alert's status when no person did (agents/alerts/closing.py has the others).
AUTO_REPLY: Final = "auto:first_reply"


class FirstResponseCases:
    """The first-response SLAs of the rules file, kept in each customer's state."""

    def __init__(
        self,
        calendars: Calendars,
        config: SlaConfig,
        top_tier: str,
        gate: AlertGate,
        best_customer: Callable[[float, int], bool] = lambda clv, at: False,
    ) -> None:
        self._calendars = calendars
        self._config = config
        self._top_tier = top_tier
        self._gate = gate
        #: Whether a customer of this CLV is a best customer at that instant.
        self._best = best_customer
        self._digests = config.warning_digest_minutes > 0

    def open(
        self, state: CustomerState, conversation: str, event: dict[str, Any], instant: int, day: int
    ) -> None:
        """A customer's inquiry left *conversation* waiting: its case starts, unless one runs already."""
        existing = state.sla_cases.get(conversation)
        if existing is not None:
            case = sla.Case.from_list(existing)
            if instant >= case.opened_at or case.flags & (sla.WARNED | sla.BREACHED | sla.HANDLED):
                return  # the clock runs from the first unanswered inquiry
        intent = sla.has_intent(event, state.last_view_day == day, self._config)
        opened = sla.open_case(event, instant, self._calendars, self._config, intent)
        if opened is not None:
            state.sla_cases[conversation] = opened.to_list()

    def close(
        self, state: CustomerState, customer_id: str, conversation: str, instant: int, out: Outputs
    ) -> None:
        """The first reply in *conversation* came at *instant*: the case closes and its alerts resolve."""
        data = state.sla_cases.get(conversation)
        if data is None or data[0] > instant:
            return  # no case, or the reply predates it (a late inquiry)
        case = sla.Case.from_list(data)
        due = case.next_due()
        if due is not None and due <= instant:
            # Replied after a deadline the clock has not reached yet (within the allowed lateness): it still missed it.
            self.fire(state, customer_id, case, instant, out)
        del state.sla_cases[conversation]
        response = instant - case.opened_at
        if self._digests and case.flags & sla.WARNED and case.warn_at and case.deadline > instant:
            out.answered.append(
                (make_alert_id(FIRST_RESPONSE_DUE_SOON, customer_id, (case.event_id,)), instant)
            )
        for alert_type in (FIRST_RESPONSE_DUE_SOON, case.breach_type):
            alert_id = make_alert_id(alert_type, customer_id, (case.event_id,))
            kept = state.alerts_open.pop(alert_id, None)
            if kept is not None:
                alert = sla.revive(alert_id, customer_id, kept, self._calendars)
                resolved = alert.with_status(RESOLVED, instant, AUTO_REPLY, response_seconds=response)
                out.alerts.append(resolved)
                out.resolved.append((resolved, instant - alert.detected_at))
        if conversation in state.inquiries_open:
            # Delivered out of order, an inquiry later than this reply is still waiting: a new case from it.
            # Its deadline follows the channel's policy at its own instant (business hours, after hours).
            later = state.inquiries_open[conversation]
            waiting = {
                "event_id": f"{case.event_id}+{later}",
                "channel": case.channel,
                "location": case.location,
                "attributes": {"topic": case.topic} if case.topic else {},
            }
            intent = bool(case.flags & sla.INTENT)
            follow_up = sla.open_case(waiting, later, self._calendars, self._config, intent)
            if follow_up is not None:
                state.sla_cases[conversation] = follow_up.to_list()

    def fire_due(self, state: CustomerState, customer_id: str, due: int, out: Outputs) -> None:
        """Raise what every case of the customer has due at or before *due*."""
        for conversation, data in list(state.sla_cases.items()):
            case = sla.Case.from_list(data)
            if self.fire(state, customer_id, case, due, out):
                state.sla_cases[conversation] = case.to_list()

    def fire(self, state: CustomerState, customer_id: str, case: sla.Case, due: int, out: Outputs) -> bool:
        """Raise *case*'s warning and breach if due at *due*; True if the case changed."""
        changed = False
        if case.flags & (sla.BREACHED | sla.HANDLED):
            return False
        top_tier = state.value_tier == self._top_tier
        zone = self._calendars.for_touchpoint(case.channel, case.location).zone
        if case.warn_at and not case.flags & sla.WARNED and case.warn_at <= due:
            case.flags |= sla.WARNED
            if case.deadline > due:  # still in time: a reply can prevent the breach
                warning = sla.case_alert(
                    FIRST_RESPONSE_DUE_SOON,
                    customer_id,
                    case,
                    case.warn_at,
                    state.stage,
                    state.value_tier,
                    top_tier,
                    zone,
                    self._best(state.clv, case.warn_at),
                )
                if self._digests:
                    out.due_soon.append(_item(warning, case))
                else:
                    self._gate.raise_alert(state, warning, out)
            changed = True
        if case.deadline <= due:
            case.flags |= sla.BREACHED
            breach = sla.case_alert(
                case.breach_type,
                customer_id,
                case,
                case.deadline,
                state.stage,
                state.value_tier,
                top_tier,
                zone,
                self._best(state.clv, case.deadline),
            )
            # The breach supersedes its early warning: the warning closes, so no consumer keeps it open.
            warning_id = make_alert_id(FIRST_RESPONSE_DUE_SOON, customer_id, (case.event_id,))
            if not self._gate.raise_alert(state, breach, out, replaces=[warning_id]):
                case.flags |= sla.SUPPRESSED
            changed = True
        return changed

    def handled(self, state: CustomerState, alert: Alert, resolved: bool) -> None:
        """An operator acted on *alert*: someone owns its case now, so nothing more is raised for it.

        A resolved case is closed, so a new question in the same conversation starts a new case.
        """
        for conversation, case_data in list(state.sla_cases.items()):
            if case_data[3] in alert.evidence:
                if resolved:
                    del state.sla_cases[conversation]
                    continue
                case = sla.Case.from_list(case_data)
                case.flags |= sla.HANDLED
                state.sla_cases[conversation] = case.to_list()

    def due(self, state: CustomerState) -> int | None:
        """When the first of the customer's cases next needs attention (None: never)."""
        first: int | None = None
        for data in state.sla_cases.values():
            first = sooner(first, sla.next_due(data))
        return first


def _item(warning: Alert, case: sla.Case) -> DueSoon:
    """The digest item of a case's warning."""
    return DueSoon(
        item_id=warning.alert_id,
        customer_id=warning.customer_id,
        channel=case.channel,
        location=case.location,
        evidence=case.event_id,
        asked_at=case.opened_at,
        warn_at=case.warn_at,
        deadline=case.deadline,
        severity=warning.severity,
        reasons=warning.reasons,
        topic=case.topic,
        stage=warning.stage,
        value_tier=warning.value_tier,
    )
