"""A replay's input in ranges: each starts on a line, together they cover the file, lines keep their numbers."""

from __future__ import annotations

import itertools
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.ingest.decode import TouchpointDecoder
from streams.files import read_records
from streams.replay.handoffs import process_of
from streams.replay.runs import run_blocks
from streams.replay.sources import decode_range, read_refusals, split

pytestmark = pytest.mark.unit

DECODER = TouchpointDecoder(identity_salt=b"test")

lines = st.lists(st.sampled_from([b"", b"x", b"a longer line", b"\r", b"{}"]), max_size=40)


@settings(max_examples=60, deadline=None)
@given(lines=lines, parts=st.integers(1, 6), trailing=st.booleans())
def test_ranges_start_on_lines_cover_the_file_and_know_their_first_line_number(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], parts: int, trailing: bool
) -> None:
    path = tmp_path_factory.mktemp("split") / "input.jsonl"
    data = b"\n".join(lines) + (b"\n" if trailing else b"")
    path.write_bytes(data)
    ranges = split(path, parts)
    assert 1 <= len(ranges) <= parts
    assert ranges[0].start == 0
    assert ranges[-1].end == len(data)
    for before, after in itertools.pairwise(ranges):
        assert before.end == after.start
        assert data[after.start - 1 : after.start] == b"\n", "a range starts right after a newline"
        assert after.first_line == data[: after.start].count(b"\n")


def visit(event_id: str, customer: str, occurred_at: str) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "event_id": event_id,
            "occurred_at": occurred_at,
            "customer_id": customer,
            "channel": "web",
            "type": "visit",
            "actor": "customer",
        }
    )


def test_decoding_every_range_reads_each_record_once_with_its_line_number(tmp_path: Path) -> None:
    records = [
        visit("a", "c-1", "2026-01-05T11:00:00+00:00"),
        b"not json",
        b"",
        visit("b", "c-2", "2026-01-05T10:00:00+00:00"),
        visit("c", "c-3", "2026-01-05T10:00:00+00:00"),
        b"[1]\r",
        visit("d", "c-1", "2026-01-04T10:00:00+00:00"),
    ]
    path = tmp_path / "input.jsonl"
    path.write_bytes(b"\n".join(records) + b"\n")
    expected = list(read_records(path))
    for parts in (1, 2, 3, 7):
        work = tmp_path / f"work-{parts}"
        work.mkdir()
        decoded = [
            decode_range(path, span, DECODER, partitions=3, quorum=2, as_of=None, workdir=work)
            for span in split(path, parts)
        ]
        rows = sorted(
            row
            for part in decoded
            for runs in part.runs.values()
            for run in runs
            for block in run_blocks(Path(run))
            for row in block
        )
        refused = [refusal for part in decoded for refusal in read_refusals(part.refusals or "")]
        assert sorted([row[1] for row in rows] + [refusal[0] for refusal in refused]) == [
            n for n, _ in expected
        ]
        assert [row[1] for row in rows] == [6, 3, 4, 0], "event time first, then file order"
        assert sum(part.blank_lines for part in decoded) == 1
        assert sum(part.records for part in decoded) == len(expected)


def test_decoding_writes_a_run_per_applying_process_holding_only_its_partitions(tmp_path: Path) -> None:
    # A run per partition would give a 4M-record replay 160 runs, over the 64 a merge reads at once: every
    # row written out again before the first is applied.
    path = tmp_path / "input.jsonl"
    path.write_bytes(
        b"".join(
            visit(f"e-{n}", f"c-{n % 40}", f"2026-01-05T10:{n % 60:02d}:00+00:00") + b"\n" for n in range(400)
        )
    )
    for processes in (1, 2, 3):
        work = tmp_path / f"work-{processes}"
        work.mkdir()
        (span,) = split(path, 1)
        decoded = decode_range(
            path, span, DECODER, partitions=4, quorum=2, as_of=None, workdir=work, processes=processes
        )
        assert set(decoded.runs) == set(range(processes))
        assert all(len(runs) == 1 for runs in decoded.runs.values()), "one flush, one run per process"
        applied = []
        for process, runs in decoded.runs.items():
            rows = [row for run in runs for block in run_blocks(Path(run)) for row in block]
            assert {process_of(row[2], processes) for row in rows} == {process}
            assert rows == sorted(rows)
            applied.extend(rows)
        assert sorted(row[1] for row in applied) == list(range(400))


def test_decoding_flushes_a_run_once_its_touchpoints_hold_the_bytes_it_keeps(tmp_path: Path) -> None:
    # Touchpoints near ingest's limit: a flush every RUN_ROWS of them would hold 100,000 times 64 KiB.
    path = tmp_path / "input.jsonl"
    path.write_bytes(
        b"".join(
            visit(f"e-{n}", f"c-{n % 40}", f"2026-01-05T10:{n % 60:02d}:00+00:00") + b"\n" for n in range(400)
        )
    )
    (span,) = split(path, 1)
    whole = decode_range(path, span, DECODER, partitions=4, quorum=2, as_of=None, workdir=tmp_path)
    bounded_folder = tmp_path / "bounded"
    bounded_folder.mkdir()
    size = len(visit("e-0", "c-0", "2026-01-05T10:00:00+00:00"))
    bounded = decode_range(
        path, span, DECODER, partitions=4, quorum=2, as_of=None, workdir=bounded_folder, run_bytes=100 * size
    )
    assert len(whole.runs[0]) == 1
    assert 4 <= len(bounded.runs[0]) <= 5
    rows = [
        [row for run in part.runs[0] for block in run_blocks(Path(run)) for row in block]
        for part in (whole, bounded)
    ]
    assert sorted(rows[0]) == sorted(rows[1])


@pytest.mark.parametrize(
    "first", [b"\xef\xbb\xbf", b"\xef\xbb\xbf\r"], ids=["before a record", "alone on its line"]
)
def test_a_byte_order_mark_before_the_first_line_is_the_files_not_the_records(
    tmp_path: Path, first: bytes
) -> None:
    # As Windows PowerShell's Out-File -Encoding utf8 writes a file: it would make the first record not JSON.
    records = [visit("a", "c-1", "2026-01-05T11:00:00+00:00"), visit("b", "c-2", "2026-01-05T10:00:00+00:00")]
    path = tmp_path / "input.jsonl"
    path.write_bytes(first + (b"\n" if first.endswith(b"\r") else b"") + b"\n".join(records) + b"\n")
    offset = 1 if first.endswith(b"\r") else 0
    assert list(read_records(path)) == [(offset + n, record) for n, record in enumerate(records)]

    decoded = decode_range(
        path, split(path, 1)[0], DECODER, partitions=3, quorum=2, as_of=None, workdir=tmp_path
    )

    assert (decoded.records, decoded.accepted, decoded.blank_lines) == (2, 2, offset)
    assert not decoded.rejected


def test_a_byte_order_mark_past_the_start_of_the_file_is_part_of_its_record(tmp_path: Path) -> None:
    path = tmp_path / "input.jsonl"
    path.write_bytes(visit("a", "c-1", "2026-01-05T11:00:00+00:00") + b"\n\xef\xbb\xbf{}\n")
    [_, (_, second)] = list(read_records(path))
    assert second == b"\xef\xbb\xbf{}"

    work = tmp_path / "work"
    work.mkdir()
    decoded = [
        decode_range(path, span, DECODER, partitions=3, quorum=2, as_of=None, workdir=work)
        for span in split(path, 2)
    ]
    assert sum(part.rejected["not_json"] for part in decoded) == 1
