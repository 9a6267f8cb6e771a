"""What the journey step says of each identity decision: the change's fields the worker counts and routes by.

The stories of tests/agents/identity/ show the states and outputs; these pin the rest of each
change: its claim outcome, the stage a profile ended or came back with, the records a merge or a
split sends on, and refusals. Every change also passes the contract ``drive.check`` holds it to.
"""

from __future__ import annotations

from typing import Any

import pytest

from agents.config import config_from_mapping, default_config
from agents.domain.alert import OPEN, RESOLVED
from agents.domain.identity import LINKED, OVER_LIMIT, SHARED, Claim, MergeIn, Split, Unlink, Unmerge
from agents.domain.outputs import Outputs
from agents.domain.refusal import FUTURE, STALE_ACTION, UNKNOWN_ALERT, UNKNOWN_MERGE
from agents.domain.state import CustomerState
from agents.identity.resolution import ALREADY, BARRED
from agents.ingest.decode import TouchpointDecoder
from agents.journey.step import ACTION, IDENTITY, ROUTED, TOUCHPOINT, UNCHANGED, Change, JourneyStep
from agents.journey.track import JourneyTracker
from tests.agents.identity.drive import NUMBER, Partition, tick
from tests.agents.identity.test_journeys import (
    DEVICE,
    DEVICE_KEY,
    SALT,
    TABLET,
    TABLET_KEY,
    evening,
    instant,
    touch,
)

pytestmark = pytest.mark.unit

LOGIN = "2026-01-06T08:30:00+01:00"
SPLIT_AT = instant("2026-01-06T10:00:00+01:00")


class Recorded(Partition):
    """A partition that keeps every change it applies, in order."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.changes: list[Change] = []

    def _apply(self, change: Change) -> None:
        self.changes.append(change)
        super()._apply(change)

    def taken(self) -> list[Change]:
        taken, self.changes = self.changes, []
        return taken


def partition(**config: Any) -> Recorded:
    """A partition on the rules *config* overrides (the defaults without), keeping what it applies."""
    settings = config_from_mapping(config) if config else default_config()
    return Recorded(
        JourneyTracker(settings, SALT), TouchpointDecoder(identity_salt=SALT, identity=settings.identity)
    )


def buying_evening(journey: Partition) -> None:
    """The evening of test_journeys, with an anonymous purchase: the device's profile is a buyer too."""
    evening(journey)
    journey.send(touch("buy-0", "2026-01-05T19:40:00+01:00", "purchase", ids=DEVICE,
                       attributes={"amount": 50.0, "currency": "EUR"}))  # fmt: skip
    assert journey.states[DEVICE_KEY].clv_history


def test_a_claim_that_merges_a_profile_ends_its_stage_and_sends_the_profile_on_at_the_claims_instant() -> (
    None
):
    journey = partition()
    buying_evening(journey)
    stage = journey.states[DEVICE_KEY].stage
    [raised] = [a for a in journey.published.alerts if a.type == "after_hours_unanswered"]
    journey.taken()

    journey.send(touch("login", LOGIN, "identify", who="cust-anna", ids=DEVICE))
    own, claim, merged = journey.taken()
    assert (own.key, own.cause, own.claim, own.ended) == (b"cust-anna", TOUCHPOINT, None, None)
    assert (claim.key, claim.cause, claim.claim, claim.ended) == (
        DEVICE_KEY.encode(),
        IDENTITY,
        LINKED,
        stage,
    )
    assert not claim.state.is_profile, "the merged-away key keeps only the identifier's record"
    [closed] = claim.outputs.alerts
    assert (closed.alert_id, closed.customer_id, closed.status) == (raised.alert_id, DEVICE_KEY, RESOLVED)
    assert closed.status_changed_at == instant(LOGIN)
    [merge] = claim.outputs.merges
    assert (merge.from_key, merge.into, merge.event_id, merge.at) == (
        DEVICE_KEY,
        "cust-anna",
        "login",
        instant(LOGIN),
    )
    [forward] = claim.outputs.forwards
    assert forward.key == "cust-anna"
    assert isinstance(forward.control, MergeIn)
    assert (forward.control.into, forward.control.from_key, forward.control.at) == (
        "cust-anna",
        DEVICE_KEY,
        instant(LOGIN),
    )
    # Known already, the customer brings no stage back: the profile's ended, hers goes on.
    assert (merged.key, merged.cause, merged.restored) == (b"cust-anna", IDENTITY, None)


