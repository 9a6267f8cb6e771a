"""The alert record and its lifecycle: deterministic ids, severity, and what an operator's action does."""

from __future__ import annotations

import re
from dataclasses import replace

import orjson
import pytest

import schemas
from agents.alerts.sla import describe
from agents.domain.alert import (
    ACKNOWLEDGED,
    AFTER_HOURS_UNANSWERED,
    CRITICAL,
    FIRST_RESPONSE_BREACH,
    INFO,
    OPEN,
    RESOLVED,
    WARNING,
    Alert,
    make_alert_id,
    parse_alert_id,
    raise_severity,
)
from tests.agents.alerts.test_sla import BERLIN, Desk, answers, asks, epoch

pytestmark = pytest.mark.unit

ID_PATTERN = re.compile(schemas.load_schema("alert")["properties"]["alert_id"]["pattern"])


# --- ids --------------------------------------------------------------------------------------------------


def test_an_alert_id_is_deterministic_and_reads_type_customer_digest() -> None:
    first = make_alert_id("after_hours_unanswered", "cust-42", ["ev-1"])
    assert first == make_alert_id("after_hours_unanswered", "cust-42", ("ev-1",))
    assert ID_PATTERN.fullmatch(first)
    assert first.startswith("after_hours_unanswered/cust-42/")
    assert parse_alert_id(first) == ("after_hours_unanswered", "cust-42")


@pytest.mark.parametrize(
    ("alert_type", "customer", "evidence"),
    [
        pytest.param("first_response_breach", "cust-42", ("ev-1",), id="another type"),
        pytest.param("after_hours_unanswered", "cust-43", ("ev-1",), id="another customer"),
        pytest.param("after_hours_unanswered", "cust-42", ("ev-2",), id="other evidence"),
        pytest.param("after_hours_unanswered", "cust-42", ("ev-1", "ev-2"), id="more evidence"),
    ],
)
def test_a_different_rule_customer_or_evidence_is_a_different_alert(
    alert_type: str, customer: str, evidence: tuple[str, ...]
) -> None:
    assert make_alert_id(alert_type, customer, evidence) != make_alert_id(
        "after_hours_unanswered", "cust-42", ("ev-1",)
    )


@pytest.mark.parametrize("customer", ["c", "cust/with/slashes", "kunde-ä", "a b"])
def test_any_customer_id_comes_back_out_of_its_alert_id(customer: str) -> None:
    alert_id = make_alert_id("first_response_breach", customer, ("ev-1",))
    assert ID_PATTERN.fullmatch(alert_id)
    assert parse_alert_id(alert_id) == ("first_response_breach", customer)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("first_response_breach", id="a type alone"),
        pytest.param("first_response_breach/cust-1", id="no digest"),
        pytest.param("first_response_breach/cust-1/abc", id="a short digest"),
        pytest.param("/cust-1/0123456789ab", id="no type"),
        pytest.param("first_response_breach//0123456789ab", id="no customer"),
    ],
)
def test_something_else_is_not_an_alert_id(text: str) -> None:
    with pytest.raises(ValueError, match="not an alert id"):
        parse_alert_id(text)


# --- severity ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "steps", "raised"),
    [
        (INFO, 0, INFO),
        (INFO, 1, WARNING),
        (INFO, 2, CRITICAL),
        (WARNING, 1, CRITICAL),
        (CRITICAL, 1, CRITICAL),
        (INFO, 5, CRITICAL),
    ],
)
def test_raising_a_severity_stops_at_critical(severity: str, steps: int, raised: str) -> None:
    assert raise_severity(severity, steps) == raised


# --- the record -------------------------------------------------------------------------------------------


def story_1_breach() -> Alert:
    desk = Desk()
    desk.send(asks("2026-01-05 19:30", topic="discount"))
    desk.wait("2026-01-05 20:00")
    return desk.of_type(AFTER_HOURS_UNANSWERED)[0]


