"""Open alerts moving with a merge or a split: the new id, the text naming the new customer, both statuses."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from agents.alerts import moves
from agents.config import default_config
from agents.domain.alert import (
    ACKNOWLEDGED,
    AFTER_HOURS_UNANSWERED,
    OPEN,
    RESOLVED,
    WARNING,
    Alert,
    make_alert_id,
)

pytestmark = pytest.mark.unit

CALENDARS = default_config().calendars
PROFILE = "id:device_id:0123456789abcdef0123"
CUSTOMER = "cust-anna"
BERLIN = ZoneInfo("Europe/Berlin")


def epoch(when: str) -> int:
    return int(datetime.fromisoformat(when).replace(tzinfo=BERLIN).timestamp())


def waited(customer: str, status: str = OPEN) -> Alert:
    """A detector's alert about *customer*, whose text names them."""
    evidence = ("call-7",)
    return Alert(
        alert_id=make_alert_id("long_wait", customer, evidence),
        type="long_wait",
        severity=WARNING,
        customer_id=customer,
        occurred_at=epoch("2026-01-05 10:00"),
        detected_at=epoch("2026-01-05 10:25"),
        summary=f"Customer {customer} waited 25 min in the phone queue at Mon 05 Jan 10:00 CET.",
        reasons=("long_wait",),
        evidence=evidence,
        stage="active",
        value_tier="standard",
        suggested_action=f"Call {customer} back and apologise for the wait.",
        channel="phone",
        status=status,
        details={"wait_seconds": 1500},
    )


def unanswered(customer: str) -> Alert:
    """A first-response alert about *customer*: the state keeps its facts, not its text."""
    evidence = ("conv-1", "q-1")
    return Alert(
        alert_id=make_alert_id(AFTER_HOURS_UNANSWERED, customer, evidence),
        type=AFTER_HOURS_UNANSWERED,
        severity=WARNING,
        customer_id=customer,
        occurred_at=epoch("2026-01-05 19:30"),
        detected_at=epoch("2026-01-05 20:00"),
        summary="",
        reasons=("after_hours",),
        evidence=evidence,
        stage="new",
        value_tier="standard",
        suggested_action="",
        channel="chat",
        details={"deadline": datetime.fromisoformat("2026-01-05T20:00:00+01:00").isoformat()},
    )


def test_an_alert_moves_to_the_id_its_evidence_gives_under_the_customer() -> None:
    alert = waited(PROFILE)
    new_id = moves.moved_id(alert.alert_id, alert.compact(), CUSTOMER)
    assert new_id == waited(CUSTOMER).alert_id
    assert new_id.startswith(f"long_wait/{CUSTOMER}/")


def test_a_moved_detector_alert_names_the_customer_in_its_summary_and_action() -> None:
    kept = moves.moved(waited(PROFILE).compact(), PROFILE, CUSTOMER)
    alert = Alert.from_compact(waited(CUSTOMER).alert_id, CUSTOMER, kept)
    assert alert.summary == "Customer cust-anna waited 25 min in the phone queue at Mon 05 Jan 10:00 CET."
    assert alert.suggested_action == "Call cust-anna back and apologise for the wait."
    assert PROFILE not in alert.summary


def test_moving_leaves_the_profiles_own_facts_untouched() -> None:
    facts = waited(PROFILE).compact()
    kept = moves.moved(facts, PROFILE, CUSTOMER)
    assert kept[:11] == facts[:11]
    assert facts[11].startswith(f"Customer {PROFILE} "), "a copy is changed, not the profile's"
    # A first-response alert keeps no text: its facts move as they are, the text is rebuilt for the customer.
    sla_facts = unanswered(PROFILE).compact()
    assert moves.moved(sla_facts, PROFILE, CUSTOMER) == sla_facts


def test_the_alert_left_behind_is_resolved_by_the_merge_and_says_where_it_went() -> None:
    alert = waited(PROFILE)
    new_id = waited(CUSTOMER).alert_id
    at = epoch("2026-01-06 08:30")
    closed = moves.closed(
        alert.alert_id,
        PROFILE,
        alert.compact(),
        at,
        moves.AUTO_MERGED,
        CALENDARS,
        merged_into=new_id,
    )
    assert (closed.alert_id, closed.customer_id) == (alert.alert_id, PROFILE)
    assert (closed.status, closed.status_changed_at, closed.status_changed_by) == (
        RESOLVED,
        at,
        "auto:merged",
    )
    # A detector's alert keeps its text, not its details (those stay with the alert published first).
    assert closed.details == {"wait_seconds": 1500, "merged_into": new_id}, (
        "its own details kept, and where it went"
    )
    assert closed.summary == alert.summary


def test_a_first_response_alert_left_behind_is_described_for_the_profile() -> None:
    alert = unanswered(PROFILE)
    at = epoch("2026-01-06 08:30")
    closed = moves.closed(
        alert.alert_id, PROFILE, alert.compact(), at, moves.AUTO_MERGED, CALENDARS, merged_into="x"
    )
    assert closed.summary.startswith(f"Customer {PROFILE} asked on chat at Mon 05 Jan 19:30 CET, after hours")
    assert (closed.status, closed.status_changed_at) == (RESOLVED, at)


def test_the_moved_alert_is_published_under_the_customer_with_the_status_it_had() -> None:
    old = waited(PROFILE, status=ACKNOWLEDGED)
    new_id = waited(CUSTOMER).alert_id
    kept = moves.moved(old.compact(), PROFILE, CUSTOMER)
    at = epoch("2026-01-06 08:30")
    reopened = moves.reopened(
        new_id, CUSTOMER, kept, at, moves.AUTO_MERGED, CALENDARS, merged_from=old.alert_id
    )
    assert (reopened.alert_id, reopened.customer_id) == (new_id, CUSTOMER)
    assert reopened.status == ACKNOWLEDGED, "an acknowledged alert stays acknowledged"
    assert (reopened.status_changed_at, reopened.status_changed_by) == (at, "auto:merged")
    assert reopened.details == {"wait_seconds": 1500, "merged_from": old.alert_id}
    assert reopened.summary.startswith("Customer cust-anna waited 25 min")


def test_a_split_gives_a_first_response_alert_back_to_the_profile_described_for_it() -> None:
    alert = unanswered(CUSTOMER)
    at = epoch("2026-01-07 12:00")
    back = moves.reopened(
        unanswered(PROFILE).alert_id,
        PROFILE,
        alert.compact(),
        at,
        moves.AUTO_SPLIT,
        CALENDARS,
        split_from=alert.alert_id,
    )
    assert back.customer_id == PROFILE
    assert back.summary.startswith(f"Customer {PROFILE} asked on chat")
    assert (back.status, back.status_changed_at, back.status_changed_by) == (OPEN, at, "auto:split")
    assert back.details["split_from"] == alert.alert_id
    assert back.details["deadline"] == alert.details["deadline"]