def test_a_claim_on_a_fresh_identifier_links_it_and_a_repeated_one_changes_nothing() -> None:
    journey = partition()
    journey.send(touch("login", LOGIN, "identify", who="cust-anna", ids=TABLET))
    _, claim = journey.taken()
    assert (claim.cause, claim.claim, claim.ended, claim.known) == (IDENTITY, LINKED, None, False)
    assert not claim.outputs.merges, "nothing to merge: the identifier had no profile"
    journey.send(touch("login-2", "2026-01-07T08:30:00+01:00", "identify", who="cust-anna", ids=TABLET))
    _, again = journey.taken()
    assert (again.claim, again.known, again.ended) == (ALREADY, True, None)
    # Counted as a claim, but nothing to write: the identifier's record is as it was.
    assert again.cause == UNCHANGED
    assert journey.states[TABLET_KEY].identity == claim.state.identity


def test_a_second_customer_on_the_tablet_shares_it_and_a_split_customer_is_barred() -> None:
    journey = partition()
    journey.send(touch("anna", LOGIN, "identify", who="cust-anna", ids=TABLET))
    journey.send(touch("ben", "2026-01-06T20:00:00+01:00", "identify", who="cust-ben", ids=TABLET))
    *_, shared = journey.taken()
    assert (shared.claim, shared.ended) == (SHARED, None)
    [conflict] = shared.outputs.conflicts
    assert conflict.customers == ("cust-anna", "cust-ben")


def test_a_claim_needs_identity_resolution_on() -> None:
    journey = partition(identity={"enabled": False})
    with pytest.raises(AssertionError, match="claims are made only with identity resolution on"):
        journey.control(TABLET_KEY, Claim(TABLET_KEY, "cust-anna", "login", instant(LOGIN)))


def test_a_profile_arriving_at_a_customer_without_state_brings_its_stage() -> None:
    donor = partition()
    buying_evening(donor)
    snapshot = CustomerState.decode(donor.states[DEVICE_KEY].encode())
    snapshot.identity = None
    journey = partition()
    arrived = journey.control(
        "cust-anna", MergeIn("cust-anna", DEVICE_KEY, "login", instant(LOGIN), snapshot.encode())
    )
    assert (arrived.cause, arrived.known, arrived.restored) == (IDENTITY, False, snapshot.stage)
    anna = journey.states["cust-anna"]
    assert (anna.events, anna.purchase_count) == (snapshot.events, 1)
    assert journey.step.progress.buyers(NUMBER)[b"cust-anna"][0] == snapshot.first_purchase


