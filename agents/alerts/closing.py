"""How an open alert ends without a person: its cause clears, a newer alert supersedes it, or it expires.

Every alert type has a clearing condition (docs/concepts.md, "Every alert ends"):

* a first-response alert clears with the conversation's first reply (``auto:first_reply``), and
  the early warning when the breach supersedes it (``auto:superseded``): agents/alerts/sla_cases.py;
* a detector's alert clears as its detector's ``clears`` says (the issue's resolution, a purchase,
  a referral …), asked on each touchpoint whose type is in the detector's ``cleared_by``
  (agents/detectors/base.py; agents/journey/detection.py asks);
* an escalation supersedes the alert it escalates (``Finding.supersedes``);
* and every alert, whatever its type, expires ``alerts.expire_after_hours`` after it was raised
  (``auto:expired``): for a type with no natural clearing event (a long wait, a transfer chain, a
  changed usage pattern) this is how it ends, and for the others it bounds how long an alert
  whose cause nobody recorded can stay open.

An acknowledged alert clears and expires like an open one. Each end republishes the whole alert
as ``resolved`` with ``status_changed_by: "auto:<reason>"``; the decisions use event time only, so
replay and the live worker publish the same records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from agents.alerts import sla
from agents.calendar import Calendars
from agents.config import AlertConfig
from agents.domain.alert import RESOLVED, Alert
from agents.domain.instants import sooner
from agents.domain.outputs import Outputs
from agents.domain.state import CustomerState

__all__ = ["AUTO", "AUTO_REASONS", "DISPLACED", "EXPIRED", "SUPERSEDED", "Closing", "auto_reason", "close"]

#: ``status_changed_by`` of every end the worker decides itself starts with this.
AUTO: Final = "auto:"
EXPIRED: Final = "auto:expired"
SUPERSEDED: Final = "auto:superseded"
#: More alerts open for the customer than ``alerts.max_open_per_customer``: the oldest gives way.
DISPLACED: Final = "auto:displaced"
#: Every reason the built-in rules close an alert for (``auto:<reason>``); a plug-in's own counts as ``other``.
AUTO_REASONS: Final = (
    "first_reply",
    "resolution",
    "recovered",
    "purchase",
    "referral",
    "complaint",
    "service_closed",
    "settled",
    "superseded",
    "expired",
    "displaced",
    "merged",
    "split",
    "erased",
    "other",
)


def auto_reason(status_changed_by: str | None) -> str | None:
    """The reason of an automatic end (``auto:expired`` → ``expired``, unknown ones ``other``); None for a person's."""
    if not status_changed_by or not status_changed_by.startswith(AUTO):
        return None
    reason = status_changed_by.removeprefix(AUTO)
    return reason if reason in AUTO_REASONS else "other"


def close(state: CustomerState, alert: Alert, at: int, by: str, out: Outputs, **details: Any) -> Alert:
    """Republish the customer's open *alert* as resolved by *by* at *at* (into *out*), and forget it."""
    state.alerts_open.pop(alert.alert_id, None)
    resolved = alert.with_status(RESOLVED, at, by, **details)
    out.alerts.append(resolved)
    out.resolved.append((resolved, at - alert.detected_at))
    return resolved


class Closing:
    """The clearing conditions and expiry of one configuration, applied to customers' open alerts."""

    def __init__(self, config: AlertConfig, calendars: Calendars) -> None:
        self._config = config
        self._calendars = calendars
        #: Each alert type's time to live, as ``expiry_seconds`` gives it (checked on every event).
        self._expiry: dict[str, int] = {}

    def supersede(
        self, state: CustomerState, customer_id: str, alert_ids: Sequence[str], by: Alert, out: Outputs
    ) -> None:
        """Resolve the open alerts *alert_ids* that the newer alert *by* replaces."""
        for alert_id in alert_ids:
            data = state.alerts_open.get(alert_id)
            if data is not None and alert_id != by.alert_id:
                alert = sla.revive(alert_id, customer_id, data, self._calendars)
                close(state, alert, by.detected_at, SUPERSEDED, out, superseded_by=by.alert_id)

    def expire_due(self, state: CustomerState, customer_id: str, until: int, out: Outputs) -> None:
        """Resolve, as expired, every open alert of the customer whose time ran out at or before *until*."""
        due = sorted(
            (expiry, alert_id)
            for alert_id, data in state.alerts_open.items()
            if (expiry := self.expires_at(alert_id, data)) <= until
        )
        for expiry, alert_id in due:
            alert = sla.revive(alert_id, customer_id, state.alerts_open[alert_id], self._calendars)
            close(state, alert, expiry, EXPIRED, out)

    def due(self, state: CustomerState) -> int | None:
        """When the customer's first open alert expires (None: no open alert)."""
        first: int | None = None
        for alert_id, data in state.alerts_open.items():
            first = sooner(first, self.expires_at(alert_id, data))
        return first

    def make_room(self, state: CustomerState, newest: Alert, out: Outputs) -> None:
        """Resolve the oldest open alerts beyond ``alerts.max_open_per_customer`` as *newest* comes in."""
        while len(state.alerts_open) > self._config.max_open_per_customer:
            oldest = min(
                (key for key in state.alerts_open if key != newest.alert_id),
                key=lambda key: (state.alerts_open[key][2], key),
            )
            alert = sla.revive(oldest, newest.customer_id, state.alerts_open[oldest], self._calendars)
            close(state, alert, newest.detected_at, DISPLACED, out, displaced_by=newest.alert_id)

    def expires_at(self, alert_id: str, data: list[Any]) -> int:
        """The instant an open alert (its id and compact form) expires: detected at + the type's TTL."""
        alert_type = alert_id.partition("/")[0]
        seconds = self._expiry.get(alert_type)
        if seconds is None:
            seconds = self._expiry[alert_type] = self._config.expiry_seconds(alert_type)
        return int(data[2]) + seconds
