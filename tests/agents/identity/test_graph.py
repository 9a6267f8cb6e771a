"""The identity graph's pieces: placeholder values, keys, claims and limits, the signed records."""

from __future__ import annotations

import pytest

from agents.config import config_from_mapping
from agents.domain.identity import LINKED, OVER_LIMIT, SHARED, UNLINKED, Claim, IdentityRecord, MergeIn, Split
from agents.domain.refusal import FORGED_CONTROL, Rejected
from agents.identity.blocked import BlockedValues
from agents.identity.control import decode_control, encode_control, is_control
from agents.identity.keys import IdentityKeys, identifier_key, is_identifier_key, unlinkable_key
from agents.identity.resolution import ALREADY, BARRED, IdentityResolver, KindLimit

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
    assert resolver.route(record, "id:device_id:00", {"event_id": "e"}) is None
    assert resolver.claim(record, claim("anna")).outcome == LINKED
    assert resolver.claim(record, claim("anna", 50)).outcome == ALREADY
    assert record.status == LINKED
    assert resolver.route(record, "id:device_id:00", {"event_id": "e"}) == "anna"


def test_a_second_customer_is_a_conflict_and_takes_nothing_from_the_first() -> None:
    resolver = IdentityResolver(LIMITS, SALT)
    record = IdentityRecord()
    resolver.claim(record, claim("anna"))
    outcome = resolver.claim(record, claim("ben", 10))
    assert outcome.outcome == SHARED
    assert outcome.conflict is not None
    assert outcome.conflict.customers == ("anna", "ben")
    assert not outcome.links
    assert resolver.route(record, "id:device_id:00", {"event_id": "e"}) == "anna"
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
    routed = resolver.route(record, "id:device_id:00", {"event_id": "e", "conversation_id": "c"})
    assert routed is not None
    assert routed.startswith("id:conversation:")
    assert resolver.claim(record, claim("emil", 4 * DAY)).conflict is None, "over its limit, it stays quiet"
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
    assert resolver.route(record, key, {"event_id": "e"}) == "anna"


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
    assert record.merged is None
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