def test_a_split_gives_the_profile_back_with_its_stage_its_alerts_and_what_the_customer_must_return() -> None:
    journey = partition()
    buying_evening(journey)
    journey.send(touch("login", LOGIN, "identify", who="cust-anna", ids=DEVICE))
    [merge] = journey.merges
    journey.taken()

    journey.control(DEVICE_KEY, Split(DEVICE_KEY, "cust-anna", "ops", SPLIT_AT, "wrong person"))
    split, unmerged = journey.taken()
    profile = journey.states[DEVICE_KEY]
    assert (split.key, split.cause, split.known, split.restored) == (
        DEVICE_KEY.encode(),
        IDENTITY,
        True,
        profile.stage,
    )
    assert profile.is_profile
    assert profile.purchase_count == 1
    [(old, moved)] = merge.alerts
    [reopened] = split.outputs.alerts
    assert (reopened.alert_id, reopened.status, reopened.status_changed_by) == (old, OPEN, "auto:split")
    assert reopened.details["split_from"] == moved
    assert reopened.status_changed_at == SPLIT_AT
    [record] = split.outputs.merges
    assert (record.action, record.from_key, record.into, record.event_id) == (
        "split",
        DEVICE_KEY,
        "cust-anna",
        None,
    )
    assert (record.at, record.by, record.reason, record.alerts) == (
        SPLIT_AT,
        "ops",
        "wrong person",
        ((moved, old),),
    )
    [forward] = split.outputs.forwards
    assert isinstance(forward.control, Unmerge)
    back = forward.control
    assert (forward.key, back.into, back.from_key, back.by, back.at) == (
        "cust-anna",
        "cust-anna",
        DEVICE_KEY,
        "ops",
        SPLIT_AT,
    )
    assert CustomerState.decode(back.state).events == profile.events
    assert (unmerged.key, unmerged.cause, unmerged.restored) == (b"cust-anna", IDENTITY, None)
    [given_back] = unmerged.outputs.alerts
    assert (given_back.alert_id, given_back.status) == (moved, RESOLVED)
    # Anna's own log-in is all she has left, and no purchase: she is no buyer of the partition any more.
    assert b"cust-anna" not in journey.step.progress.buyers(NUMBER)
    assert DEVICE_KEY.encode() in journey.step.progress.buyers(NUMBER)


def test_a_split_of_an_identifier_linked_without_a_profile_brings_no_profile_back() -> None:
    journey = partition()
    journey.send(touch("login", LOGIN, "identify", who="cust-anna", ids=TABLET))
    journey.send(touch("v-1", "2026-01-06T09:00:00+01:00", "visit", ids=TABLET))
    journey.taken()
    journey.control(TABLET_KEY, Split(TABLET_KEY, "cust-anna", "ops", SPLIT_AT))
    [split] = journey.taken()
    assert (split.cause, split.restored, split.outputs.forwards, split.outputs.alerts) == (
        IDENTITY,
        None,
        [],
        [],
    )
    [record] = split.outputs.merges
    assert (record.action, record.alerts, record.reason) == ("split", (), None)
    assert not journey.states[TABLET_KEY].is_profile


@pytest.mark.parametrize("key", [TABLET_KEY, "cust-anna", "id:device_id:never-seen"])
def test_a_split_of_what_was_never_merged_or_was_split_already_is_refused_naming_both(key: str) -> None:
    journey = partition()
    journey.send(touch("login", LOGIN, "identify", who="cust-anna", ids=TABLET))
    journey.control(TABLET_KEY, Split(TABLET_KEY, "cust-anna", "ops", SPLIT_AT))
    refused = journey.control(key, Split(key, "cust-anna", "ops", SPLIT_AT))
    assert refused.cause == IDENTITY
    assert refused.refused is not None
    assert (refused.refused.reason, refused.refused.field) == (UNKNOWN_MERGE, "into")
    assert refused.refused.message == f"{key} was not merged into cust-anna (or was split from it already)"
    assert refused.known is (key in journey.states)
    assert refused.state.partition == NUMBER


def test_a_split_reaching_a_customer_erased_meanwhile_leaves_nothing_of_theirs() -> None:
    journey = partition()
    buying_evening(journey)
    journey.send(touch("login", LOGIN, "identify", who="cust-anna", ids=DEVICE))
    [merge] = journey.merges
    profile = journey.states[DEVICE_KEY].identity
    assert profile is not None
    # The split's way back crosses the erasure (each on its own partition in the worker).
    journey.erase("cust-anna", "2026-01-06T09:00:00+01:00")
    snapshot = profile[3]
    back = journey.control("cust-anna", Unmerge("cust-anna", merge.from_key, snapshot, "ops", SPLIT_AT))
    assert (back.cause, back.known, back.refused) == (UNCHANGED, False, None)
    assert back.outputs == Outputs()
    assert "cust-anna" not in journey.states, "the erased key must not come back, not even blank"
    assert b"cust-anna" not in journey.step.scheduled(NUMBER)


