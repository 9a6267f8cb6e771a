"""Forgetting a customer: what the last records about them say, and where their identity links are told to go."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from agents.config import default_config
from agents.domain.alert import AFTER_HOURS_UNANSWERED, RESOLVED, WARNING, Alert, make_alert_id
from agents.domain.identity import Forward, Unlink
from agents.domain.outputs import Erasure
from agents.domain.state import CustomerState
from agents.journey.erasure import ERASED_BY, MAX_CLAIMED, erase, note_claims, requested_instant, unlinks

pytestmark = pytest.mark.unit

CALENDARS = default_config().calendars
ERASED_AT = datetime(2026, 1, 6, 12, 0, tzinfo=UTC).timestamp()


def request(**overrides: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "request_id": "dsr-77",
        "customer_id": "cust-anna",
        "requested_at": "2026-01-06T11:30:00+00:00",
        "by": "privacy-office",
        "reason": "gdpr-art-17",
        **overrides,
    }


def waited(detected_at: int) -> Alert:
    evidence = ("call-7",)
    return Alert(
        alert_id=make_alert_id("long_wait", "cust-anna", evidence),
        type="long_wait",
        severity=WARNING,
        customer_id="cust-anna",
        occurred_at=detected_at - 60,
        detected_at=detected_at,
        summary="Customer cust-anna waited 25 min in the phone queue at Tue 06 Jan 10:00 CET.",
        reasons=("long_wait",),
        evidence=evidence,
        stage="active",
        value_tier="top",
        suggested_action="Call cust-anna back and apologise for the wait.",
        channel="phone",
        details={"wait_seconds": 1500},
    )


@pytest.mark.parametrize(
    "written", ["2026-01-06T11:30:00Z", "2026-01-06t11:30:00z", "2026-01-06T12:30:00+01:00"]
)
def test_the_requests_instant_is_read_in_any_case_and_offset_rfc_3339_allows(written: str) -> None:
    assert requested_instant(request(requested_at=written)) == int(
        datetime(2026, 1, 6, 11, 30, tzinfo=UTC).timestamp()
    )


def test_the_last_record_of_an_open_alert_resolves_it_and_keeps_nothing_about_the_customer() -> None:
    alert = waited(int(ERASED_AT) - 3600)
    state = CustomerState(alerts_open={alert.alert_id: alert.compact()})
    out = erase(state, "cust-anna", request(), ERASED_AT, CALENDARS)
    [resolved] = out.alerts
    assert (resolved.alert_id, resolved.customer_id, resolved.type) == (
        alert.alert_id,
        "cust-anna",
        "long_wait",
    )
    assert (resolved.status, resolved.status_changed_at, resolved.status_changed_by) == (
        RESOLVED,
        int(ERASED_AT),
        ERASED_BY,
    )
    assert (
        resolved.summary == "Resolved: the customer was erased on request; nothing more is kept about them."
    )
    assert resolved.suggested_action == "Erase any copy of this alert you keep (see privacy.erasures)."
    assert resolved.details == {}
    assert out.resolved == [(resolved, 3600)], "open for an hour until the erasure"


def test_an_alert_dated_after_the_erasure_by_a_skewed_clock_was_open_for_no_time() -> None:
    alert = waited(int(ERASED_AT) + 90)
    state = CustomerState(alerts_open={alert.alert_id: alert.compact()})
    [(_, open_for)] = erase(state, "cust-anna", request(), ERASED_AT, CALENDARS).resolved
    assert open_for == 0


def test_the_confirmation_tells_downstream_services_who_was_forgotten_when_and_why() -> None:
    alerts = [waited(int(ERASED_AT) - 60 * n) for n in (1, 2)]
    state = CustomerState(
        alerts_open={f"{alert.alert_id[:-1]}{n}": alert.compact() for n, alert in enumerate(alerts)}
    )
    out = erase(state, "cust-anna", request(), ERASED_AT, CALENDARS)
    assert out.erasure == Erasure(
        request_id="dsr-77",
        customer_id="cust-anna",
        requested_at="2026-01-06T11:30:00+00:00",
        erased_at=ERASED_AT,
        by="privacy-office",
        reason="gdpr-art-17",
        found=True,
        alerts_resolved=2,
    )
    unknown = erase(None, "cust-404", request(customer_id="cust-404"), ERASED_AT, CALENDARS)
    assert (unknown.alerts, unknown.erasure is not None and unknown.erasure.found) == ([], False)


def test_the_identifiers_a_customer_carried_are_kept_newest_last_each_once() -> None:
    state = CustomerState()
    for value in ("h:aaaaaaaaaaaaaaaaaaaa", "h:bbbbbbbbbbbbbbbbbbbb", "h:aaaaaaaaaaaaaaaaaaaa"):
        note_claims(state, {"identifiers": {"email": value, "device_id": "h:dddddddddddddddddddd"}})
    # The device, carried every time, stays where it was last put; the e-mail carried again moves last.
    assert state.claimed == [
        "id:email:bbbbbbbbbbbbbbbbbbbb",
        "id:email:aaaaaaaaaaaaaaaaaaaa",
        "id:device_id:dddddddddddddddddddd",
    ]
    note_claims(
        state, {"identifiers": {"device_id": "h:dddddddddddddddddddd", "phone": "h:pppppppppppppppppppp"}}
    )
    assert state.claimed[-2:] == ["id:phone:pppppppppppppppppppp", "id:device_id:dddddddddddddddddddd"]
    # An event whose first identifier is already the newest still moves the others it carried.
    note_claims(state, {"identifiers": {"email": "h:aaaaaaaaaaaaaaaaaaaa"}})
    note_claims(
        state, {"identifiers": {"email": "h:aaaaaaaaaaaaaaaaaaaa", "device_id": "h:dddddddddddddddddddd"}}
    )
    assert state.claimed[-2:] == ["id:email:aaaaaaaaaaaaaaaaaaaa", "id:device_id:dddddddddddddddddddd"]
    for n in range(MAX_CLAIMED + 2):
        note_claims(state, {"identifiers": {"email": f"h:{n:020d}"}})
    assert len(state.claimed) == MAX_CLAIMED
    assert state.claimed[-1] == f"id:email:{MAX_CLAIMED + 1:020d}"


def test_every_identifier_claimed_or_merged_in_is_told_once_to_forget_the_customer() -> None:
    state = CustomerState(
        claimed=["id:email:aaaaaaaaaaaaaaaaaaaa", "id:device_id:dddddddddddddddddddd", "cust-anna"],
        merges=[
            ["id:device_id:dddddddddddddddddddd", 5, "ev-1"],
            ["id:phone:pppppppppppppppppppp", 6, "ev-2"],
        ],
    )
    at = requested_instant(request())
    assert unlinks(state, "cust-anna", at) == [
        Forward(key, control=Unlink(key, "cust-anna", at))
        for key in (
            "id:device_id:dddddddddddddddddddd",
            "id:phone:pppppppppppppppppppp",
            "id:email:aaaaaaaaaaaaaaaaaaaa",
        )
    ]
    assert unlinks(None, "cust-anna", at) == []


def test_a_first_response_alerts_last_record_drops_its_facts_too() -> None:
    # Its facts (the deadline, the topic asked about) stay in the state, not in its text: they go as well.
    evidence = ("conv-1", "q-1")
    alert = Alert(
        alert_id=make_alert_id(AFTER_HOURS_UNANSWERED, "cust-anna", evidence),
        type=AFTER_HOURS_UNANSWERED,
        severity=WARNING,
        customer_id="cust-anna",
        occurred_at=int(ERASED_AT) - 7200,
        detected_at=int(ERASED_AT) - 5400,
        summary="",
        reasons=("after_hours",),
        evidence=evidence,
        stage="new",
        value_tier="standard",
        suggested_action="",
        channel="chat",
        details={"deadline": "2026-01-06T10:30:00+00:00", "topic": "a private matter"},
    )
    state = CustomerState(alerts_open={alert.alert_id: alert.compact()})
    [resolved] = erase(state, "cust-anna", request(), ERASED_AT, CALENDARS).alerts
    assert resolved.details == {}
    assert "private" not in resolved.encode().decode()
