"""Where a keyed record goes: Kafka's default partitioner, the same as every producer's."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import murmur2
from hypothesis import given
from hypothesis import strategies as st

from streams.topics import partition_for

pytestmark = pytest.mark.unit


@given(key=st.binary(max_size=64), partitions=st.integers(1, 64))
def test_a_key_goes_to_the_partition_kafkas_default_partitioner_picks(key: bytes, partitions: int) -> None:
    assert partition_for(key, partitions) == (murmur2(key) & 0x7FFFFFFF) % partitions