def test_a_re_claim_of_a_split_identifier_is_barred_and_its_profiles_deadline_stays() -> None:
    journey = partition()
    evening(journey)
    journey.send(touch("login", LOGIN, "identify", who="cust-anna", ids=DEVICE))
    journey.control(DEVICE_KEY, Split(DEVICE_KEY, "cust-anna", "ops", SPLIT_AT))
    wake_at = journey.states[DEVICE_KEY].wake_at
    assert wake_at is not None
    journey.taken()
    journey.send(touch("login-2", "2026-01-07T08:30:00+01:00", "identify", who="cust-anna", ids=DEVICE))
    _, barred = journey.taken()
    assert (barred.claim, barred.ended, barred.outputs.merges, barred.cause) == (BARRED, None, [], UNCHANGED)
    assert journey.step.scheduled(NUMBER)[DEVICE_KEY.encode()] == journey.states[DEVICE_KEY].wake_at


def test_an_erased_customers_unlink_reaches_a_split_identifiers_profile_and_a_stranger_stays_unchanged() -> (
    None
):
    journey = partition()
    evening(journey)
    journey.send(touch("login", LOGIN, "identify", who="cust-anna", ids=DEVICE))
    journey.control(DEVICE_KEY, Split(DEVICE_KEY, "cust-anna", "ops", SPLIT_AT))
    assert journey.states[DEVICE_KEY].inquiries_open, "the profile came back with its open inquiry"
    journey.taken()
    erased = journey.erase("cust-anna", "2026-01-06T11:00:00+01:00")
    [unlink] = erased.outputs.forwards
    assert isinstance(unlink.control, Unlink)
    assert (unlink.key, unlink.control.customer, unlink.control.at) == (
        DEVICE_KEY,
        "cust-anna",
        instant("2026-01-06T11:00:00+01:00"),
    )
    _, unlinked = journey.taken()
    assert (unlinked.key, unlinked.cause, unlinked.known) == (DEVICE_KEY.encode(), IDENTITY, True)
    assert "cust-anna" not in str(journey.states[DEVICE_KEY].identity)

    # An unlink to a customer's own key (no identity record) or to a key never seen changes nothing.
    journey.send(touch("ben", LOGIN, "visit", who="cust-ben"))
    journey.taken()
    for key in ("cust-ben", "id:device_id:never-seen"):
        journey.control(key, Unlink(key, "cust-anna", instant(LOGIN)))
        [unchanged] = journey.taken()
        assert (unchanged.cause, unchanged.known, unchanged.outputs.forwards) == (
            UNCHANGED,
            key == "cust-ben",
            [],
        )
        assert unchanged.state.partition == NUMBER


def test_a_touchpoint_routed_to_the_customer_names_her_and_changes_nothing_where_it_came_in() -> None:
    journey = partition()
    evening(journey)
    journey.send(touch("login", LOGIN, "identify", who="cust-anna", ids=DEVICE))
    journey.taken()
    journey.send(touch("v-9", "2026-01-06T11:00:00+01:00", "visit", ids=DEVICE))
    routed, applied = journey.taken()
    assert (routed.key, routed.cause) == (DEVICE_KEY.encode(), ROUTED)
    assert routed.state is journey.states[DEVICE_KEY]
    [forward] = routed.outputs.forwards
    assert forward.key == "cust-anna"
    assert forward.touchpoint is not None
    assert (forward.touchpoint["customer_id"], forward.touchpoint["event_id"]) == ("cust-anna", "v-9")
    assert (applied.key, applied.cause) == (b"cust-anna", TOUCHPOINT)