def test_the_kept_facts_rebuild_the_alert_byte_for_byte() -> None:
    breach = story_1_breach()
    revived = describe(Alert.from_compact(breach.alert_id, breach.customer_id, breach.compact()), BERLIN)
    assert revived == breach
    assert revived.encode() == breach.encode()


def test_a_status_change_keeps_everything_but_the_status_and_adds_details() -> None:
    breach = story_1_breach()
    changed = breach.with_status(
        RESOLVED, epoch("2026-01-05 20:30"), "auto:first_reply", response_seconds=3600
    )
    assert breach.status == OPEN
    assert "response_seconds" not in breach.details
    back = replace(
        changed, status=OPEN, status_changed_at=None, status_changed_by=None, details=breach.details
    )
    assert back == breach
    document = orjson.loads(changed.encode())
    schemas.validator("alert")(document)
    assert document["status_changed_at"] == "2026-01-05T19:30:00+00:00"
    assert document["details"]["response_seconds"] == 3600


def test_new_text_keeps_everything_else_of_the_alert() -> None:
    breach = story_1_breach().with_status(RESOLVED, epoch("2026-01-05 20:30"), "auto:first_reply")
    assert breach.with_text("Said again.", "Do it.") == replace(
        breach, summary="Said again.", suggested_action="Do it."
    )


def test_the_contracts_own_example_summary_is_what_describe_writes() -> None:
    example = schemas.load_schema("alert")["examples"][0]
    breach = story_1_breach()
    assert breach.summary == example["summary"].replace("cust-000042", "cust-1")
    assert breach.suggested_action == example["suggested_action"]
    assert breach.reasons == tuple(example["reasons"])


# --- operator actions -------------------------------------------------------------------------------------


def evening_breach() -> tuple[Desk, Alert]:
    """Story 1 up to the on-call alert at 20:00."""
    desk = Desk()
    desk.send(asks("2026-01-05 19:30", topic="discount"))
    desk.wait("2026-01-05 20:00")
    return desk, desk.of_type(AFTER_HOURS_UNANSWERED)[0]


def test_acknowledging_republishes_the_alert_as_acknowledged_by_the_operator() -> None:
    desk, breach = evening_breach()
    out = desk.act("acknowledge", breach, "2026-01-05 20:04", by="anna@support")
    [acknowledged] = out.alerts
    assert acknowledged.alert_id == breach.alert_id
    assert acknowledged.status == ACKNOWLEDGED
    assert acknowledged.status_changed_by == "anna@support"
    assert acknowledged.status_changed_at == epoch("2026-01-05 20:04")
    assert out.acknowledged == [(acknowledged, 4 * 60)]
    assert not out.unknown_alert
    assert breach.alert_id in desk.current.alerts_open


def test_acknowledging_twice_republishes_but_counts_one_acknowledgement() -> None:
    desk, breach = evening_breach()
    desk.act("acknowledge", breach, "2026-01-05 20:04")
    again = desk.act("acknowledge", breach, "2026-01-05 20:06", by="ben@support")
    assert [(a.status, a.status_changed_by) for a in again.alerts] == [(ACKNOWLEDGED, "ben@support")]
    assert again.acknowledged == []
    assert len(desk.acknowledged) == 1


def test_an_acknowledged_alert_is_resolved_by_the_reply() -> None:
    desk, breach = evening_breach()
    desk.act("acknowledge", breach, "2026-01-05 20:04")
    out = desk.send(answers("2026-01-05 20:20"))
    [resolved] = out.alerts
    assert (resolved.alert_id, resolved.status, resolved.status_changed_by) == (
        breach.alert_id,
        RESOLVED,
        "auto:first_reply",
    )
    assert resolved.details["response_seconds"] == 50 * 60
    assert out.resolved == [(resolved, 20 * 60)]
    assert desk.current.alerts_open == {}


