"""One Touchpoint alert as Prometheus Alertmanager's API v2 wants it (``POST /api/v2/alerts``).

Pure: a function of the alert record, the clock and two settings, unit-tested without
Alertmanager. Alertmanager identifies an alert by its label set, so the labels hold what
identifies and routes it (the alert id, type, severity, customer, location, channel,
value tier) and never what changes with its status; the status, text and link are
annotations, which may change between posts of the same alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

from streams.alert_records import ACTIVE_STATUSES

#: How many resend intervals a firing alert stays valid without a re-post (Prometheus uses 4 as well):
#: a stopped bridge's alerts end by themselves instead of firing forever.
VALID_FOR_RESENDS: Final = 4


def console_link(console_url: str, alert_id: str) -> str:
    """The alert's page in the console."""
    return f"{console_url.rstrip('/')}/alerts/{quote(alert_id, safe='/:@')}"


def alert_labels(alert: Mapping[str, Any]) -> dict[str, str]:
    """Alertmanager labels: identity and routing. Null fields are left out (an empty label is no label)."""
    found = {
        "alertname": alert["type"],
        "alert_id": alert["alert_id"],
        "severity": alert["severity"],
        "customer_id": alert["customer_id"],
        "location": alert.get("location"),
        "channel": alert.get("channel"),
        "value_tier": (alert.get("customer") or {}).get("value_tier"),
    }
    return {name: str(value) for name, value in found.items() if value not in (None, "")}


def alert_annotations(alert: Mapping[str, Any], console_url: str) -> dict[str, str]:
    """Alertmanager annotations: what a person reads in the notification."""
    customer = alert.get("customer") or {}
    found = {
        "summary": alert["summary"],
        # `description` is what most receivers' default templates show under the summary.
        "description": alert["suggested_action"],
        "suggested_action": alert["suggested_action"],
        "console_url": console_link(console_url, alert["alert_id"]),
        "status": alert["status"],
        "status_changed_by": alert.get("status_changed_by"),
        "reasons": ", ".join(alert.get("reasons") or ()),
        "stage": customer.get("stage"),
        "occurred_at": alert.get("occurred_at"),
    }
    return {name: str(value) for name, value in found.items() if value not in (None, "")}


def is_active(alert: Mapping[str, Any]) -> bool:
    """True while someone still has to act: open or acknowledged (the cause has not cleared)."""
    return alert["status"] in ACTIVE_STATUSES


def postable_alert(
    alert: Mapping[str, Any], *, console_url: str, now: datetime, resend: timedelta
) -> dict[str, Any]:
    """The API v2 ``postableAlert`` for *alert* (schemas/alert.v1.json) at wall-clock *now*.

    An active alert starts at its ``detected_at`` and is valid for VALID_FOR_RESENDS
    resend intervals from *now*; a resolved one ends when its status changed (never
    before it started: Alertmanager refuses an end before the start).
    """
    starts = datetime.fromisoformat(alert["detected_at"])
    if is_active(alert):
        ends = now + resend * VALID_FOR_RESENDS
    else:
        changed = alert.get("status_changed_at")
        ends = datetime.fromisoformat(changed) if changed else now
    ends = max(ends, starts)
    return {
        "labels": alert_labels(alert),
        "annotations": alert_annotations(alert, console_url),
        "startsAt": starts.isoformat(),
        "endsAt": ends.isoformat(),
        "generatorURL": console_link(console_url, alert["alert_id"]),
    }


def expired_alert(alert: Mapping[str, Any], *, console_url: str, now: datetime) -> dict[str, Any]:
    """*alert* ended at *now*: the worker no longer keeps it (past ``alerts.retain_days``), so nobody can
    act on it any more."""
    posted = postable_alert(alert, console_url=console_url, now=now, resend=timedelta(0))
    posted["endsAt"] = max(now, datetime.fromisoformat(alert["detected_at"])).isoformat()
    posted["annotations"]["status"] = "expired"
    return posted