def test_an_identifier_over_its_limit_sends_each_anonymous_touchpoint_to_a_profile_of_its_own() -> None:
    journey = partition(identity={"limits": {"device_id": {"customers": 1, "window_days": 0}}})
    journey.send(touch("anna", LOGIN, "identify", who="cust-anna", ids=TABLET))
    journey.send(touch("ben", "2026-01-06T20:00:00+01:00", "identify", who="cust-ben", ids=TABLET))
    assert journey.taken()[-1].claim == OVER_LIMIT
    journey.send(touch("v-1", "2026-01-07T09:00:00+01:00", "visit", ids=TABLET, conversation_id="c-7"))
    routed, applied = journey.taken()
    [forward] = routed.outputs.forwards
    assert forward.key.startswith("id:")
    assert forward.key != TABLET_KEY
    assert applied.key == forward.key.encode()


def test_identifiers_are_noted_on_the_customer_that_named_them_never_on_an_anonymous_profile() -> None:
    journey = partition()
    journey.send(touch("v-1", LOGIN, "visit", ids=DEVICE))
    journey.send(touch("login", LOGIN, "identify", who="cust-anna", ids=TABLET))
    assert journey.states[DEVICE_KEY].claimed == []
    assert journey.states["cust-anna"].claimed
    off = partition(identity={"enabled": False})
    off.send(touch("login", LOGIN, "identify", who="cust-anna", ids=TABLET))
    assert off.states["cust-anna"].claimed == [], "nothing to unlink on erasure with identity off"


def test_an_action_on_an_alert_that_moved_follows_it_and_one_on_an_unknown_alert_is_refused_where_it_came() -> (
    None
):
    journey = partition()
    evening(journey)
    [raised] = [a for a in journey.published.alerts if a.type == "after_hours_unanswered"]
    journey.send(touch("login", LOGIN, "identify", who="cust-anna", ids=DEVICE))
    journey.taken()
    action = {"schema_version": 1, "action": "acknowledge", "by": "ops", "at": "2026-01-06T08:35:00+01:00"}
    routed = journey.action(DEVICE_KEY, {**action, "alert_id": raised.alert_id})
    assert (routed.cause, routed.state) == (ROUTED, journey.states[DEVICE_KEY])
    [forward] = routed.outputs.forwards
    assert forward.action is not None
    assert forward.action["alert_id"] == dict(journey.merges[0].alerts)[raised.alert_id]
    _, acknowledged = journey.taken()
    assert (acknowledged.key, acknowledged.cause, acknowledged.refused) == (b"cust-anna", ACTION, None)

    unknown = journey.action(DEVICE_KEY, {**action, "alert_id": "after_hours_unanswered/elsewhere/0"})
    assert (unknown.cause, unknown.outputs.forwards) == (ACTION, [])
    assert unknown.refused is not None
    assert unknown.refused.reason == UNKNOWN_ALERT


def test_an_action_far_from_its_records_timestamp_is_refused_as_stale() -> None:
    journey = partition()
    evening(journey)
    [raised] = [a for a in journey.published.alerts if a.type == "after_hours_unanswered"]
    action = {"schema_version": 1, "alert_id": raised.alert_id, "action": "acknowledge", "by": "ops",
              "at": "2026-01-06T08:35:00+01:00"}  # fmt: skip
    stale = journey.action(DEVICE_KEY, action, received_at=instant("2026-03-06T08:35:00+01:00"))
    assert (stale.cause, stale.known) == (ACTION, True)
    assert stale.refused is not None
    assert stale.refused.reason == STALE_ACTION
    assert journey.action(DEVICE_KEY, action, received_at=instant(str(action["at"]))).refused is None


