"""Customer keys from identifiers: canonical forms, the strongest identifier wins, the salt keys the hash."""

from __future__ import annotations

import hashlib

import pytest

from agents.ingest.identity import (
    IDENTIFIER_STRENGTH,
    derived_customer_id,
    hash_identifiers,
    normalise_identifier,
)

pytestmark = pytest.mark.unit

SALT = b"test-salt"


@pytest.mark.parametrize(
    ("kind", "raw", "canonical"),
    [
        pytest.param(
            "email", "  Anna.Schmidt@Example.COM ", "anna.schmidt@example.com", id="e-mail: trimmed, lower"
        ),
        pytest.param("phone", " +49 (30) 123-45.67 ", "+49301234567", id="phone: no spaces or punctuation"),
        pytest.param("phone", "030\t1234\n567", "0301234567", id="phone: tabs and newlines too"),
        pytest.param("loyalty_id", " CARD-00A7 ", "CARD-00A7", id="an opaque id keeps its case and dashes"),
        pytest.param("device_id", "Ab-Cd", "Ab-Cd", id="a device id is only trimmed"),
        pytest.param("openid", "oX1 ", "oX1", id="an openid is only trimmed"),
    ],
)
def test_identifiers_are_brought_to_their_canonical_form(kind: str, raw: str, canonical: str) -> None:
    assert normalise_identifier(kind, raw) == canonical


def expected_key(kind: str, value: str, salt: bytes = SALT) -> str:
    return f"id:{kind}:" + hashlib.blake2b(f"{kind}:{value}".encode(), digest_size=10, key=salt).hexdigest()


def test_a_key_is_a_keyed_ten_byte_blake2b_of_kind_and_value() -> None:
    key = derived_customer_id({"phone": "+4930123"}, SALT)
    assert key == expected_key("phone", "+4930123")
    assert len(key.rpartition(":")[2]) == 20
    assert "+4930123" not in key


def test_the_strongest_identifier_present_makes_the_key() -> None:
    assert IDENTIFIER_STRENGTH == ("loyalty_id", "email", "phone", "openid", "device_id")
    every = {"device_id": "d", "openid": "o", "phone": "p", "email": "e", "loyalty_id": "l"}
    for strongest in IDENTIFIER_STRENGTH:
        assert derived_customer_id(every, SALT) == expected_key(strongest, every[strongest])
        del every[strongest]


def test_an_empty_identifier_is_skipped_for_the_next_strongest() -> None:
    assert derived_customer_id({"email": "", "phone": "+49"}, SALT) == expected_key("phone", "+49")


def test_the_same_identifier_under_another_salt_is_another_key() -> None:
    assert derived_customer_id({"email": "a@b.c"}, SALT) != derived_customer_id({"email": "a@b.c"}, b"other")
    assert derived_customer_id({"email": "a@b.c"}, b"other") == expected_key("email", "a@b.c", b"other")


def test_no_usable_identifier_is_an_error_naming_the_kinds_given() -> None:
    with pytest.raises(ValueError, match=r"^no usable identifier in \['email', 'twitter'\]$"):
        derived_customer_id({"twitter": "x", "email": ""}, SALT)


def test_past_ingest_every_identifier_is_its_keyed_hash_under_its_kind() -> None:
    hashed = hash_identifiers({"email": "a@b.c", "phone": "+4930123"}, SALT)
    assert hashed == {
        "email": "h:" + expected_key("email", "a@b.c").rpartition(":")[2],
        "phone": "h:" + expected_key("phone", "+4930123").rpartition(":")[2],
    }
    assert all("a@b.c" not in value and "+4930123" not in value for value in hashed.values())


def test_a_hashed_identifier_matches_the_key_it_would_make_and_depends_on_kind_and_salt() -> None:
    hashed = hash_identifiers({"email": "a@b.c"}, SALT)["email"]
    assert derived_customer_id({"email": "a@b.c"}, SALT) == "id:email:" + hashed.removeprefix("h:")
    assert hash_identifiers({"openid": "a@b.c"}, SALT)["openid"] != hashed
    assert hash_identifiers({"email": "a@b.c"}, b"other")["email"] != hashed