def test_acknowledging_the_early_warning_means_the_breach_is_not_raised() -> None:
    desk = Desk()
    desk.send(asks("2026-01-06 10:00", topic="discount"))
    desk.wait("2026-01-06 10:07")
    [warning] = desk.published
    desk.act("acknowledge", warning, "2026-01-06 10:08", by="team-lead")
    desk.wait("2026-01-06 12:00")
    assert desk.of_type(FIRST_RESPONSE_BREACH) == []
    assert desk.suppressed == []
    later = desk.send(answers("2026-01-06 12:30"))
    assert [(a.alert_id, a.status) for a in later.alerts] == [(warning.alert_id, RESOLVED)]


def test_resolving_republishes_the_alert_as_resolved_and_forgets_it() -> None:
    desk, breach = evening_breach()
    out = desk.act("resolve", breach, "2026-01-05 20:10", by="team-support")
    [resolved] = out.alerts
    assert (resolved.status, resolved.status_changed_by) == (RESOLVED, "team-support")
    assert out.resolved == [(resolved, 10 * 60)]
    assert breach.alert_id not in desk.current.alerts_open
    again = desk.act("resolve", breach, "2026-01-05 20:11")
    assert again.unknown_alert
    assert again.alerts == []
    # The reply that comes later has nothing left to resolve, and nothing more is raised for the case.
    assert desk.send(answers("2026-01-05 21:00")).alerts == []
    desk.wait("2026-01-06 12:00")
    assert len(desk.of_type(AFTER_HOURS_UNANSWERED)) == 2


@pytest.mark.parametrize(
    ("action", "new_case"),
    [
        pytest.param("resolve", True, id="resolved: the case is closed, a new question opens a new one"),
        pytest.param("acknowledge", False, id="acknowledged: the case is handled until the reply"),
    ],
)
def test_after_an_operator_resolves_a_new_question_in_the_same_conversation_opens_a_new_case(
    action: str, new_case: bool
) -> None:
    desk, breach = evening_breach()
    desk.act(action, breach, "2026-01-05 20:10")
    question = asks("2026-01-05 20:40")  # the same conversation, after the cooldown
    desk.send(question)
    desk.wait("2026-01-05 23:00")
    opened = [a for a in desk.of_type(AFTER_HOURS_UNANSWERED) if a.status == OPEN]
    if not new_case:
        assert opened == [breach]
        assert desk.suppressed == []
        # The reply resolves the acknowledged breach, and nothing else.
        later = desk.send(answers("2026-01-05 23:30"))
        assert [(a.alert_id, a.status) for a in later.alerts] == [(breach.alert_id, RESOLVED)]
        return
    [first, second] = opened
    assert first == breach
    assert second.alert_id != breach.alert_id
    assert second.evidence == (question["event_id"],)
    assert (second.occurred_at, second.detected_at) == (epoch("2026-01-05 20:40"), epoch("2026-01-05 21:10"))
    # The reply resolves the new alert; the one the operator resolved is not resolved again.
    later = desk.send(answers("2026-01-05 23:30"))
    assert [(a.alert_id, a.status, a.status_changed_by) for a in later.alerts] == [
        (second.alert_id, RESOLVED, "auto:first_reply")
    ]
    assert desk.current.sla_cases == {}
    assert desk.current.alerts_open == {}


def test_an_action_on_an_alert_the_customer_does_not_have_is_unknown() -> None:
    desk, _ = evening_breach()
    stranger = make_alert_id(AFTER_HOURS_UNANSWERED, "cust-1", ("ev-never",))
    before = desk.current.encode()
    out = desk.act("acknowledge", stranger, "2026-01-05 20:04")
    assert out.unknown_alert
    assert out.refused is not None
    assert (out.refused.reason, out.refused.field) == ("unknown_alert", "alert_id")
    assert (out.alerts, out.acknowledged, out.resolved) == ([], [], [])
    assert desk.current.encode() == before