def test_resolving_the_last_alert_ends_the_customers_deadline() -> None:
    journey = partition()
    evening(journey)
    [raised] = [a for a in journey.published.alerts if a.type == "after_hours_unanswered"]
    before = journey.step.scheduled(NUMBER).get(DEVICE_KEY.encode())
    action = {"schema_version": 1, "alert_id": raised.alert_id, "action": "resolve", "by": "ops",
              "at": "2026-01-05T21:05:00+01:00"}  # fmt: skip
    resolved = journey.action(DEVICE_KEY, action)
    assert (resolved.cause, resolved.refused) == (ACTION, None)
    assert before is not None
    assert DEVICE_KEY.encode() not in journey.step.scheduled(NUMBER)


def test_a_touchpoint_dated_far_after_its_records_timestamp_is_refused_as_future() -> None:
    journey = partition()
    step: JourneyStep = journey.step
    event = touch("v-1", LOGIN, "visit", who="cust-anna")
    far = step.touchpoint(b"cust-anna", NUMBER, event, received_at=instant(LOGIN) - 30 * 86_400)
    assert far.refused is not None
    assert far.refused.reason == FUTURE
    near = step.touchpoint(b"cust-anna", NUMBER, event, received_at=instant(LOGIN))
    assert (near.refused, near.cause, near.unpriced) == (None, TOUCHPOINT, False)


def test_a_deadline_of_a_merged_profile_fires_under_the_customer() -> None:
    journey = partition()
    journey.send(touch("q-2", "2026-01-06T10:00:00+01:00", "inquiry", ids=DEVICE, channel="chat",
                       conversation_id="conv-2", location="team-sales"))  # fmt: skip
    journey.send(touch("login", "2026-01-06T10:02:00+01:00", "identify", who="cust-anna", ids=DEVICE))
    fired = tick(journey, instant("2026-01-06T10:20:00+01:00"))
    assert [change.key for change in fired] == [b"cust-anna"]
    assert fired[0].trigger == "wall_clock"


def test_a_redelivery_a_conflicting_one_and_one_dated_before_an_erasure_say_so_for_their_own_key() -> None:
    journey = partition()
    first = touch("q-1", LOGIN, "inquiry", who="cust-anna", channel="email", conversation_id="e-1")
    journey.send(first)
    journey.send(touch("q-2", LOGIN, "inquiry", who="cust-anna", channel="chat", conversation_id="c-1"))
    journey.send(first)  # a redelivery
    journey.taken()
    conflicting = journey.step.touchpoint(b"cust-anna", NUMBER, {**first, "channel": "store"})
    assert conflicting.refused is not None
    assert (conflicting.key, conflicting.partition, conflicting.cause, conflicting.known) == (
        b"cust-anna",
        NUMBER,
        TOUCHPOINT,
        True,
    )
    journey.erase("cust-anna", "2026-01-06T12:00:00+01:00")
    journey.send(touch("late", LOGIN, "visit", who="cust-anna"))
    assert "cust-anna" not in journey.states, "a touchpoint dated before the erasure brings nobody back"


def test_a_claim_without_identity_resolution_is_a_programming_error_said_plainly() -> None:
    journey = partition(identity={"enabled": False})
    with pytest.raises(AssertionError) as raised:
        journey.step.identity(
            TABLET_KEY.encode(), NUMBER, Claim(TABLET_KEY, "cust-anna", "login", instant(LOGIN))
        )
    assert str(raised.value) == "claims are made only with identity resolution on"


def test_an_action_for_a_customer_without_state_is_refused_with_a_blank_state_of_its_partition() -> None:
    journey = partition()
    action = {"schema_version": 1, "alert_id": "after_hours_unanswered/cust-nobody/0", "action": "acknowledge",
              "by": "ops", "at": LOGIN}  # fmt: skip
    refused = journey.action("cust-nobody", action)
    assert refused.refused is not None
    assert (refused.cause, refused.known, refused.state.partition, refused.state.events) == (
        ACTION,
        False,
        NUMBER,
        0,
    )
