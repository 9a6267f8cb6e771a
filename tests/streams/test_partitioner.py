"""Where a keyed record goes: Kafka's default partitioner, the same as every producer's."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import murmur2
from hypothesis import given
from hypothesis import strategies as st

import streams.partitioner
from streams.partitioner import partition_for
from tests.compiled import interpreted

pytestmark = pytest.mark.unit


INTERPRETED = interpreted(streams.partitioner)


@given(key=st.binary(max_size=300), partitions=st.integers(1, 64))
def test_a_key_goes_to_the_partition_kafkas_default_partitioner_picks(key: bytes, partitions: int) -> None:
    expected = (murmur2(key) & 0x7FFFFFFF) % partitions
    assert partition_for(key, partitions) == expected
    assert INTERPRETED.partition_for(key, partitions) == expected


@given(key=st.binary(max_size=300))
def test_the_hash_is_murmur2s_32_bits(key: bytes) -> None:
    assert streams.partitioner.murmur2(key) == INTERPRETED.murmur2(key) == murmur2(key) & 0xFFFFFFFF


def test_every_byte_value_of_a_words_top_byte_keeps_to_32_bits() -> None:
    # The products stay within 63 bits only while each factor is masked to 32: the largest words test that.
    for key in (b"\xff" * 4, b"\xff" * 7, b"\x80\x00\x00\xff" * 9, b"\xff\xff\xff"):
        assert streams.partitioner.murmur2(key) == murmur2(key) & 0xFFFFFFFF
