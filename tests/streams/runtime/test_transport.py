"""The worker's Kafka transport: what it adds to Faust's consumer, without a broker."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from faust.types import TP

from streams.runtime.transport import _ConsumerThread

pytestmark = pytest.mark.unit


async def test_records_read_again_are_those_of_partitions_still_assigned_when_the_thread_seeks() -> None:
    # Between the batch host's decision and the seek in the consumer's thread the assignment may
    # change: a partition gone is the next owner's, which starts at the committed offset.
    sought: dict[TP, int] = {}
    thread = SimpleNamespace(assignment=lambda: {TP("raw", 1)}, seek=sought.__setitem__)
    await _ConsumerThread._seek_assigned_now(thread, {TP("raw", 0): 5, TP("raw", 1): 7})  # type: ignore[arg-type]
    assert sought == {TP("raw", 1): 7}
