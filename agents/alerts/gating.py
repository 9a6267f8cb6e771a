"""Whether a new alert reaches people: once per evidence, never while inhibited, snoozed or cooling down.

A rule (a first-response deadline, a detector) says what it found; the gate decides, per customer,
whether it is published. The alert's id is deterministic, so the same evidence is one alert however
often it is found. An open alert of an inhibiting type (or an open complaint) holds back the types
it inhibits; an operator's snooze holds back its type until it ends; and the type's cooldown
holds back a repeat, unless the repeat is critical: a worsening is always said. A raised alert
closes the ones it replaces (an escalation its warning), and the customer's oldest open alerts
beyond ``alerts.max_open_per_customer`` give way to it (agents/alerts/closing.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agents.alerts.closing import Closing
from agents.config import AlertConfig
from agents.domain.alert import CRITICAL, Alert
from agents.domain.outputs import Outputs
from agents.domain.state import CustomerState

__all__ = ["AlertGate"]

#: In ``detectors.inhibitions``: any open complaint of the customer inhibits.
COMPLAINT = "complaint"


class AlertGate:
    """The alerting rules of the rules file (``alerts``, ``detectors.inhibitions``), applied per customer."""

    def __init__(
        self, config: AlertConfig, inhibitions: Mapping[str, Sequence[str]], closing: Closing
    ) -> None:
        self._config = config
        self._inhibitions: dict[str, list[str]] = {kind: list(by) for kind, by in inhibitions.items()}
        self._closing = closing

    def raise_alert(
        self, state: CustomerState, alert: Alert, out: Outputs, replaces: Sequence[str] = ()
    ) -> bool:
        """Publish *alert* (into *out*) unless inhibited, snoozed or within its type's cooldown.

        True when the alert is open: raised now, or already (the same evidence gives the same alert).
        A suppressed alert is counted in ``out.suppressed`` with why. A raised alert closes the open
        alerts *replaces* names (``auto:superseded``).
        """
        if alert.alert_id in state.alerts_open:
            return True  # already raised: the same evidence gives the same alert
        if self._inhibited(state, alert.type):
            out.suppressed.append((alert.type, "inhibited"))
            return False
        if state.snoozed.get(alert.type, 0) > alert.detected_at:
            out.suppressed.append((alert.type, "snoozed"))
            return False
        last = state.alert_last.get(alert.type)
        cooldown = self._config.cooldown_seconds(alert.type)
        cooling = last is not None and 0 <= alert.detected_at - last < cooldown
        # An escalation to critical is always reported: the cooldown is against repetition, not worsening.
        if cooling and alert.severity != CRITICAL:
            out.suppressed.append((alert.type, "cooldown"))
            return False
        state.alert_last[alert.type] = alert.detected_at if last is None else max(last, alert.detected_at)
        # What it replaces closes first: a consumer reading in order never sees both open.
        self._closing.supersede(state, alert.customer_id, replaces, alert, out)
        state.alerts_open[alert.alert_id] = alert.compact()
        out.alerts.append(alert)
        self._closing.make_room(state, alert, out)
        return True

    def _inhibited(self, state: CustomerState, alert_type: str) -> bool:
        inhibitors = self._inhibitions.get(alert_type)
        if not inhibitors:
            return False
        if COMPLAINT in inhibitors and state.complaints_open:
            return True
        return any(alert_id.partition("/")[0] in inhibitors for alert_id in state.alerts_open)