@pytest.mark.parametrize(
    ("when", "side"),
    [("1970-01-01 01:00", "before"), ("2026-01-05 20:11", "after"), ("2026-01-05 19:59", "before")],
)
def test_an_action_whose_at_is_far_from_its_record_timestamp_is_refused_as_stale(
    when: str, side: str
) -> None:
    desk, breach = evening_breach()
    before = desk.current.encode()
    out = desk.act(
        "resolve", breach, when, by="head-of-support (forged)", received_at=epoch("2026-01-05 20:05")
    )
    assert out.refused is not None
    assert (out.refused.reason, out.refused.field) == ("stale_action", "at")
    assert (
        f" {side} its record's timestamp 2026-01-05T19:05:00+00:00 (at most 5 minutes)" in out.refused.message
    )
    assert (out.alerts, out.resolved) == ([], [])
    assert desk.current.encode() == before


def test_an_action_within_the_skew_of_its_record_timestamp_is_applied() -> None:
    desk, breach = evening_breach()
    out = desk.act("acknowledge", breach, "2026-01-05 20:09", received_at=epoch("2026-01-05 20:05"))
    assert out.refused is None
    assert [alert.status for alert in out.alerts] == [ACKNOWLEDGED]


def test_a_snooze_longer_than_the_limit_is_clamped_and_the_alert_says_so() -> None:
    desk, breach = evening_breach()
    out = desk.act("snooze", breach, "2026-01-05 20:05", until="2099-01-01 00:00")
    [snoozed] = out.alerts
    assert snoozed.details["snoozed_until"] == "2026-01-12T19:05:00+00:00"  # at + 7 days (10080 minutes)
    assert snoozed.details["snooze_clamped_from"] == "2099-01-01T00:00:00+01:00"
    schemas.validator("alert")(orjson.loads(snoozed.encode()))
    # Silenced for the week, not for good: an evening inquiry a week later alerts again.
    desk.send(asks("2026-01-12 21:30", "conv-9"))
    desk.wait("2026-01-12 23:00")
    assert [a.detected_at for a in desk.of_type(AFTER_HOURS_UNANSWERED) if a.status == OPEN][-1] == epoch(
        "2026-01-12 22:00"
    )


def test_a_snooze_acknowledges_and_silences_the_type_until_then() -> None:
    desk, breach = evening_breach()
    out = desk.act("snooze", breach, "2026-01-05 20:05", until="2026-01-05 23:00")
    [snoozed] = out.alerts
    assert snoozed.status == ACKNOWLEDGED
    assert snoozed.details["snoozed_until"] == "2026-01-05T23:00:00+01:00"
    assert out.acknowledged == [(snoozed, 5 * 60)]

    desk.send(asks("2026-01-05 21:30", "conv-2"))  # breach at 22:00: snoozed
    desk.wait("2026-01-05 22:30")
    assert (AFTER_HOURS_UNANSWERED, "snoozed") in desk.suppressed

    desk.send(asks("2026-01-05 22:40", "conv-3"))  # breach at 23:10: the snooze is over
    desk.wait("2026-01-05 23:30")
    assert [a.detected_at for a in desk.of_type(AFTER_HOURS_UNANSWERED) if a.status == OPEN] == [
        epoch("2026-01-05 20:00"),
        epoch("2026-01-05 23:10"),
    ]


def test_after_an_acknowledgement_a_new_conversation_after_the_cooldown_raises_a_new_alert() -> None:
    desk, breach = evening_breach()
    desk.act("acknowledge", breach, "2026-01-05 20:04")
    desk.send(asks("2026-01-05 20:40", "conv-2"))
    desk.wait("2026-01-05 22:00")
    [first, second] = [a for a in desk.of_type(AFTER_HOURS_UNANSWERED) if a.status == OPEN]
    assert first == breach
    assert second.alert_id != breach.alert_id
    assert second.detected_at == epoch("2026-01-05 21:10")
    assert second.status == OPEN


