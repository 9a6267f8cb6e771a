"""Identity resolution in the journey, story by story: one customer across channels, never two people fused."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from agents.config import default_config
from agents.domain.identity import SPLIT, MergeIn, Split
from agents.domain.refusal import UNKNOWN_MERGE
from agents.identity.keys import identifier_key
from agents.ingest.decode import TouchpointDecoder
from agents.journey.track import JourneyTracker
from tests.agents.identity.drive import Partition, tick

pytestmark = pytest.mark.unit

SALT = b"journeys"
DEVICE = {"device_id": "066b6a26-b3b8-4451-b145-bad22bea452c"}
TABLET = {"device_id": "5be2d0c1-a9f3-4e77-86aa-0c1d2e3f4a5b"}
DEVICE_KEY = identifier_key("device_id", DEVICE["device_id"], SALT)
TABLET_KEY = identifier_key("device_id", TABLET["device_id"], SALT)


def partition() -> Partition:
    return Partition(JourneyTracker(default_config(), SALT), TouchpointDecoder(identity_salt=SALT))


def touch(event_id: str, at: str, kind: str, *, who: str | None = None, ids: dict[str, str] | None = None,
          channel: str = "app", actor: str = "customer", **extra: Any) -> dict[str, Any]:  # fmt: skip
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_id": event_id,
        "occurred_at": at,
        "channel": channel,
        "type": kind,
        "actor": actor,
        **extra,
    }
    if who is not None:
        event["customer_id"] = who
    if ids is not None:
        event["identifiers"] = ids
    return event


def instant(at: str) -> int:
    return int(datetime.fromisoformat(at).timestamp())


def evening(journey: Partition) -> None:
    """Anonymous app visits, then an after-hours chat inquiry nobody answers (Monday, Berlin)."""
    journey.send(
        touch("v-1", "2026-01-05T18:10:00+01:00", "visit", ids=DEVICE),
        touch("v-2", "2026-01-05T18:12:00+01:00", "page_view", ids=DEVICE, attributes={"sku": "air-purifier-x2"}),
        touch("q-1", "2026-01-05T19:30:00+01:00", "inquiry", ids=DEVICE, channel="chat",
              conversation_id="conv-1", location="team-sales", attributes={"topic": "discount"}),
    )  # fmt: skip
    tick(journey, instant("2026-01-05T21:00:00+01:00"))


def test_the_evening_browser_who_logs_in_next_morning_is_one_customer_and_the_alert_follows() -> None:
    journey = partition()
    evening(journey)
    [raised] = [a for a in journey.published.alerts if a.type == "after_hours_unanswered"]
    assert raised.customer_id == DEVICE_KEY, "before the log-in nobody knows who asked"

    journey.send(
        touch("login", "2026-01-06T08:30:00+01:00", "identify", who="cust-anna", ids=DEVICE),
        touch("buy", "2026-01-06T08:40:00+01:00", "purchase", who="cust-anna",
              attributes={"amount": 219.0, "currency": "EUR"}),
    )  # fmt: skip

    profiles = journey.profiles()
    assert DEVICE_KEY not in profiles, "the anonymous profile is merged away"
    anna = profiles["cust-anna"]
    assert anna.events == 5
    assert anna.purchase_count == 1
    assert set(anna.channels) == {"app", "chat"}
    assert set(anna.inquiries_open) == {"conv-1"}, "the open inquiry is hers now"
    [merge] = journey.merges
    assert (merge.from_key, merge.into, merge.event_id) == (DEVICE_KEY, "cust-anna", "login")
    moved = [
        a for a in journey.published.alerts if a.alert_id.startswith("after_hours_unanswered/cust-anna/")
    ]
    [closed] = [
        a for a in journey.published.alerts if a.alert_id == raised.alert_id and a.status == "resolved"
    ]
    assert closed.status_changed_by == "auto:merged"
    assert closed.details["merged_into"] == moved[0].alert_id
    assert moved[0].status == "open"
    assert "Customer cust-anna asked on chat" in moved[0].summary
    assert dict(merge.alerts)[raised.alert_id] == moved[0].alert_id

    # The agent answers in the morning, in the chat the customer opened unidentified: it reaches her.
    journey.send(touch("a-1", "2026-01-06T09:05:00+01:00", "reply", ids=DEVICE, channel="chat",
                       actor="agent", conversation_id="conv-1", location="team-sales"))  # fmt: skip
    assert not journey.profiles()["cust-anna"].inquiries_open
    resolved = [
        a for a in journey.published.alerts if a.alert_id == moved[0].alert_id and a.status == "resolved"
    ]
    assert resolved[-1].status_changed_by == "auto:first_reply"


def test_a_merge_redelivered_changes_nothing() -> None:
    journey = partition()
    evening(journey)
    journey.send(touch("login", "2026-01-06T08:30:00+01:00", "identify", who="cust-anna", ids=DEVICE))
    before = journey.states["cust-anna"].encode()
    from agents.domain.state import CustomerState

    snapshot = CustomerState.decode(journey.states[DEVICE_KEY].encode())
    assert not snapshot.is_profile
    again = MergeIn("cust-anna", DEVICE_KEY, "login", instant("2026-01-06T08:30:00+01:00"), b"")
    journey.control("cust-anna", again)
    assert journey.states["cust-anna"].encode() == before


def test_an_action_on_the_old_alert_id_follows_the_alert_to_the_customer() -> None:
    journey = partition()
    evening(journey)
    [raised] = [a for a in journey.published.alerts if a.type == "after_hours_unanswered"]
    journey.send(touch("login", "2026-01-06T08:30:00+01:00", "identify", who="cust-anna", ids=DEVICE))
    action = {"schema_version": 1, "alert_id": raised.alert_id, "action": "acknowledge", "by": "ops",
              "at": "2026-01-06T08:35:00+01:00"}  # fmt: skip
    change = journey.action(DEVICE_KEY, action)
    [forward] = change.outputs.forwards
    assert forward.key == "cust-anna"
    assert forward.action is not None
    assert forward.action["alert_id"].startswith("after_hours_unanswered/cust-anna/")


def test_a_household_tablet_two_customers_log_in_on_stays_two_customers_with_one_conflict() -> None:
    journey = partition()
    journey.send(
        touch("t-1", "2026-01-05T20:00:00+01:00", "visit", ids=TABLET),
        touch("anna-login", "2026-01-05T20:05:00+01:00", "identify", who="cust-anna", ids=TABLET),
        touch("anna-buy", "2026-01-05T20:10:00+01:00", "purchase", who="cust-anna",
              attributes={"amount": 30.0, "currency": "EUR"}),
        touch("ben-login", "2026-01-06T21:00:00+01:00", "identify", who="cust-ben", ids=TABLET),
        touch("ben-buy", "2026-01-06T21:05:00+01:00", "purchase", who="cust-ben",
              attributes={"amount": 90.0, "currency": "EUR"}),
        touch("ben-login-2", "2026-01-07T21:00:00+01:00", "identify", who="cust-ben", ids=TABLET),
        touch("t-2", "2026-01-08T20:00:00+01:00", "visit", ids=TABLET),
    )  # fmt: skip
    profiles = journey.profiles()
    assert {"cust-anna", "cust-ben"} <= set(profiles)
    assert profiles["cust-anna"].purchase_value == 30.0
    assert profiles["cust-ben"].purchase_value == 90.0
    assert profiles["cust-ben"].events == 3, "Ben's own events only: nothing of Anna's"
    [conflict] = journey.published.conflicts
    assert conflict.customers == ("cust-anna", "cust-ben")
    assert conflict.outcome == "shared"
    assert len(journey.merges) == 1, "only the first log-in merged the tablet's history"
    # Later anonymous use of the tablet stays with the first customer (docs/identity.md says why).
    assert profiles["cust-anna"].events == 4


def test_a_split_restores_the_profile_as_it_was_and_the_link_is_not_made_again() -> None:
    journey = partition()
    evening(journey)
    profile_then = journey.states[DEVICE_KEY].encode()
    journey.send(touch("login", "2026-01-06T08:30:00+01:00", "identify", who="cust-anna", ids=DEVICE))
    journey.send(touch("buy", "2026-01-06T08:40:00+01:00", "purchase", who="cust-anna",
                       attributes={"amount": 219.0, "currency": "EUR"}))  # fmt: skip
    anna_before = journey.states["cust-anna"]
    assert anna_before.events == 5
    change = journey.control(
        DEVICE_KEY, Split(DEVICE_KEY, "cust-anna", "ops", instant("2026-01-06T10:00:00+01:00"))
    )
    assert change.refused is None
    restored = journey.profiles()[DEVICE_KEY]
    restored_bytes, restored_events = restored.encode(), restored.events
    from agents.domain.state import CustomerState

    profile = CustomerState.decode(profile_then)
    profile.identity = restored.identity
    assert restored_bytes == profile.encode(), "the profile is back exactly as it was at the merge"
    anna = journey.profiles()["cust-anna"]
    assert (anna.events, anna.purchase_count, set(anna.channels)) == (2, 1, {"app"})
    assert not anna.inquiries_open
    assert not [a for a in anna.alerts_open if a.startswith("after_hours_unanswered/")]
    [split] = [m for m in journey.merges if m.action == SPLIT]
    assert (split.from_key, split.into, split.by) == (DEVICE_KEY, "cust-anna", "ops")
    back = [
        a
        for a in journey.published.alerts
        if a.customer_id == DEVICE_KEY and a.status_changed_by == "auto:split"
    ]
    assert back
    assert all(a.status != "resolved" for a in back)

    # Anna logs in on that device again: not linked again; its anonymous events stay its own.
    journey.send(
        touch("login-2", "2026-01-07T08:30:00+01:00", "identify", who="cust-anna", ids=DEVICE),
        touch("v-3", "2026-01-07T08:31:00+01:00", "visit", ids=DEVICE),
    )
    assert journey.profiles()[DEVICE_KEY].events == restored_events + 1
    assert len([m for m in journey.merges if m.action == "merge"]) == 1
    refused = journey.control(
        DEVICE_KEY, Split(DEVICE_KEY, "cust-anna", "ops", instant("2026-01-07T10:00:00+01:00"))
    )
    assert refused.refused is not None
    assert refused.refused.reason == UNKNOWN_MERGE


def test_placeholder_identifiers_link_nothing_and_fuse_no_strangers() -> None:
    journey = partition()
    zeros = {"device_id": "00000000-0000-0000-0000-000000000000"}
    journey.send(
        touch("s-1", "2026-01-05T10:00:00+01:00", "visit", ids=zeros),
        touch("s-2", "2026-01-05T11:00:00+01:00", "visit", ids=zeros),
        touch("login", "2026-01-05T12:00:00+01:00", "identify", who="cust-anna",
              ids={**zeros, "email": "noreply@shop.example"}),
    )  # fmt: skip
    assert not journey.merges
    profiles = journey.profiles()
    assert profiles["cust-anna"].events == 1
    strangers = [key for key in profiles if key.startswith("id:event:")]
    assert len(strangers) == 2, "each placeholder-only event stands alone"


def test_an_event_naming_one_customer_with_anothers_email_takes_nothing_from_her() -> None:
    journey = partition()
    email = {"email": "anna.berg@example.com"}
    journey.send(
        touch("a-1", "2026-01-05T10:00:00+01:00", "inquiry", ids=email, channel="email", conversation_id="c"),
        touch("a-login", "2026-01-05T11:00:00+01:00", "identify", who="cust-anna", ids=email),
        touch("bob", "2026-01-05T12:00:00+01:00", "visit", who="cust-bob", ids=email),
        touch("a-2", "2026-01-05T13:00:00+01:00", "inquiry", ids=email, channel="email", conversation_id="d"),
    )  # fmt: skip
    profiles = journey.profiles()
    assert profiles["cust-anna"].events == 3
    assert set(profiles["cust-anna"].inquiries_open) == {"c", "d"}
    assert profiles["cust-bob"].events == 1
    [conflict] = journey.published.conflicts
    assert conflict.customers == ("cust-anna", "cust-bob")


def test_a_first_response_case_opened_anonymously_keeps_its_deadline_under_the_customer() -> None:
    journey = partition()
    journey.send(touch("q-2", "2026-01-06T10:00:00+01:00", "inquiry", ids=DEVICE, channel="chat",
                       conversation_id="conv-2", location="team-sales", attributes={"topic": "discount"}))  # fmt: skip
    assert journey.states[DEVICE_KEY].sla_cases, "the chat inquiry opened a first-response case"
    journey.send(touch("login", "2026-01-06T10:02:00+01:00", "identify", who="cust-anna", ids=DEVICE))
    assert "conv-2" in journey.profiles()["cust-anna"].sla_cases
    tick(journey, instant("2026-01-06T10:20:00+01:00"))

    due = {a.type: a for a in journey.published.alerts if a.type.startswith("first_response")}
    assert set(due) == {"first_response_breach"}, "the clock kept running"
    # The early warning went to its queue's digest (sla.warning_digest_minutes), naming her.
    assert [item.customer_id for item in journey.published.due_soon] == ["cust-anna"]
    assert {a.customer_id for a in due.values()} == {"cust-anna"}
    assert not [a for a in journey.published.alerts if a.customer_id == DEVICE_KEY]
    # Later anonymous touchpoints of the merged-away key go to her; it never names a profile again.
    journey.send(touch("v-9", "2026-01-06T11:00:00+01:00", "visit", ids=DEVICE))
    assert DEVICE_KEY not in journey.profiles()
    assert journey.profiles()["cust-anna"].events == 3
