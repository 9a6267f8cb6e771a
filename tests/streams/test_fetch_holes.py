"""A fetch that shows a hole in a partition's offsets: read up to it, fetch it again, never skip it."""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator

import pytest
from aiokafka.consumer.fetcher import READ_UNCOMMITTED
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition

from streams import fetch_holes, metrics, topics

pytestmark = pytest.mark.unit

UNCOMPACTED = TopicPartition(topics.BY_CUSTOMER, 0)
COMPACTED = TopicPartition("touchpoint-customer_to_state-changelog", 0)


def batch(base_offset: int, records: int = 3) -> bytes:
    """A record batch of *records* records numbered from *base_offset*, as a broker stores it."""
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    for delta in range(records):
        builder.append(delta, timestamp=None, key=b"k", value=b"v%d" % delta, headers=[])
    built = bytes(builder.build())
    # The base offset is the batch's first 8 bytes; the CRC covers what follows the attributes only.
    return struct.pack(">q", base_offset) + built[8:]


def fetched(tp: TopicPartition, fetch_offset: int, *bases: int) -> tuple[list[int], int]:
    """The offsets a consumer gets from a fetch at *fetch_offset* answered with batches at *bases*, and
    where it fetches next."""
    records = fetch_holes._PartitionRecords(
        tp, MemoryRecords(b"".join(map(batch, bases))), [], fetch_offset, None, None, True, READ_UNCOMMITTED
    )
    offsets = [record.offset for record in records]
    return offsets, records.next_fetch_offset


def holes(outcome: str) -> float:
    return float(metrics.FETCH_HOLES.labels(outcome)._value.get())


@pytest.fixture(autouse=True)
def nothing_waiting() -> Iterator[None]:
    fetch_holes._waiting.clear()
    yield
    fetch_holes._waiting.clear()


def test_contiguous_batches_are_read_whole() -> None:
    assert fetched(UNCOMPACTED, 0, 0, 3, 6) == (list(range(9)), 9)
    # A fetch may start inside a batch (Kafka answers with the batch that holds the offset).
    assert fetched(UNCOMPACTED, 4, 3, 6) == ([4, 5, 6, 7, 8], 9)


def test_records_after_a_hole_wait_for_it_and_the_next_fetch_starts_there() -> None:
    filled = holes("filled")
    # Offsets 3..5 were numbered for another producer's batch, not stored yet: 6..8 are held back.
    assert fetched(UNCOMPACTED, 0, 0, 6) == ([0, 1, 2], 3)
    assert fetched(UNCOMPACTED, 3, 6) == ([], 3)
    # Fetched again once the broker stored it: nothing was skipped, and the hole counts as filled.
    assert fetched(UNCOMPACTED, 3, 3, 6) == ([3, 4, 5, 6, 7, 8], 9)
    assert holes("filled") == filled + 1
    assert not fetch_holes._waiting


def test_a_hole_that_outlasts_the_patience_is_stepped_over_and_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = [100.0]
    monkeypatch.setattr(fetch_holes, "monotonic", lambda: clock[0])
    stepped = holes("stepped_over")
    assert fetched(UNCOMPACTED, 3, 6) == ([], 3)
    clock[0] += fetch_holes.HOLE_PATIENCE_S - 0.1
    assert fetched(UNCOMPACTED, 3, 6) == ([], 3)
    clock[0] += 0.2
    with caplog.at_level(logging.WARNING, logger=fetch_holes.__name__):
        assert fetched(UNCOMPACTED, 3, 6) == ([6, 7, 8], 9)
    assert holes("stepped_over") == stepped + 1
    assert "touchpoints.by-customer[0]: offsets 3 to 5 were still missing" in caplog.text


def test_a_new_hole_starts_its_own_patience(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(fetch_holes, "monotonic", lambda: clock[0])
    assert fetched(UNCOMPACTED, 3, 6) == ([], 3)
    clock[0] += fetch_holes.HOLE_PATIENCE_S + 1
    # Another hole of the same partition (the consumer moved on): waited for from now.
    assert fetched(UNCOMPACTED, 9, 12) == ([], 9)


def test_a_consumer_moved_past_a_waiting_hole_forgets_it_without_counting_it() -> None:
    filled = holes("filled")
    assert fetched(UNCOMPACTED, 3, 6) == ([], 3)
    assert fetched(UNCOMPACTED, 12, 12) == ([12, 13, 14], 15)
    assert not fetch_holes._waiting
    assert holes("filled") == filled


def test_compacted_topics_are_read_as_kafka_gives_them() -> None:
    # Compaction removes whole batches: a hole there is the log, not a batch on its way.
    assert fetched(COMPACTED, 0, 0, 6) == ([0, 1, 2, 6, 7, 8], 9)
    assert not fetch_holes._waiting


@pytest.mark.parametrize("topic", [*(t for t in topics.RETENTION_DAYS if "*" not in t), "alerts.churn_risk"])
def test_the_products_uncompacted_topics_are_checked(topic: str) -> None:
    assert fetched(TopicPartition(topic, 1), 0, 0, 6) == ([0, 1, 2], 3)


def test_install_makes_aiokafka_build_checked_records() -> None:
    from aiokafka.consumer import fetcher

    fetch_holes.install()
    assert fetcher.PartitionRecords is fetch_holes._PartitionRecords
    fetch_holes.install()  # twice: the same
    assert fetcher.PartitionRecords is fetch_holes._PartitionRecords
