"""Prepared keyed hashes give the bytes of the standard library's, for any key and message."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.domain.keyed_hash import HmacSha256, KeyedBlake2b, hmac_sha256, keyed_blake2b

pytestmark = pytest.mark.unit


@given(
    key=st.binary(max_size=64),
    size=st.integers(min_value=1, max_value=64),
    messages=st.lists(st.binary(max_size=300), min_size=1, max_size=4),
)
def test_keyed_blake2b_is_blake2b_with_the_key(key: bytes, size: int, messages: list[bytes]) -> None:
    prepared = KeyedBlake2b(key, size)
    for message in messages:  # the prepared state is copied, never used up
        expected = hashlib.blake2b(message, key=key, digest_size=size)
        assert prepared.digest(message) == expected.digest()
        assert prepared.hexdigest(message) == expected.hexdigest()


# Secrets across SHA-256's 64-byte block: shorter ones are padded, longer ones hashed first.
@given(secret=st.binary(max_size=200), messages=st.lists(st.binary(max_size=300), min_size=1, max_size=4))
def test_hmac_sha256_is_hmac(secret: bytes, messages: list[bytes]) -> None:
    prepared = HmacSha256(secret)
    for message in messages:
        assert prepared.digest(message) == hmac.new(secret, message, hashlib.sha256).digest()


@pytest.mark.parametrize("length", [0, 1, 63, 64, 65, 128])
def test_hmac_sha256_at_the_block_boundaries(length: int) -> None:
    secret = bytes(range(256))[:length]
    assert HmacSha256(secret).digest(b"m") == hmac.new(secret, b"m", hashlib.sha256).digest()


def test_a_key_too_long_for_blake2b_is_refused_as_hashlib_refuses_it() -> None:
    with pytest.raises(ValueError, match="key length"):
        KeyedBlake2b(b"k" * 65, 8)


def test_prepared_hashes_are_kept_per_key_and_stay_right_past_the_limit() -> None:
    assert keyed_blake2b(b"a", 10) is keyed_blake2b(b"a", 10)
    assert keyed_blake2b(b"a", 10) is not keyed_blake2b(b"a", 8)
    assert hmac_sha256(b"s") is hmac_sha256(b"s")
    # Many keys (tests, tools) start the cache afresh; each answer is still its own key's.
    for number in range(200):
        key = b"key-%d" % number
        assert (
            keyed_blake2b(key, 10).hexdigest(b"x")
            == hashlib.blake2b(b"x", key=key, digest_size=10).hexdigest()
        )
        assert hmac_sha256(key).digest(b"x") == hmac.new(key, b"x", hashlib.sha256).digest()
