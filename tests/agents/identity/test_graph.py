"""The identity graph's pieces: placeholder values, keys, claims and limits, the signed records."""

from __future__ import annotations

import hashlib
import hmac
import re

import msgpack
import pytest

from agents.config import config_from_mapping
from agents.domain.identity import (
    LINKED,
    OVER_LIMIT,
    SHARED,
    UNLINKED,
    Claim,
    Control,
    IdentityRecord,
    MergeIn,
    Split,
    Unlink,
    Unmerge,
)
from agents.domain.refusal import FORGED_CONTROL, Rejected
from agents.identity.blocked import BlockedValues
from agents.identity.control import decode_control, encode_control, is_control
from agents.identity.keys import (
    IdentityKeys,
    identifier_digest,
    identifier_key,
    is_identifier_key,
    unlinkable_key,
)
from agents.identity.resolution import ALREADY, BARRED, IdentityResolver, KindLimit
from agents.journey.enriched import mask_identifiers

pytestmark = pytest.mark.unit

SALT = b"graph"
BLOCKED = BlockedValues()
KEYS = IdentityKeys(SALT, BLOCKED)
DAY = 86_400


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("device_id", "00000000-0000-0000-0000-000000000000"),
        ("device_id", "0"),
        ("device_id", "9774d56d682e549c"),
        ("email", "test@test.com"),
        ("email", "noreply@shop.example"),
        ("email", "no-reply+bounces@mail.example.org"),
        ("email", "unknown@example.com"),
        ("phone", "+0000000000"),
        ("phone", "1111111"),
        ("phone", "1234567890"),
        ("loyalty_id", "UNKNOWN"),
        ("openid", "null"),
        ("openid", "N/A"),
        ("openid", "undefined"),
    ],
)
def test_placeholders_are_blocked(kind: str, value: str) -> None:
    assert BLOCKED(kind, value)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("device_id", "066b6a26-b3b8-4451-b145-bad22bea452c"),
        ("email", "anna.berg@example.com"),
        ("email", "test.user@example.com"),
        ("phone", "+4915112345678"),
        ("loyalty_id", "LC000271828"),
        ("openid", "oAbc123"),
    ],
)
def test_real_identifiers_are_not(kind: str, value: str) -> None:
    assert not BLOCKED(kind, value)


def test_the_rules_file_adds_patterns_per_kind_or_for_every_kind() -> None:
    config = config_from_mapping(
        {"identity": {"blocked": {"email": [".*@shop\\.invalid"], "any": ["demo-.*"]}}}
    )
    blocked = BlockedValues(config.identity.blocked)
    assert blocked("email", "front-desk@shop.invalid")
    assert blocked("device_id", "DEMO-tablet-3")
    assert not blocked("phone", "front-desk@shop.invalid")
    assert blocked("email", "test@test.com"), "the built-in ones still apply"


def test_a_bad_pattern_is_a_configuration_error_naming_it() -> None:
    from agents.domain.errors import ConfigError

    with pytest.raises(ConfigError, match=r"identity\.blocked\.email\[0\]: not a regular expression"):
        config_from_mapping({"identity": {"blocked": {"email": ["(unclosed"]}}})


def test_an_event_without_a_customer_goes_to_its_strongest_identifier_that_is_no_placeholder() -> None:
    event = {"event_id": "e-1"}
    identifiers = {"email": "test@test.com", "device_id": "dev-1"}
    assert KEYS.profile_key(identifiers, event) == identifier_key("device_id", "dev-1", SALT)
    assert KEYS.profile_key({**identifiers, "email": "anna@example.com"}, event) == identifier_key(
        "email", "anna@example.com", SALT
    )


