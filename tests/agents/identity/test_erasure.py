"""Erasing a customer erases their identity links: every identifier they claimed forgets them."""

from __future__ import annotations

import pytest

from agents.config import default_config
from agents.domain.identity import LINKED, UNLINKED, IdentityRecord, Unlink
from agents.domain.refusal import FORGED_CONTROL, Rejected
from agents.identity.control import decode_control, encode_control
from agents.identity.keys import identifier_key
from agents.identity.resolution import IdentityResolver
from agents.ingest.decode import TouchpointDecoder
from agents.journey.erasure import MAX_CLAIMED, carried_keys
from agents.journey.step import IDENTITY, UNCHANGED
from agents.journey.track import JourneyTracker
from tests.agents.identity.drive import Partition
from tests.agents.identity.test_journeys import DEVICE, DEVICE_KEY, TABLET, TABLET_KEY, evening, touch

pytestmark = pytest.mark.unit

SALT = b"journeys"
EMAIL = {"email": "anna.berg@example.com"}
EMAIL_KEY = identifier_key("email", EMAIL["email"], SALT)


def partition() -> Partition:
    return Partition(JourneyTracker(default_config(), SALT), TouchpointDecoder(identity_salt=SALT))


def record(journey: Partition, key: str) -> IdentityRecord:
    identity = journey.states[key].identity
    assert identity is not None
    return IdentityRecord.from_list(identity)


def naming(journey: Partition, customer: str) -> list[str]:
    """The keys whose state (profile or identifier record) still holds *customer* anywhere."""
    return [key for key, state in journey.states.items() if customer.encode() in state.encode()]


def test_erasing_a_customer_unlinks_every_identifier_they_claimed_and_their_device_stands_alone_again() -> (
    None
):
    journey = partition()
    evening(journey)  # an anonymous profile on the device, with an open after-hours alert
    journey.send(
        touch("login", "2026-01-06T08:30:00+01:00", "identify", who="cust-anna", ids={**DEVICE, **EMAIL}),
        touch("buy", "2026-01-06T08:40:00+01:00", "purchase", who="cust-anna",
              attributes={"amount": 219.0, "currency": "EUR"}),
    )  # fmt: skip
    assert record(journey, DEVICE_KEY).first_claimant == "cust-anna"
    assert record(journey, DEVICE_KEY).merged is not None, "the device's profile merged into Anna"
    assert record(journey, EMAIL_KEY).status == LINKED
    assert set(journey.states["cust-anna"].claimed) == {DEVICE_KEY, EMAIL_KEY}

    change = journey.erase("cust-anna", "2026-01-06T12:00:00+01:00")
    assert sorted(forward.key for forward in change.outputs.forwards) == sorted([DEVICE_KEY, EMAIL_KEY])

    assert naming(journey, "cust-anna") == [], "no identifier's record names her any more"
    for key in (DEVICE_KEY, EMAIL_KEY):
        unlinked = record(journey, key)
        assert (unlinked.status, unlinked.claimants, unlinked.merged, unlinked.alerts) == (
            UNLINKED,
            {},
            None,
            {},
        )
    # The device's next anonymous visit forms a profile of its own again: nothing goes to the erased key.
    journey.send(touch("v-later", "2026-01-07T09:00:00+01:00", "visit", ids=DEVICE))
    assert "cust-anna" not in journey.states
    assert journey.profiles()[DEVICE_KEY].events == 1
    # Her identifiers may link again, to whoever claims them next (a new customer, perhaps her again).
    journey.send(touch("login-2", "2026-01-08T08:30:00+01:00", "identify", who="cust-anna-2", ids=EMAIL))
    assert record(journey, EMAIL_KEY).first_claimant == "cust-anna-2"


def test_a_shared_identifier_stays_with_the_other_customer_when_one_is_erased() -> None:
    journey = partition()
    journey.send(
        touch("anna-login", "2026-01-05T20:05:00+01:00", "identify", who="cust-anna", ids=TABLET),
        touch("ben-login", "2026-01-06T21:00:00+01:00", "identify", who="cust-ben", ids=TABLET),
    )
    assert list(record(journey, TABLET_KEY).claimants) == ["cust-anna", "cust-ben"]
    journey.erase("cust-anna", "2026-01-07T12:00:00+01:00")
    tablet = record(journey, TABLET_KEY)
    assert (tablet.status, list(tablet.claimants)) == (LINKED, ["cust-ben"])
    journey.send(touch("t-2", "2026-01-08T20:00:00+01:00", "visit", ids=TABLET))
    assert journey.profiles()["cust-ben"].events == 2, "the tablet's anonymous use now goes to Ben"
    assert naming(journey, "cust-anna") == []


def test_an_unlink_reaching_an_identifier_that_never_knew_the_customer_writes_nothing() -> None:
    journey = partition()
    journey.send(touch("ben-login", "2026-01-05T20:05:00+01:00", "identify", who="cust-ben", ids=TABLET))
    before = journey.states[TABLET_KEY].encode()
    assert journey.control(TABLET_KEY, Unlink(TABLET_KEY, "cust-anna", 1)).cause == UNCHANGED
    assert journey.states[TABLET_KEY].encode() == before
    assert journey.control(DEVICE_KEY, Unlink(DEVICE_KEY, "cust-anna", 1)).cause == UNCHANGED
    assert DEVICE_KEY not in journey.states, "no record is made for an identifier nobody claimed"
    assert journey.control(TABLET_KEY, Unlink(TABLET_KEY, "cust-ben", 1)).cause == IDENTITY


def test_a_split_from_an_erased_customer_is_forgotten_with_them() -> None:
    shared = IdentityRecord(LINKED, {"cust-ben": 2}, ["cust-anna"])
    assert IdentityResolver.unlink(shared, "cust-anna")
    assert (shared.status, shared.claimants, shared.barred) == (LINKED, {"cust-ben": 2}, [])
    assert not IdentityResolver.unlink(shared, "cust-carl")


def test_a_customer_keeps_a_bounded_list_of_the_identifiers_it_carried() -> None:
    journey = partition()
    for n in range(MAX_CLAIMED + 4):
        email = {"email": f"anna+{n}@example.com"}
        journey.send(touch(f"e-{n}", f"2026-01-05T10:{n:02d}:00+01:00", "visit", who="cust-anna", ids=email))
    claimed = journey.states["cust-anna"].claimed
    assert len(claimed) == MAX_CLAIMED
    assert claimed[-1] == identifier_key("email", f"anna+{MAX_CLAIMED + 3}@example.com", SALT)
    assert carried_keys({"email": "anna@example.com", "phone": "h:0123456789abcdef0123"}) == [
        "id:phone:0123456789abcdef0123"
    ], "a raw value (written past ingest) names no key"


def test_an_unlink_travels_signed_and_only_to_its_own_identifier() -> None:
    secret = b"workers' secret"
    message = Unlink(EMAIL_KEY, "cust-anna", 7)
    value = encode_control(secret, EMAIL_KEY.encode(), message)
    assert decode_control(secret, EMAIL_KEY.encode(), value) == message
    moved = decode_control(secret, DEVICE_KEY.encode(), value)
    assert isinstance(moved, Rejected)
    assert moved.reason == FORGED_CONTROL
