"""Records a worker sent settled are left out when it reads them back, all but each batch's last."""

from __future__ import annotations

import struct

import pytest
from aiokafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from aiokafka.structs import ConsumerRecord, TopicPartition
from prometheus_client import REGISTRY

from streams.settled import SettledOffsets

pytestmark = pytest.mark.unit

TP = TopicPartition("touchpoints.by-customer", 3)
MARK = [("touchpoint-decided", b"m" * 16 + b"applied")]


def fetched(base_offset: int, count: int) -> DefaultRecordBatch:
    """A record batch as the broker returns it: *count* records from *base_offset*, each marked."""
    builder = DefaultRecordBatchBuilder(2, 0, 0, -1, -1, 0, 1024 * 1024)
    for position in range(count):
        builder.append(position, 1767225600000, b"cust-%d" % position, b"{}", MARK)
    data = bytearray(builder.build())
    data[0:8] = struct.pack(">q", base_offset)  # the broker's offset; the CRC does not cover it
    return DefaultRecordBatch(bytes(data))


def test_settled_records_are_left_out_but_the_batch_s_last() -> None:
    settled = SettledOffsets()
    settled.note(TP.topic, TP.partition, 100, [(1, MARK), (2, MARK), (4, MARK)])
    batch = settled.skipping(TP, fetched(100, 5))
    assert [record.offset for record in batch] == [100, 103, 104], (
        "104 is the last: it carries the acknowledgement"
    )
    assert batch.next_offset == 105, "the rest of the batch is the broker's"
    assert len(settled) == 0, "each offset is forgotten once read"


def test_a_record_at_a_noted_offset_with_other_headers_is_read() -> None:
    settled = SettledOffsets()
    settled.note(TP.topic, TP.partition, 0, [(0, [("touchpoint-decided", b"another mark")])])
    assert [record.offset for record in settled.skipping(TP, fetched(0, 2))] == [0, 1]


def test_other_partitions_and_unnoted_batches_are_read_as_they_come() -> None:
    settled = SettledOffsets()
    settled.note(TP.topic, TP.partition, 0, [(0, MARK)])
    other = TopicPartition(TP.topic, 4)
    batch = fetched(0, 2)
    assert settled.skipping(other, batch) is batch
    assert [record.offset for record in settled.skipping(TP, fetched(0, 2))] == [1]


def test_offsets_below_a_fetched_batch_are_forgotten() -> None:
    """Read before their acknowledgement came (and skipped by their mark): nothing will ask for them again."""
    settled = SettledOffsets()
    settled.note(TP.topic, TP.partition, 10, [(0, MARK), (1, MARK)])
    settled.note(TP.topic, TP.partition, 50, [(0, MARK)])
    assert [record.offset for record in settled.skipping(TP, fetched(50, 2))] == [51]
    assert len(settled) == 0


def test_records_fetched_before_their_acknowledgement_are_left_out_by_the_host() -> None:
    """The consumer thread unpacked them before the offsets were noted; the batch host leaves them out."""
    settled = SettledOffsets()
    records = [
        ConsumerRecord(TP.topic, TP.partition, offset, 0, 0, b"k", b"{}", None, 1, 2, tuple(MARK))
        for offset in range(7, 11)
    ]
    settled.note(TP.topic, TP.partition, 7, [(0, MARK), (2, [("touchpoint-decided", b"other")]), (3, MARK)])
    kept = settled.without(TP, records)
    assert [record.offset for record in kept] == [8, 9, 10], "9's headers differ; 10 is the last"
    assert len(settled) == 0
    assert settled.without(TP, records) == records, "nothing noted: as they came"


def skipped_so_far() -> float:
    return REGISTRY.get_sample_value("touchpoint_settled_copies_skipped_total") or 0.0


def test_the_records_left_out_are_counted_by_the_thread_and_by_the_host() -> None:
    settled = SettledOffsets()
    before = skipped_so_far()
    settled.note(TP.topic, TP.partition, 0, [(0, MARK), (1, MARK), (4, MARK)])
    assert len(list(settled.skipping(TP, fetched(0, 3)))) == 1
    assert skipped_so_far() - before == 2, "offsets 0 and 1; 2 was never noted"
    records = [
        ConsumerRecord(TP.topic, TP.partition, offset, 0, 0, b"k", b"{}", None, 1, 2, tuple(MARK))
        for offset in range(3, 6)
    ]
    assert [record.offset for record in settled.without(TP, records)] == [3, 5]
    assert skipped_so_far() - before == 3


def test_a_batch_dropped_unfinished_counts_what_it_left_out() -> None:
    """The consumer thread stops reading a batch whose partition was revoked."""
    settled = SettledOffsets()
    before = skipped_so_far()
    settled.note(TP.topic, TP.partition, 0, [(0, MARK), (1, MARK)])
    records = iter(settled.skipping(TP, fetched(0, 5)))
    assert next(records).offset == 2
    records.close()
    assert skipped_so_far() - before == 2