def test_an_event_with_only_placeholders_stands_alone_in_its_conversation() -> None:
    blocked = {"device_id": "00000000-0000-0000-0000-000000000000"}
    first = KEYS.profile_key(blocked, {"event_id": "e-1", "conversation_id": "conv-9"})
    assert first == KEYS.profile_key(blocked, {"event_id": "e-2", "conversation_id": "conv-9"})
    assert first.startswith("id:conversation:")
    alone = KEYS.profile_key(blocked, {"event_id": "e-3"})
    assert alone.startswith("id:event:")
    assert alone != first
    assert not is_identifier_key(first)
    assert not is_identifier_key(alone)


def test_keys_are_keyed_hashes_that_never_show_the_value() -> None:
    key = identifier_key("phone", "+4930123456", SALT)
    assert key.startswith("id:phone:")
    assert "4930123456" not in key
    assert key != identifier_key("phone", "+4930123456", b"another deployment")
    assert is_identifier_key(key)
    assert unlinkable_key({"event_id": "e", "conversation_id": "secret"}, SALT).count("secret") == 0


def test_an_identifiers_key_carries_the_hash_enriched_events_show() -> None:
    # Operators join an enriched event's masked identifier (h:<digest>) to the graph's key by this hash.
    key = identifier_key("email", "anna@example.com", SALT)
    assert key == "id:email:" + identifier_digest("email", "anna@example.com", SALT)
    assert mask_identifiers({"email": "anna@example.com"}, SALT) == {"email": "h:" + key.split(":")[2]}


def test_every_profile_key_is_a_20_digit_keyed_hash_under_its_scope() -> None:
    event = {"event_id": "e-1", "conversation_id": "conv-9"}
    for key in (
        identifier_key("device_id", "dev-1", SALT),
        unlinkable_key(event, SALT),
        unlinkable_key({"event_id": "e-1"}, SALT),
    ):
        assert re.fullmatch(r"id:(device_id|conversation|event):[0-9a-f]{20}", key), key
    # Keyed with the deployment's salt: another deployment's keys for the same conversation differ.
    assert unlinkable_key(event, SALT) != unlinkable_key(event, b"another deployment")
    assert unlinkable_key({"event_id": "e-1"}, SALT) != unlinkable_key({"event_id": "e-1"}, b"another")


@pytest.mark.parametrize(
    ("key", "names_an_identifier"),
    [
        ("cust-1", False),
        ("email:anna", False),
        ("id:email:0123456789abcdef0123", True),
        ("id:loyalty_id:0123456789abcdef0123", True),
        ("id:conversation:0123456789abcdef0123", False),
        ("id:event:0123456789abcdef0123", False),
        ("id:fax:0123456789abcdef0123", False),
    ],
)
def test_only_an_identifiers_own_key_names_an_identifier(key: str, names_an_identifier: bool) -> None:
    assert is_identifier_key(key) is names_an_identifier


def test_an_event_naming_its_customer_claims_every_identifier_but_placeholders() -> None:
    claims = KEYS.claims(
        "cust-1", {"email": "noreply@x.example", "device_id": "dev-1", "phone": "+4930123"}, "e", 5
    )
    assert [claim.key for claim in claims] == [
        identifier_key("phone", "+4930123", SALT),
        identifier_key("device_id", "dev-1", SALT),
    ]
    assert {claim.customer for claim in claims} == {"cust-1"}


LIMITS = {"email": KindLimit(2, None), "device_id": KindLimit(3, 7 * DAY)}


def claim(customer: str, at: int = 0, key: str = "id:device_id:00") -> Claim:
    return Claim(key, customer, f"ev-{customer}-{at}", at)


def test_the_first_claim_links_and_the_same_customer_again_changes_nothing() -> None:
    resolver = IdentityResolver(LIMITS, SALT)
    record = IdentityRecord()
    assert resolver.route(record, {"event_id": "e"}) is None
    assert resolver.claim(record, claim("anna")).outcome == LINKED
    assert resolver.claim(record, claim("anna", 50)).outcome == ALREADY
    assert record.status == LINKED
    assert resolver.route(record, {"event_id": "e"}) == "anna"