@pytest.mark.parametrize("suffix", ["Z", "z", "+00:00", "+01:00"])
def test_an_action_time_may_be_given_in_any_offset(suffix: str) -> None:
    desk, breach = evening_breach()
    at = "2026-01-05T20:04:00+01:00" if suffix == "+01:00" else f"2026-01-05T19:04:00{suffix}"
    action = {"schema_version": 1, "alert_id": breach.alert_id, "action": "acknowledge", "by": "x", "at": at}
    schemas.validator("alert_action")(action)
    out = desk.tracker.act(desk.current, desk.customer_id, action)
    assert out.alerts[0].status_changed_at == epoch("2026-01-05 20:04")


def test_an_alert_id_digests_rule_customer_and_evidence_joined_by_bars() -> None:
    import hashlib

    digest = hashlib.blake2b(b"long_wait|cust-1|ev-1|ev-2", digest_size=6).hexdigest()
    assert make_alert_id("long_wait", "cust-1", ("ev-1", "ev-2")) == f"long_wait/cust-1/{digest}"


def test_raising_a_severity_goes_one_level_by_default() -> None:
    assert [raise_severity(level) for level in (INFO, WARNING, CRITICAL)] == [WARNING, CRITICAL, CRITICAL]


def detector_alert() -> Alert:
    return Alert(
        alert_id=make_alert_id("long_wait", "cust-1", ("ev-9",)),
        type="long_wait",
        severity=WARNING,
        customer_id="cust-1",
        occurred_at=100,
        detected_at=100,
        summary="Customer cust-1 waited 45 s in the phone queue.",
        reasons=("long_wait",),
        evidence=("ev-9",),
        stage="repeat",
        value_tier="gold",
        suggested_action="Call the customer back.",
        channel="phone",
        location="team-support",
        details={"wait_seconds": 45},
    )


def test_a_detectors_alert_keeps_its_words_and_its_details_in_the_state() -> None:
    alert = detector_alert()
    kept = alert.compact()
    assert kept[10] == {"wait_seconds": 45}, "a detector's details say when it clears"
    assert kept[11:] == ["Customer cust-1 waited 45 s in the phone queue.", "Call the customer back."]
    revived = Alert.from_compact(alert.alert_id, "cust-1", kept)
    assert revived == alert
    assert revived.location == "team-support"


def test_an_sla_alert_keeps_its_facts_and_no_words_in_the_state() -> None:
    breach_id = make_alert_id(FIRST_RESPONSE_BREACH, "cust-1", ("ev-9",))
    alert = replace(detector_alert(), type=FIRST_RESPONSE_BREACH, alert_id=breach_id)
    kept = alert.compact()
    assert len(kept) == 11
    assert kept[10] == {"wait_seconds": 45}
    revived = Alert.from_compact(alert.alert_id, "cust-1", kept)
    assert (revived.summary, revived.suggested_action) == ("", "")
    assert revived == replace(alert, summary="", suggested_action="")


def test_an_inquiry_waits_in_the_queue_of_its_channel_and_team() -> None:
    from agents.domain.alert import queue_of

    assert queue_of("chat", "team-sales") == "chat:team-sales"
    assert queue_of("email", None) == "email:-"


def test_a_digest_item_travels_as_json_and_comes_back_the_same() -> None:
    from agents.domain.alert import DueSoon

    item = DueSoon(
        item_id="first_response_due_soon/cust-1/ev-1",
        customer_id="cust-1",
        channel="chat",
        location="team-sales",
        evidence="ev-1",
        asked_at=100,
        warn_at=400,
        deadline=700,
        severity="warning",
        reasons=("no_first_response", "purchase_intent"),
        topic="discount",
        stage="active",
        value_tier="gold",
    )
    document = orjson.loads(orjson.dumps(item.to_json()))
    assert document["reasons"] == ["no_first_response", "purchase_intent"]
    assert document["deadline"] == 700
    assert DueSoon.from_json(document) == item
    assert item.queue == "chat:team-sales"
