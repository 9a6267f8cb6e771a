"""Open alerts that move with their evidence when an anonymous profile merges into a customer, or back.

An alert's id is ``<type>/<customer>/<digest of type, customer and evidence>``: under the customer
the same evidence gives another id, deterministically, so a replay moves every alert to the same
new id. Under its old id the alert is resolved (``auto:merged``, ``details.merged_into``); under the
new one it is republished with its status (``details.merged_from``), its text naming the customer.
A split does the reverse (``auto:split``). Both ids are recorded on ``identity.merges``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from agents.alerts import sla
from agents.calendar import Calendars
from agents.domain.alert import RESOLVED, Alert, make_alert_id

__all__ = ["AUTO_MERGED", "AUTO_SPLIT", "closed", "moved", "moved_id", "reopened"]

AUTO_MERGED: Final = "auto:merged"
AUTO_SPLIT: Final = "auto:split"

#: Where ``Alert.compact`` keeps a detector alert's own text.
_SUMMARY, _ACTION = 11, 12


def moved_id(alert_id: str, data: list[Any], customer_id: str) -> str:
    """The id the open alert *alert_id* (kept as *data*) has under *customer_id*."""
    return make_alert_id(alert_id.partition("/")[0], customer_id, data[4])


def moved(data: list[Any], from_id: str, into_id: str) -> list[Any]:
    """The kept facts of an alert about *from_id*, now about *into_id* (a detector's text names the customer)."""
    data = list(data)
    for index in (_SUMMARY, _ACTION):
        if len(data) > index and isinstance(data[index], str):
            data[index] = data[index].replace(from_id, into_id)
    return data


def closed(
    alert_id: str, customer_id: str, data: list[Any], at: int, by: str, calendars: Calendars, **details: Any
) -> Alert:
    """The alert *alert_id* of *customer_id*, resolved because it moved (*details* say where)."""
    return sla.revive(alert_id, customer_id, data, calendars).with_status(RESOLVED, at, by, **details)


def reopened(
    alert_id: str, customer_id: str, data: list[Any], at: int, by: str, calendars: Calendars, **details: Any
) -> Alert:
    """The alert *alert_id* of *customer_id*, published again with the status it had, because it moved here."""
    alert = sla.revive(alert_id, customer_id, data, calendars)
    return replace(alert, status_changed_at=at, status_changed_by=by, details={**alert.details, **details})