def test_a_second_customer_is_a_conflict_and_takes_nothing_from_the_first() -> None:
    resolver = IdentityResolver(LIMITS, SALT)
    record = IdentityRecord()
    resolver.claim(record, claim("anna"))
    outcome = resolver.claim(record, claim("ben", 10))
    assert outcome.outcome == SHARED
    assert outcome.conflict is not None
    assert (outcome.conflict.identifier, outcome.conflict.customers) == ("id:device_id:00", ("anna", "ben"))
    assert not outcome.links
    assert resolver.route(record, {"event_id": "e"}) == "anna"
    assert resolver.claim(record, claim("ben", 20)).conflict is None, "one conflict per new claimant"


def test_past_its_limit_within_the_window_an_identifier_routes_to_nobody() -> None:
    resolver = IdentityResolver(LIMITS, SALT)
    record = IdentityRecord()
    for number, customer in enumerate(("anna", "ben", "carl")):
        resolver.claim(record, claim(customer, number * DAY))
    assert record.status == SHARED
    outcome = resolver.claim(record, claim("dora", 3 * DAY))
    assert outcome.outcome == OVER_LIMIT
    assert outcome.conflict is not None
    assert outcome.conflict.outcome == OVER_LIMIT
    routed = resolver.route(record, {"event_id": "e", "conversation_id": "c"})
    assert routed is not None
    assert routed.startswith("id:conversation:")
    quiet = resolver.claim(record, claim("emil", 4 * DAY))
    assert (quiet.outcome, quiet.conflict) == (OVER_LIMIT, None), "over its limit, it stays quiet"
    assert len(record.claimants) <= 4, "bounded"


def test_claims_spread_wider_than_the_window_do_not_count_together() -> None:
    resolver = IdentityResolver(LIMITS, SALT)
    record = IdentityRecord()
    for number, customer in enumerate(("anna", "ben", "carl", "dora")):
        resolver.claim(record, claim(customer, number * 8 * DAY))
    assert record.status == SHARED, "a device passed on week after week is not a kiosk"


def test_an_email_never_goes_over_its_limit_by_one_record() -> None:
    resolver = IdentityResolver(LIMITS, SALT)
    record = IdentityRecord()
    key = "id:email:00"
    resolver.claim(record, claim("anna", key=key))
    assert resolver.claim(record, claim("mallory", key=key)).outcome == SHARED
    assert resolver.route(record, {"event_id": "e"}) == "anna"


def merged_of(record: IdentityRecord) -> bytes | None:
    """The profile *record* says was merged, read anew: the resolver changes the record in place."""
    return record.merged


def test_a_split_bars_the_customer_and_unlinks() -> None:
    resolver = IdentityResolver(LIMITS, SALT)
    record = IdentityRecord()
    resolver.claim(record, claim("anna"))
    record.merged = b"profile"
    split = Split("id:device_id:00", "anna", "ops", 100)
    assert resolver.can_split(record, split)
    assert not resolver.can_split(record, Split("id:device_id:00", "ben", "ops", 100))
    assert resolver.split(record, split) == b"profile"
    assert record.status == UNLINKED
    assert merged_of(record) is None
    assert not resolver.can_split(record, split), "once"
    assert resolver.claim(record, claim("anna", 200)).outcome == BARRED
    assert record.status == UNLINKED
    assert resolver.claim(record, claim("ben", 300)).outcome == LINKED, "another customer may link it"


def test_an_identity_record_survives_its_compact_form() -> None:
    record = IdentityRecord(SHARED, {"anna": 1, "ben": 2}, ["carl"], b"\x01", "ev-1", 5, {"a/x/1": "a/y/2"})
    assert IdentityRecord.from_list(record.to_list()) == record


SECRET = b"workers' secret"


