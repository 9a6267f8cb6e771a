"""The decoder: every kind of bad input maps to the right reason; no input raises."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schemas
from agents.config import IdentityConfig
from agents.domain.identity import Claim
from agents.domain.refusal import REASONS, Rejected
from agents.identity.keys import identifier_key
from agents.ingest.decode import Accepted, TouchpointDecoder, canonical_instant
from agents.ingest.identity import derived_customer_id, hash_identifiers, normalise_identifier

pytestmark = pytest.mark.unit

DECODER = TouchpointDecoder(identity_salt=b"test-salt")
BASE: dict[str, Any] = {
    "schema_version": 1,
    "event_id": "ev-1",
    "occurred_at": "2026-01-05T19:30:00+01:00",
    "customer_id": "cust-1",
    "channel": "chat",
    "type": "inquiry",
    "actor": "customer",
}


def event(**changes: Any) -> bytes:
    document = {**BASE, **changes}
    return orjson.dumps({key: value for key, value in document.items() if value is not None})


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


BAD_INPUTS = [
    pytest.param(b"", "empty", id="empty"),
    pytest.param(None, "empty", id="null value"),
    pytest.param(b" \t\r\n ", "empty", id="whitespace"),
    pytest.param(bytes(range(256)), "not_utf8", id="binary"),
    pytest.param(b'{"a": "\xc3\x28"}', "not_utf8", id="invalid utf-8 inside a string"),
    pytest.param(b"\xef\xbb\xbf{}", "not_json", id="byte-order mark"),
    pytest.param(b"{'single': 'quotes'}", "not_json", id="python literal"),
    pytest.param(b'{"a": 1', "not_json", id="truncated"),
    pytest.param(b"[1, 2]", "not_object", id="json array"),
    pytest.param(b"3.14", "not_object", id="json number"),
    pytest.param(b'"text"', "not_object", id="json string"),
    pytest.param(b"null", "not_object", id="json null"),
    pytest.param(b"x" * 10 * 1024 * 1024, "too_large", id="10 MB payload"),
    pytest.param(nested(5000), "not_json", id="deep nesting beyond the parser's limit"),
    pytest.param(nested(200), "schema", id="deep nesting within the parser's limit"),
    pytest.param(event(event_id=12), "schema", id="wrong type: event_id number"),
    pytest.param(
        event(attributes={"amount": "12", "currency": "EUR"}, type="purchase"), "schema", id="amount string"
    ),
    pytest.param(event(attributes={"csat": True}, type="feedback"), "schema", id="boolean csat"),
    pytest.param(event(channel="fax"), "schema", id="unknown channel"),
    pytest.param(event(occurred_at="2026-01-05T19:30:00"), "timestamp", id="naive timestamp"),
    pytest.param(event(occurred_at=1767637800), "timestamp", id="epoch number timestamp"),
    pytest.param(event(occurred_at="0001-01-01T00:00:00+00:00"), "timestamp", id="year 0001"),
    pytest.param(event(occurred_at="9999-12-31T23:59:59+00:00"), "timestamp", id="year 9999"),
    pytest.param(event(occurred_at="2026-02-30T10:00:00Z"), "timestamp", id="february 30"),
    pytest.param(event(occurred_at="2026-01-05T10:00:00+25:00"), "timestamp", id="offset beyond 24 h"),
    pytest.param(event(customer_id=None), "schema", id="missing customer reference"),
    pytest.param(event(customer_id="   "), "schema", id="blank customer id"),
    pytest.param(event(identifiers={"fax": "123"}), "schema", id="unknown identifier kind"),
]


@pytest.mark.parametrize(("raw", "reason"), BAD_INPUTS)
def test_bad_input_is_rejected_with_the_right_reason_and_a_message(raw: bytes | None, reason: str) -> None:
    outcome = DECODER(raw)
    assert isinstance(outcome, Rejected)
    assert outcome.reason == reason, outcome
    assert outcome.message


def test_rejection_message_names_the_failing_field() -> None:
    outcome = DECODER(event(type="purchase", attributes={"amount": -1, "currency": "EUR"}))
    assert isinstance(outcome, Rejected)
    assert outcome.field == "attributes.amount"
    assert outcome.message.startswith("attributes.amount ")


def test_occurred_at_keeps_the_producers_utc_offset() -> None:
    outcome = DECODER(event(occurred_at="2026-01-05t19:30:00.250+05:30"))
    assert isinstance(outcome, Accepted)
    assert outcome.occurred_at.utcoffset() == timedelta(hours=5, minutes=30)
    assert outcome.event["occurred_at"] == "2026-01-05T19:30:00.250000+05:30"


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-05T18:30:00Z",
        "2026-01-05t18:30:00Z",
        "2026-01-05T18:30:00z",
        "2026-01-05t18:30:00.000z",
        "2026-01-05 18:30:00z",
        "2026-01-05 19:30:00+01:00",
    ],
)
def test_an_instant_reads_the_same_in_either_case_and_with_either_separator(text: str) -> None:
    outcome = DECODER(event(occurred_at=text))
    assert isinstance(outcome, Accepted)
    assert outcome.occurred_seconds == datetime(2026, 1, 5, 18, 30, tzinfo=UTC).timestamp()


def test_z_suffix_is_read_as_utc() -> None:
    outcome = DECODER(event(occurred_at="2026-01-05T18:30:00Z"))
    assert isinstance(outcome, Accepted)
    assert outcome.occurred_at.utcoffset() == timedelta(0)


def test_identifiers_are_trimmed_and_email_and_phone_canonicalised_before_they_are_hashed() -> None:
    outcome = DECODER(
        event(
            customer_id=None,
            identifiers={
                "email": "  Anna.Berg@Example.COM ",
                "phone": "+49 (30) 123-45.6",
                "device_id": " Dev-A ",
            },
        )
    )
    assert isinstance(outcome, Accepted)
    assert outcome.event["identifiers"] == hash_identifiers(
        {"email": "anna.berg@example.com", "phone": "+493012345" + "6", "device_id": "Dev-A"}, b"test-salt"
    )


def test_no_raw_identifier_leaves_ingest_only_its_keyed_hash_per_kind() -> None:
    raw = event(
        customer_id="cust-7", identifiers={"email": "anna.berg@example.com", "phone": "+4930 1234567"}
    )
    outcome = DECODER(raw)
    assert isinstance(outcome, Accepted)
    hashed = outcome.event["identifiers"]
    assert set(hashed) == {"email", "phone"}
    assert all(re.fullmatch(r"h:[0-9a-f]{20}", value) for value in hashed.values())
    assert b"anna.berg" not in outcome.body
    assert b"1234567" not in outcome.body
    # Keyed: the same e-mail under another deployment's key is another hash.
    other = TouchpointDecoder(identity_salt=b"other-salt")(raw)
    assert isinstance(other, Accepted)
    assert other.event["identifiers"]["email"] != hashed["email"]


def test_the_derived_customer_key_and_the_identifier_hash_share_their_digest() -> None:
    outcome = DECODER(event(customer_id=None, identifiers={"phone": "+4930123456"}))
    assert isinstance(outcome, Accepted)
    assert outcome.customer_id == "id:phone:" + outcome.event["identifiers"]["phone"].removeprefix("h:")


def test_event_without_customer_id_is_keyed_by_its_strongest_identifier() -> None:
    by_email = DECODER(event(customer_id=None, identifiers={"email": "a@b.io", "device_id": "d1"}))
    same_email_other_device = DECODER(
        event(customer_id=None, identifiers={"email": " A@B.io", "device_id": "d2"})
    )
    by_loyalty = DECODER(event(customer_id=None, identifiers={"email": "a@b.io", "loyalty_id": "L-1"}))
    assert isinstance(by_email, Accepted)
    assert isinstance(same_email_other_device, Accepted)
    assert isinstance(by_loyalty, Accepted)
    assert by_email.customer_id == same_email_other_device.customer_id
    assert by_email.customer_id.startswith("id:email:")
    assert by_loyalty.customer_id.startswith("id:loyalty_id:")
    assert by_email.event["customer_id"] == by_email.customer_id
    assert "a@b.io" not in by_email.customer_id


def test_derived_customer_key_depends_on_the_salt() -> None:
    assert derived_customer_id({"phone": "+4930123"}, b"one") != derived_customer_id(
        {"phone": "+4930123"}, b"two"
    )


def test_given_customer_id_wins_over_identifiers_and_is_trimmed() -> None:
    outcome = DECODER(event(customer_id=" cust-9 ", identifiers={"email": "x@y.io"}))
    assert isinstance(outcome, Accepted)
    assert outcome.customer_id == "cust-9"


def test_body_is_the_normalised_event_as_compact_json() -> None:
    outcome = DECODER(event(occurred_at="2026-01-05T18:30:00Z"))
    assert isinstance(outcome, Accepted)
    assert orjson.loads(outcome.body) == outcome.event
    assert b" " not in outcome.body


def test_size_limit_is_configurable() -> None:
    small = TouchpointDecoder(identity_salt=b"s", max_bytes=100)
    outcome = small(event(attributes={"note": "x" * 200}))
    assert isinstance(outcome, Rejected)
    assert outcome.reason == "too_large"


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise_and_always_yield_a_known_outcome(raw: bytes) -> None:
    outcome = DECODER(raw)
    assert isinstance(outcome, Accepted) or outcome.reason in REASONS


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children) | st.dictionaries(st.text(max_size=8), children),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*BASE, "identifiers", "attributes", "location", "zzz"]), JSON_VALUES))
def test_arbitrary_json_objects_never_raise_and_accepted_ones_satisfy_the_schema(
    document: dict[str, Any],
) -> None:
    outcome = DECODER(orjson.dumps({**BASE, **document}))
    if isinstance(outcome, Accepted):
        schemas.validator("touchpoint")(outcome.event)
    else:
        assert outcome.reason in REASONS
        assert outcome.reason != "internal"


# --- ids that can't hurt, normalisation inside the contract, bounded event time ---------------------------

HOSTILE_IDS = [
    pytest.param("cust\u001b[2J\u001b[31mPWNED", "U+001B", id="ANSI escape"),
    pytest.param("cust\u202eevil", "U+202E", id="right-to-left override"),
    pytest.param("cu\u200bst", "U+200B", id="zero-width space"),
    pytest.param("cust\n", "U+000A", id="newline"),
    pytest.param("\u0000tick", "U+0000", id="the control prefix"),
    pytest.param("cust\u0085", "U+0085", id="C1 control"),
]


@pytest.mark.parametrize(("customer_id", "code"), HOSTILE_IDS)
def test_ids_with_control_bidi_or_invisible_characters_are_refused_naming_the_field(
    customer_id: str, code: str
) -> None:
    outcome = DECODER(event(customer_id=customer_id))
    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == ("schema", "customer_id")
    assert code in outcome.message


@pytest.mark.parametrize(
    "field", ["event_id", "location", "conversation_id"], ids=["event_id", "location", "conversation_id"]
)
def test_other_id_fields_refuse_control_characters_too(field: str) -> None:
    outcome = DECODER(event(**{field: "a\u001bb"}))
    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == ("schema", field)


@pytest.mark.parametrize("kind", ["email", "device_id", "loyalty_id", "openid"])
def test_identifiers_refuse_control_characters(kind: str) -> None:
    value = "a\u202eb@example.com" if kind == "email" else "a\u202eb"
    outcome = DECODER(event(customer_id=None, identifiers={kind: value}))
    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == ("schema", f"identifiers.{kind}")


def test_a_customer_id_in_the_derived_key_space_is_refused() -> None:
    outcome = DECODER(event(customer_id="id:phone:00000000000000000000"))
    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == ("schema", "customer_id")
    assert "reserved" in outcome.message


def test_nfc_and_nfd_spellings_are_one_customer_and_one_identifier() -> None:
    composed, decomposed = "jos\u00e9@example.com", "jose\u0301@example.com"
    by_identifier = [
        DECODER(event(customer_id=None, identifiers={"email": e})) for e in (composed, decomposed)
    ]
    by_id = [DECODER(event(customer_id=e.split("@")[0])) for e in (composed, decomposed)]
    for first, second in (by_identifier, by_id):
        assert isinstance(first, Accepted)
        assert isinstance(second, Accepted)
        assert first.customer_id == second.customer_id
        assert first.body == second.body


@pytest.mark.parametrize(
    "identifiers",
    [
        pytest.param({"phone": "1()"}, id="phone shorter than the contract after stripping"),
        pytest.param(
            {"email": "\u0130" * 200 + "@x.de"}, id="e-mail longer than the contract after lower-casing"
        ),
    ],
)
def test_normalisation_never_carries_a_record_out_of_its_contract(identifiers: dict[str, str]) -> None:
    raw = orjson.dumps({**BASE, "identifiers": identifiers})
    schemas.validator("touchpoint")(orjson.loads(raw))  # valid as sent
    outcome = DECODER(raw)
    assert isinstance(outcome, Rejected)
    assert outcome.reason == "schema"
    assert outcome.message.startswith("after normalisation, ")
    assert outcome.field is not None
    assert outcome.field.startswith("identifiers.")


#: Surrogates are no UTF-8.
SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
IDENTIFIER_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=SURROGATES), max_size=40)


@settings(max_examples=500, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "phone": st.from_regex(r"\A\s*\+?[0-9][0-9 ().\-]{2,30}\s*\Z") | IDENTIFIER_TEXT,
            "email": st.emails() | IDENTIFIER_TEXT.map(lambda text: f"{text}@ex.de"),
            "device_id": IDENTIFIER_TEXT,
            "loyalty_id": IDENTIFIER_TEXT,
        },
    ),
    st.none() | IDENTIFIER_TEXT,
)
def test_every_accepted_record_still_satisfies_its_contract_after_normalisation(
    identifiers: dict[str, str], customer_id: str | None
) -> None:
    document = {**BASE, "customer_id": customer_id, "identifiers": identifiers or None}
    outcome = DECODER(orjson.dumps({key: value for key, value in document.items() if value is not None}))
    if isinstance(outcome, Accepted):
        # Past ingest identifiers are hashes; everything else is still the contract.
        hashed = outcome.event.get("identifiers", {})
        assert all(re.fullmatch(r"h:[0-9a-f]{20}", value) for value in hashed.values())
        schemas.validator("touchpoint")({k: v for k, v in outcome.event.items() if k != "identifiers"})
        assert orjson.loads(outcome.body) == outcome.event
    else:
        assert outcome.reason in ("schema", "timestamp")


def test_an_event_dated_far_ahead_of_its_record_is_refused_as_future_with_the_skew() -> None:
    received = datetime(2026, 12, 3, 10, 0, tzinfo=UTC).timestamp()
    outcome = DECODER(event(occurred_at="2099-01-01T00:00:00Z"), received_at=received)
    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == ("future", "occurred_at")
    assert "72 years" in outcome.message
    assert "ahead of the record's timestamp 2026-12-03T10:00:00+00:00 (at most 5 minutes)" in outcome.message


def test_an_event_a_little_ahead_of_its_record_is_accepted_and_the_bound_is_exact() -> None:
    received = datetime(2026, 1, 5, 18, 30, tzinfo=UTC).timestamp()  # BASE is 18:30 UTC
    decoder = TouchpointDecoder(identity_salt=b"test-salt", max_future_skew=60)
    assert isinstance(decoder(event(), received_at=received - 60), Accepted)
    late_clock = decoder(event(), received_at=received - 61)
    assert isinstance(late_clock, Rejected)
    assert late_clock.reason == "future"
    assert isinstance(decoder(event(occurred_at="1999-01-01T00:00:00Z"), received_at=received), Accepted)


def test_without_a_record_timestamp_no_event_is_future() -> None:
    assert isinstance(DECODER(event(occurred_at="2099-01-01T00:00:00Z")), Accepted)


# --- every rejection, word for word: the message is what a producer's owner reads ---------------------------

EXACT = [
    pytest.param(None, "empty", "record has no value (null)", None, id="null value"),
    pytest.param(b" \n", "empty", "payload is empty or only whitespace", None, id="whitespace"),
    pytest.param(b"[1]", "not_object", "payload is a JSON array, expected an object", None, id="array"),
    pytest.param(b'"x"', "not_object", "payload is a JSON string, expected an object", None, id="string"),
    pytest.param(b"true", "not_object", "payload is a JSON boolean, expected an object", None, id="boolean"),
    pytest.param(b"null", "not_object", "payload is a JSON null, expected an object", None, id="json null"),
    pytest.param(b"3.5", "not_object", "payload is a JSON number, expected an object", None, id="number"),
    pytest.param(
        b'{"a":',
        "not_json",
        "payload is not JSON: unexpected end of data: line 1 column 6 (char 5)",
        None,
        id="cut",
    ),
    pytest.param(
        b'{"a":"\xfc"}',
        "not_utf8",
        "payload is not valid UTF-8 (byte 0xfc at position 6)",
        None,
        id="latin-1",
    ),
    pytest.param(
        event(customer_id=None),
        "schema",
        "needs a customer reference: customer_id or identifiers",
        None,
        id="no customer reference (anyOf at the top)",
    ),
    pytest.param(
        event(customer_id=None, event_id=None, type=None),
        "schema",
        "is missing required field(s): event_id, type",
        "event_id",
        id="missing fields are named before the missing customer reference",
    ),
    pytest.param(
        event(event_id=None),
        "schema",
        "is missing required field(s): event_id",
        "event_id",
        id="a missing field, with a customer reference",
    ),
    pytest.param(
        event(type="purchase", attributes={}),
        "schema",
        "attributes is missing required field(s): amount, currency",
        "attributes.amount",
        id="two nested required fields",
    ),
    pytest.param(
        event(customer_id=None, identifiers={"twitter": "x"}),
        "schema",
        "identifiers must not contain {'twitter'} properties",
        "identifiers",
        id="an unknown identifier kind",
    ),
    pytest.param(
        event(type="purchase", attributes={"amount": 3}),
        "schema",
        "attributes is missing required field(s): currency",
        "attributes.currency",
        id="a nested required field",
    ),
    pytest.param(
        event(type="purchase"),
        "schema",
        "is missing required field(s): attributes",
        "attributes",
        id="a type's required attributes",
    ),
    pytest.param(
        event(type="feedback", attributes={}),
        "schema",
        "attributes needs one of: csat, nps",
        "attributes",
        id="one of several attributes (anyOf on a field)",
    ),
    pytest.param(
        event(zzz=1, aaa=2), "schema", "unknown field(s): aaa, zzz", "aaa", id="unknown fields, sorted"
    ),
    pytest.param(
        event(channel="fax"),
        "schema",
        "channel must be one of app, web, phone, chat, store, email, social",
        "channel",
        id="an enum, listed for people",
    ),
    pytest.param(
        event(occurred_at="2026-01-05T19:30:00"),
        "timestamp",
        "occurred_at must be RFC 3339 with a UTC offset, e.g. 2026-01-05T19:30:00+01:00 (got '2026-01-05T19:30:00')",
        "occurred_at",
        id="no offset",
    ),
    pytest.param(
        event(occurred_at="2026-02-30T10:00:00+01:00"),
        "timestamp",
        "occurred_at '2026-02-30T10:00:00+01:00' is not a valid instant: day is out of range for month",
        "occurred_at",
        id="an impossible date",
    ),
]


@pytest.mark.parametrize(("raw", "reason", "message", "field"), EXACT)
def test_each_rejection_gives_its_reason_its_exact_message_and_its_field(
    raw: bytes | None, reason: str, message: str, field: str | None
) -> None:
    assert DECODER(raw) == Rejected(reason, message, field)


@pytest.mark.parametrize(
    ("occurred_at", "accepted"),
    [
        pytest.param("1969-12-31T23:59:59+00:00", False, id="a second before 1970"),
        pytest.param("1970-01-01T00:00:00+00:00", True, id="the first second of 1970"),
        pytest.param("2099-12-31T23:59:59+00:00", True, id="the last second before 2100"),
        pytest.param("2100-01-01T00:00:00+00:00", False, id="the first second of 2100"),
    ],
)
def test_event_times_from_1970_up_to_but_not_including_2100_are_accepted(
    occurred_at: str, accepted: bool
) -> None:
    outcome = DECODER(event(occurred_at=occurred_at))
    if accepted:
        assert isinstance(outcome, Accepted)
    else:
        assert outcome == Rejected(
            "timestamp",
            f"occurred_at {occurred_at!r} is outside the accepted range 1970-01-01 .. 2100-01-01",
            "occurred_at",
        )


def test_a_payload_of_exactly_the_size_limit_is_accepted_and_one_byte_more_is_not() -> None:
    raw = event()
    limit = len(raw)
    decoder = TouchpointDecoder(identity_salt=b"test-salt", max_bytes=limit)
    assert isinstance(decoder(raw), Accepted)
    assert decoder(raw + b" ") == Rejected(
        "too_large", f"payload is {limit + 1} bytes, over the {limit}-byte limit"
    )
    assert TouchpointDecoder(identity_salt=b"s").max_bytes == 64 * 1024


def test_a_bug_in_the_decoder_dead_letters_the_record_as_internal_instead_of_raising() -> None:
    decoder = TouchpointDecoder(identity_salt=b"test-salt")

    def broken(_document: Any) -> None:
        raise KeyError("properties")

    decoder._validate = broken
    assert decoder(event()) == Rejected("internal", "internal error while decoding: KeyError: 'properties'")


# --- what a refused id is told, word for word -------------------------------------------------------------------

NOT_ALLOWED = "control, bidi-override and zero-width characters are not allowed"


@pytest.mark.parametrize(
    ("customer_id", "message"),
    [
        pytest.param(
            "cust\u202eevil",
            f"customer_id contains U+202E (RIGHT-TO-LEFT OVERRIDE) at position 4: {NOT_ALLOWED}",
            id="a named character",
        ),
        pytest.param(
            "cust\u001b[2J",
            f"customer_id contains U+001B (a control character) at position 4: {NOT_ALLOWED}",
            id="a control character has no name",
        ),
        pytest.param(
            "id:phone:0000",
            "customer_id must not start with 'id:': that prefix is reserved for keys Touchpoint derives itself",
            id="the derived key space",
        ),
        pytest.param("   ", "customer_id must contain a visible character", id="blank"),
    ],
)
def test_a_refused_customer_id_is_told_what_is_wrong_and_where(customer_id: str, message: str) -> None:
    assert DECODER(event(customer_id=customer_id)) == Rejected("schema", message, "customer_id")


@pytest.mark.parametrize(
    ("changes", "field", "meaning"),
    [
        pytest.param(
            {"customer_id": None, "identifiers": {"phone": "ab"}},
            "identifiers.phone",
            "must be a phone number: an optional +, then at least 3 digits (spaces and ( ) . - allowed)",
            id="a phone number",
        ),
        pytest.param(
            {"customer_id": None, "identifiers": {"email": "nope"}},
            "identifiers.email",
            "must be an e-mail address like name@example.com",
            id="an e-mail address",
        ),
        pytest.param(
            {"type": "purchase", "attributes": {"amount": 1, "currency": "eur"}},
            "attributes.currency",
            "must be an ISO 4217 code of three capital letters, like EUR",
            id="a currency",
        ),
    ],
)
def test_a_nested_field_that_breaks_its_pattern_is_told_what_the_pattern_means(
    changes: dict[str, Any], field: str, meaning: str
) -> None:
    assert DECODER(event(**changes)) == Rejected("schema", f"{field} {meaning}", field)


def test_a_customer_id_that_grows_past_its_limit_when_normalised_is_refused_after_normalisation() -> None:
    # U+0958 is excluded from composition: NFC writes it as two code points, so 65 of them become 130.
    outcome = DECODER(event(customer_id="\u0958" * 65))
    assert outcome == Rejected(
        "schema",
        "after normalisation, customer_id must be shorter than or equal to 128 characters",
        "customer_id",
    )
    assert isinstance(DECODER(event(customer_id="\u0958" * 64)), Accepted)


def test_the_derived_key_is_the_keyed_hash_under_the_decoders_own_salt() -> None:
    decoder = TouchpointDecoder(identity_salt=b"another-salt")
    outcome = decoder(event(customer_id=None, identifiers={"phone": "+49 30 123"}))
    assert isinstance(outcome, Accepted)
    assert outcome.customer_id == derived_customer_id({"phone": "+4930123"}, b"another-salt")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        pytest.param(
            {"customer_id": "\u001b" + "a" * 200},
            "customer_id",
            "customer_id must be shorter than or equal to 128 characters",
            id="too long, with a control character in it",
        ),
        pytest.param(
            {"event_id": ""}, "event_id", "event_id must be longer than or equal to 1 characters", id="empty"
        ),
    ],
)
def test_an_id_that_breaks_a_rule_other_than_its_pattern_is_told_that_rule(
    changes: dict[str, Any], field: str, message: str
) -> None:
    assert DECODER(event(**changes)) == Rejected("schema", message, field)


@st.composite
def instants_as_written(draw: st.DrawFn) -> str:
    """An occurred_at as producers may write it: any separator, fraction and offset the contract allows."""
    moment = draw(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)))
    text = moment.strftime("%Y-%m-%d") + draw(st.sampled_from("Tt ")) + moment.strftime("%H:%M:%S")
    if draw(st.booleans()):
        text += "." + draw(st.from_regex(r"[0-9]{1,9}", fullmatch=True))
    if draw(st.integers(0, 4)) == 0:
        return text + draw(st.sampled_from("Zz"))
    sign = draw(st.sampled_from("+-"))
    return f"{text}{sign}{draw(st.integers(0, 25)):02d}:{draw(st.integers(0, 99)):02d}"


@settings(max_examples=1000, deadline=None)
@given(instants_as_written())
def test_an_instant_already_in_its_canonical_form_is_kept_and_any_other_is_written_in_it(text: str) -> None:
    try:
        occurred_at = datetime.fromisoformat(text.upper())
    except ValueError:
        return  # refused as a timestamp before it gets here
    assert canonical_instant(text, occurred_at) == occurred_at.isoformat()


@settings(max_examples=600, deadline=None)
@given(
    st.sampled_from([(1970, 2100), (1999, 2001), (2000, 2003)]),
    st.integers(0, 365 * 24 * 3600 - 1) | st.integers(364 * 24 * 3600, 365 * 24 * 3600 - 1),
    st.booleans(),
    st.integers(-3 * 24 * 3600, 3 * 24 * 3600) | st.integers(-2, 2),
    st.integers(-(24 * 60 - 1), 24 * 60 - 1) | st.sampled_from([-(24 * 60 - 1), 24 * 60 - 1]),
)
def test_the_accepted_range_holds_to_the_second_whatever_the_years_and_offset(
    years: tuple[int, int], into_year: int, near_latest: bool, from_bound: int, offset_minutes: int
) -> None:
    # Bounds anywhere within their years (late on 31 December too), events within three days of
    # one, written with any offset under a day: the decoder's verdict is exactly the comparison of
    # instants.
    earliest = datetime(years[0], 1, 1, tzinfo=UTC) + timedelta(seconds=into_year)
    latest = datetime(years[1], 1, 1, tzinfo=UTC) + timedelta(seconds=into_year)
    decoder = TouchpointDecoder(identity_salt=b"test-salt", earliest=earliest, latest=latest)
    instant = (latest if near_latest else earliest) + timedelta(seconds=from_bound)
    occurred_at = instant.astimezone(timezone(timedelta(minutes=offset_minutes)))
    outcome = decoder(event(occurred_at=occurred_at.isoformat()))
    assert isinstance(outcome, Accepted) == (earliest <= instant < latest)


def test_an_instant_written_as_most_producers_write_it_is_passed_on_as_given_not_formatted_again() -> None:
    text = "2026-01-05T19:30:00+01:00"
    assert canonical_instant(text, datetime.fromisoformat(text)) is text


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("2026-01-05T19:30:00.250+01:00", "2026-01-05T19:30:00.250000+01:00"),
        ("2026-01-05T19:30:00.001+05:45", "2026-01-05T19:30:00.001000+05:45"),
        ("2026-01-05T19:30:00.000+01:00", "2026-01-05T19:30:00+01:00"),
        ("2026-01-05T19:30:00.250-01:00", "2026-01-05T19:30:00.250000-01:00"),
        ("2026-01-05T19:30:00.250-00:00", "2026-01-05T19:30:00.250000+00:00"),
        ("2026-01-05t19:30:00.250+01:00", "2026-01-05T19:30:00.250000+01:00"),
    ],
)
def test_an_instant_written_in_milliseconds_is_written_in_microseconds_unless_there_are_none(
    text: str, canonical: str
) -> None:
    occurred_at = datetime.fromisoformat(text.upper())
    assert canonical_instant(text, occurred_at) == canonical == occurred_at.isoformat()


def test_an_event_naming_its_customer_claims_each_identifier_that_is_no_placeholder_at_its_instant() -> None:
    outcome = DECODER(event(identifiers={"device_id": "d-1", "email": " Anna@Example.com ", "phone": "0000"}))
    assert isinstance(outcome, Accepted)
    occurred = datetime(2026, 1, 5, 18, 30, tzinfo=UTC).timestamp()
    assert outcome.occurred_seconds == occurred
    email = normalise_identifier("email", " Anna@Example.com ")
    assert outcome.claims == (  # strongest first; the placeholder phone claims nothing
        Claim(identifier_key("email", email, b"test-salt"), "cust-1", "ev-1", int(occurred)),
        Claim(identifier_key("device_id", "d-1", b"test-salt"), "cust-1", "ev-1", int(occurred)),
    )


def test_an_event_without_identifiers_or_without_a_customer_id_claims_nothing() -> None:
    plain = DECODER(event())
    anonymous = DECODER(event(customer_id=None, identifiers={"email": "anna@example.com"}))
    assert isinstance(plain, Accepted)
    assert isinstance(anonymous, Accepted)
    assert plain.claims == ()
    assert anonymous.claims == ()


def test_with_identity_resolution_off_nothing_is_claimed_and_any_identifier_keys_an_anonymous_event() -> None:
    off = TouchpointDecoder(identity_salt=b"test-salt", identity=IdentityConfig(False, {}, {}))
    named = off(event(identifiers={"email": "anna@example.com"}))
    # A placeholder is no exception here: with resolution off no profile is linked, so none is fused.
    anonymous = off(event(customer_id=None, identifiers={"phone": "0000", "device_id": "d-1"}))
    assert isinstance(named, Accepted)
    assert isinstance(anonymous, Accepted)
    assert named.claims == ()
    assert anonymous.customer_id == derived_customer_id({"phone": "0000", "device_id": "d-1"}, b"test-salt")
    assert anonymous.customer_id.startswith("id:phone:")
