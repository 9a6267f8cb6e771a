"""Operators' actions on alerts (schemas/alert_action.v1.json): acknowledge, resolve, snooze.

An action names one of the customer's open alerts and republishes it with its new status. It is
refused when it names no open alert of the customer (``unknown_alert``) or when its ``at`` is
further from its record's broker timestamp than the skew bound (``stale_action``): nobody can
replay an old action or date one ahead. A snooze longer than ``alerts.max_snooze_minutes`` is
clamped, and the alert says so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agents.alerts import sla
from agents.alerts.sla_cases import FirstResponseCases
from agents.calendar import Calendars
from agents.domain.alert import ACKNOWLEDGED, OPEN, RESOLVED
from agents.domain.instants import describe_duration, iso
from agents.domain.outputs import Outputs
from agents.domain.refusal import STALE_ACTION, UNKNOWN_ALERT, Rejected
from agents.domain.state import CustomerState

__all__ = ["AlertActions"]


class AlertActions:
    """Applies operators' actions to the alerts kept in customers' states."""

    def __init__(
        self, calendars: Calendars, cases: FirstResponseCases, max_future_skew: int, max_snooze: int
    ) -> None:
        self._calendars = calendars
        self._cases = cases
        self._skew = max_future_skew
        self._max_snooze = max_snooze

    def apply(
        self,
        state: CustomerState | None,
        customer_id: str,
        action: dict[str, Any],
        received_at: float | None = None,
    ) -> Outputs:
        """Apply *action* to the customer's alert it names; ``refused`` says why when it cannot be.

        *received_at* is the action record's broker timestamp (epoch seconds), None without one.
        """
        out = Outputs()
        alert_id = action["alert_id"]
        at = int(datetime.fromisoformat(action["at"].upper()).timestamp())
        if received_at is not None and abs(at - received_at) > self._skew:
            side = "after" if at > received_at else "before"
            out.refused = Rejected(
                STALE_ACTION,
                f"action at {action['at']} is {describe_duration(at - received_at)} {side} its record's "
                f"timestamp {iso(int(received_at))} (at most {describe_duration(self._skew)})",
                "at",
            )
            return out
        data = None if state is None else state.alerts_open.get(alert_id)
        if state is None or data is None:
            out.unknown_alert = True
            out.refused = Rejected(
                UNKNOWN_ALERT,
                f"no open alert {alert_id!r} for this customer (never raised, already resolved or forgotten)",
                "alert_id",
            )
            return out
        alert = sla.revive(alert_id, customer_id, data, self._calendars)
        by = action["by"]
        kind = action["action"]
        if kind == "resolve":
            updated = alert.with_status(RESOLVED, at, by)
            del state.alerts_open[alert_id]
            out.resolved.append((updated, at - alert.detected_at))
        else:
            details: dict[str, Any] = {}
            if kind == "snooze":
                requested = int(datetime.fromisoformat(action["until"].upper()).timestamp())
                until = min(requested, at + self._max_snooze)
                details["snoozed_until"] = action["until"] if until == requested else iso(until)
                if until < requested:
                    details["snooze_clamped_from"] = action["until"]
                state.snoozed[alert.type] = max(state.snoozed.get(alert.type, 0), until)
            updated = alert.with_status(ACKNOWLEDGED, at, by, **details)
            state.alerts_open[alert_id] = updated.compact()
            if alert.status == OPEN:
                out.acknowledged.append((updated, at - alert.detected_at))
        out.alerts.append(updated)
        self._cases.handled(state, alert, resolved=kind == "resolve")
        return out