def test_a_signed_identity_record_reads_back_under_its_key_only() -> None:
    key = b"id:device_id:00"
    message = Claim("id:device_id:00", "anna", "ev-1", 7)
    value = encode_control(SECRET, key, message)
    assert is_control(value)
    assert not is_control(b'{"schema_version":1}')
    assert decode_control(SECRET, key, value) == message
    moved = decode_control(SECRET, b"id:device_id:01", value)
    assert isinstance(moved, Rejected)
    assert moved.reason == FORGED_CONTROL
    merge = MergeIn("cust-1", "id:device_id:00", "ev-1", 7, b"state")
    assert decode_control(SECRET, b"cust-1", encode_control(SECRET, b"cust-1", merge)) == merge


@pytest.mark.parametrize(
    "value",
    [b"\x00", b"\x00\x01" + bytes(32) + b"\x93", b"\x00\x02whatever", b"{}"],
    ids=["short", "wrong mac", "unknown version", "not control"],
)
def test_a_forged_identity_record_is_refused(value: bytes) -> None:
    outcome = decode_control(SECRET, b"cust-1", value)
    assert isinstance(outcome, Rejected)
    assert outcome.reason == FORGED_CONTROL


def test_another_secret_cannot_forge_one() -> None:
    value = encode_control(
        b"not the workers' secret", b"cust-1", MergeIn("cust-1", "id:email:00", "e", 1, b"")
    )
    assert isinstance(decode_control(SECRET, b"cust-1", value), Rejected)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("id:email:00", Claim("id:email:00", "anna", "ev-1", 7)),
        ("cust-1", MergeIn("cust-1", "id:device_id:00", "ev-1", 7, b"\x93state")),
        ("cust-1", Unmerge("cust-1", "id:device_id:00", b"\x93state", "ops", 9)),
        ("id:email:00", Unlink("id:email:00", "anna", 11)),
    ],
    ids=["claim", "merge", "unmerge", "unlink"],
)
def test_every_identity_record_reads_back_under_its_own_key_and_no_other(key: str, message: Control) -> None:
    value = encode_control(SECRET, key.encode(), message)
    assert value.startswith(b"\x00\x01"), "a control record, version 1"
    assert decode_control(SECRET, key.encode(), value) == message
    # The key is under the proof: the same value under another key is forged.
    assert decode_control(SECRET, b"cust-2", value) == Rejected(
        FORGED_CONTROL, "an identity record without a valid proof of origin (HMAC) for its key"
    )


def signed(key: bytes, fields: list[object]) -> bytes:
    """A record signed with the workers' secret as the worker signs one (HMAC-SHA256 over a label, key and payload)."""
    payload: bytes = msgpack.packb(fields)
    proof = hmac.new(SECRET, b"touchpoint-identity|" + key + b"|" + payload, hashlib.sha256).digest()
    return b"\x00\x01" + proof + payload


def test_the_proof_is_an_hmac_of_the_key_and_payload_under_the_workers_secret() -> None:
    # Another worker version must read it: the wire format is pinned, byte for byte.
    message = Claim("id:email:00", "anna", "ev-1", 7)
    assert encode_control(SECRET, b"id:email:00", message) == signed(
        b"id:email:00", ["claim", "id:email:00", "anna", "ev-1", 7]
    )


@pytest.mark.parametrize(
    "fields",
    [["teleport", "cust-1"], ["claim", "id:email:00", "anna"], ["merge", "cust-1"], ["unlink"], [7]],
    ids=["unknown kind", "claim short of a field", "merge short", "unlink short", "no kind"],
)
def test_a_signed_record_this_worker_cannot_read_is_refused_saying_so(fields: list[object]) -> None:
    assert decode_control(SECRET, b"cust-1", signed(b"cust-1", fields)) == Rejected(
        FORGED_CONTROL, "an identity record this worker cannot read (signed, but malformed)"
    )
    garbage = (
        b"\x00\x01" + hmac.new(SECRET, b"touchpoint-identity|cust-1|\xc1", hashlib.sha256).digest() + b"\xc1"
    )
    assert decode_control(SECRET, b"cust-1", garbage) == Rejected(
        FORGED_CONTROL, "an identity record this worker cannot read (signed, but malformed)"
    )


