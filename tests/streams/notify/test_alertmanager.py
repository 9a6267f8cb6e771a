"""The alert → Alertmanager mapping, pure: labels identify and route, annotations say what to do."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import schemas
from streams.notify.alertmanager import console_link, expired_alert, postable_alert

pytestmark = pytest.mark.unit

OPEN, RESOLVED = (copy.deepcopy(example) for example in schemas.load_schema("alert")["examples"])
NOW = datetime(2026, 1, 5, 19, 10, tzinfo=UTC)
RESEND = timedelta(minutes=1)
CONSOLE = "https://console.example.com/"


def _post(alert: dict[str, Any]) -> dict[str, Any]:
    return postable_alert(alert, console_url=CONSOLE, now=NOW, resend=RESEND)


def test_an_open_alert_fires_with_routing_labels_and_readable_annotations() -> None:
    posted = _post(OPEN)
    assert posted["labels"] == {
        "alertname": "after_hours_unanswered",
        "alert_id": "after_hours_unanswered/cust-000042/4f1c2a9be07d",
        "severity": "critical",
        "customer_id": "cust-000042",
        "location": "team-support",
        "channel": "chat",
        "value_tier": "bronze",
    }
    notes = posted["annotations"]
    assert notes["summary"] == OPEN["summary"]
    assert notes["suggested_action"] == notes["description"] == OPEN["suggested_action"]
    assert (
        notes["console_url"]
        == "https://console.example.com/alerts/after_hours_unanswered/cust-000042/4f1c2a9be07d"
    )
    assert posted["generatorURL"] == notes["console_url"]
    assert notes["status"] == "open"
    assert posted["startsAt"] == "2026-01-05T19:00:00+00:00"
    assert posted["endsAt"] == (NOW + 4 * RESEND).isoformat(), "valid for four resend intervals"


def test_a_resolved_alert_ends_when_its_status_changed_with_the_same_labels() -> None:
    posted = _post(RESOLVED)
    assert posted["labels"] == _post(OPEN)["labels"], "Alertmanager must see the same alert"
    assert posted["endsAt"] == "2026-01-06T08:02:11+00:00"
    assert posted["annotations"]["status_changed_by"] == "auto:first_reply"


def test_an_acknowledged_alert_keeps_firing_and_says_who_owns_it() -> None:
    acknowledged = {
        **OPEN,
        "status": "acknowledged",
        "status_changed_by": "anna",
        "status_changed_at": "2026-01-05T19:04:00+00:00",
    }
    posted = _post(acknowledged)
    assert posted["labels"] == _post(OPEN)["labels"]
    assert datetime.fromisoformat(posted["endsAt"]) > NOW
    assert posted["annotations"]["status"] == "acknowledged"
    assert posted["annotations"]["status_changed_by"] == "anna"


def test_missing_optional_fields_leave_no_empty_labels() -> None:
    bare = {**OPEN, "channel": None, "location": None}
    labels = _post(bare)["labels"]
    assert "channel" not in labels
    assert "location" not in labels
    assert all(value for value in labels.values())


def test_an_end_never_precedes_the_start() -> None:
    early = {**RESOLVED, "status_changed_at": "2026-01-05T18:00:00+00:00"}
    posted = _post(early)
    assert posted["endsAt"] == posted["startsAt"]


def test_an_expired_alert_ends_now() -> None:
    posted = expired_alert(OPEN, console_url=CONSOLE, now=NOW)
    assert posted["endsAt"] == NOW.isoformat()
    assert posted["annotations"]["status"] == "expired"


def test_console_links_keep_the_alert_ids_slashes_and_escape_the_rest() -> None:
    assert (
        console_link("http://c/", "long_wait/id:phone:ab/0123456789ab")
        == "http://c/alerts/long_wait/id:phone:ab/0123456789ab"
    )
    assert (
        console_link("http://c", "long_wait/a b?#/0123456789ab")
        == "http://c/alerts/long_wait/a%20b%3F%23/0123456789ab"
    )