@pytest.mark.parametrize(
    "message",
    [
        Claim("id:email:01", "anna", "ev-1", 7),
        MergeIn("cust-2", "id:device_id:00", "ev-1", 7, b""),
        Unmerge("cust-2", "id:device_id:00", b"", "ops", 9),
        Unlink("id:email:01", "anna", 11),
    ],
    ids=["claim", "merge", "unmerge", "unlink"],
)
def test_a_genuine_record_for_another_key_than_the_one_it_travels_under_is_refused(message: Control) -> None:
    # Signed for this key, but about another: replaying it here must not change this key's state.
    value = encode_control(SECRET, b"cust-1", message)
    assert decode_control(SECRET, b"cust-1", value) == Rejected(
        FORGED_CONTROL, "an identity record for another key than its own"
    )


def test_only_a_value_starting_with_the_control_byte_is_an_identity_record() -> None:
    assert is_control(b"\x00")
    assert not is_control(None)
    assert not is_control(b"")
    assert not is_control(b'{"schema_version": 1}')


def test_claims_exactly_the_window_apart_count_together() -> None:
    resolver = IdentityResolver(LIMITS, SALT)
    edge, past = IdentityRecord(), IdentityRecord()
    for number, customer in enumerate(("anna", "ben", "carl")):
        resolver.claim(edge, claim(customer, number * DAY))
        resolver.claim(past, claim(customer, number * DAY))
    assert resolver.claim(edge, claim("dora", 7 * DAY)).outcome == OVER_LIMIT, "anna's claim is 7 days before"
    assert resolver.claim(past, claim("dora", 7 * DAY + 1)).outcome == SHARED, "anna's is a second too early"


def test_a_kind_without_a_limit_takes_one_customer_ever() -> None:
    resolver = IdentityResolver({}, SALT)
    record = IdentityRecord()
    key = "id:phone:00"
    assert resolver.claim(record, claim("anna", key=key)).outcome == LINKED
    outcome = resolver.claim(record, claim("ben", 400 * DAY, key=key))
    assert (outcome.outcome, record.status) == (OVER_LIMIT, OVER_LIMIT)


def test_a_shared_identifier_remembers_its_first_and_its_latest_claimants_only() -> None:
    resolver = IdentityResolver(LIMITS, SALT)  # device: 3 customers within 7 days
    record = IdentityRecord()
    names = ("anna", "ben", "carl", "dora", "emil", "fritz")
    outcomes = [
        resolver.claim(record, claim(customer, number * 8 * DAY)) for number, customer in enumerate(names)
    ]
    assert [outcome.outcome for outcome in outcomes] == [LINKED, SHARED, SHARED, SHARED, SHARED, SHARED]
    last = outcomes[-1].conflict
    assert last is not None
    assert (last.customers, last.event_id, last.at, last.outcome) == (
        ("anna", "carl", "dora", "emil", "fritz"),
        f"ev-fritz-{5 * 8 * DAY}",
        5 * 8 * DAY,
        SHARED,
    )
    # At most the limit plus one: the linked first claimant stays, the oldest of the others go.
    assert list(record.claimants) == ["anna", "dora", "emil", "fritz"]
    assert record.claimants["dora"] == 3 * 8 * DAY, "each with the time of its first claim"
    assert resolver.route(record, {"event_id": "e"}) == "anna"


def test_an_operator_cannot_split_a_customer_twice_or_one_the_identifier_was_never_merged_into() -> None:
    record = IdentityRecord(
        SHARED, {"anna": 1, "ben": 2}, ["carl"], b"profile", "ev-1", 1, {"a/x/1": "a/anna/2"}
    )
    assert IdentityResolver.can_split(record, Split("id:device_id:00", "anna", "ops", 100))
    assert not IdentityResolver.can_split(record, Split("id:device_id:00", "ben", "ops", 100)), (
        "not the linked one"
    )
    assert IdentityResolver.split(record, Split("id:device_id:00", "anna", "ops", 100)) == b"profile"
    assert (record.status, record.claimants, record.barred) == (LINKED, {"ben": 2}, ["carl", "anna"])
    assert (record.merged, record.merged_event, record.merged_at, record.alerts) == (None, None, 0, {})
    barred_first = IdentityRecord(LINKED, {"anna": 1}, ["anna"])
    assert not IdentityResolver.can_split(barred_first, Split("id:device_id:00", "anna", "ops", 100))


@pytest.mark.parametrize(
    ("before", "erased", "after", "left"),
    [
        (LINKED, "anna", UNLINKED, {}),
        (SHARED, "anna", LINKED, {"ben": 2}),
        (SHARED, "ben", LINKED, {"anna": 1}),
        (OVER_LIMIT, "anna", OVER_LIMIT, {"ben": 2}),
    ],
)
def test_an_erased_claimant_is_forgotten_and_what_is_left_decides_the_status(
    before: str, erased: str, after: str, left: dict[str, int]
) -> None:
    claimants = {"anna": 1} if before == LINKED else {"anna": 1, "ben": 2}
    record = IdentityRecord(before, claimants, [], b"profile", "ev-1", 1, {"a/x/1": "a/anna/2"})
    assert IdentityResolver.unlink(record, erased)
    assert (record.status, record.claimants) == (after, left)
    # The profile merged into the first claimant was theirs: it goes with them, and only then.
    kept = (None, None, 0, {}) if erased == "anna" else (b"profile", "ev-1", 1, {"a/x/1": "a/anna/2"})
    assert (record.merged, record.merged_event, record.merged_at, record.alerts) == kept


def test_three_claimants_left_keep_an_identifier_shared() -> None:
    record = IdentityRecord(SHARED, {"anna": 1, "ben": 2, "carl": 3, "dora": 4})
    assert IdentityResolver.unlink(record, "dora")
    assert (record.status, list(record.claimants)) == (SHARED, ["anna", "ben", "carl"])


def test_a_shared_identifier_split_from_every_claimant_links_to_the_next_one() -> None:
    # Anna linked it, Ben's claim was a conflict; an operator splits both: Carl's claim then links it
    # (as for an identifier split from its only customer), rather than being a conflict with nobody.
    resolver = IdentityResolver(LIMITS, SALT)
    record = IdentityRecord()
    resolver.claim(record, claim("anna", 1))
    resolver.claim(record, claim("ben", 2))
    resolver.split(record, Split("id:device_id:00", "anna", "ops", 3))
    assert (record.status, resolver.route(record, {"event_id": "e"})) == (LINKED, "ben")
    assert resolver.can_split(record, Split("id:device_id:00", "ben", "ops", 4))
    resolver.split(record, Split("id:device_id:00", "ben", "ops", 4))
    assert (record.status, record.claimants) == (UNLINKED, {})
    assert resolver.route(record, {"event_id": "e"}) is None, "its own profile again"
    outcome = resolver.claim(record, claim("carl", 5))
    assert (outcome.outcome, outcome.conflict, record.status) == (LINKED, None, LINKED)


def test_a_record_without_a_value_or_of_another_version_is_refused_not_read() -> None:
    # A tombstone on the topic has no value; a version this worker does not know is not guessed at.
    forged = Rejected(FORGED_CONTROL, "an identity record without a valid proof of origin (HMAC) for its key")
    assert decode_control(SECRET, b"cust-1", None) == forged
    genuine = signed(b"cust-1", ["unlink", "cust-1", "anna", 11])
    assert isinstance(decode_control(SECRET, b"cust-1", genuine), Unlink)
    assert decode_control(SECRET, b"cust-1", b"\x00\x02" + genuine[2:]) == forged
