"""Lines read with bounded memory (agents/lines.py): what ``for line in handle`` gives, up to a limit."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.lines import Overlong, lines, not_utf8, skip_line

pytestmark = pytest.mark.unit


def read(data: bytes, limit: int) -> list[bytes | tuple[bytes, int, int]]:
    return [
        (line.head, line.size, line.length) if isinstance(line, Overlong) else line
        for line in lines(io.BytesIO(data), limit)
    ]


def test_lines_within_the_limit_come_as_iterating_the_file_gives_them() -> None:
    data = b'{"a":1}\n\n{"b":2}\r\nlast without newline'
    assert read(data, 64) == list(io.BytesIO(data))


@pytest.mark.parametrize(
    "line",
    [
        b"x" * 8 + b"\n",  # the record at the limit
        b"x" * 8 + b"\r\n",  # and a CR LF after it
        b"x" * 9 + b"\n",  # one over: read whole (limit + 2 bytes), refused by the caller's size check
    ],
)
def test_a_line_that_fits_in_the_limit_and_two_bytes_comes_whole(line: bytes) -> None:
    assert read(line + b"next\n", 8) == [line, b"next\n"]
    assert read(line.rstrip(b"\r\n"), 8) == [line.rstrip(b"\r\n")]  # the file's last line, no newline


@pytest.mark.parametrize(
    ("line", "size"),
    [
        (b"x" * 11 + b"\n", 11),
        (b"x" * 10 + b"\r\n", 10),  # the CR is the 11th byte read: not the line's end yet
        (b"x" * 9 + b"\r\n", 9),  # limit + 1 and CR LF: the LF comes after the head
        (b"x" * 5000 + b"\r\n", 5000),
        (b"x\r" * 3000 + b"\n", 6000 - 1),  # CRs inside the line are record bytes; the last is the line's end
    ],
)
def test_a_longer_line_comes_as_its_first_bytes_and_its_sizes(line: bytes, size: int) -> None:
    assert read(line + b"next\n", 8) == [(line[:10], size, len(line)), b"next\n"]


@pytest.mark.parametrize("size", [10, 11, 5000])
def test_a_longer_last_line_without_a_newline_is_overlong_too(size: int) -> None:
    assert read(b"first\n" + b"x" * size, 8) == [b"first\n", (b"x" * 10, size, size)]


@given(
    st.lists(
        st.tuples(
            st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), st.sampled_from([b"\n", b"\r\n"])
        ),
        max_size=12,
    ),
    st.integers(min_value=0, max_value=30),
)
def test_every_line_is_read_in_order_with_its_record_size(
    records: list[tuple[bytes, bytes]], limit: int
) -> None:
    data = b"".join(record + end for record, end in records)
    found = list(lines(io.BytesIO(data), limit))
    assert len(found) == len(records)
    for line, (record, end) in zip(found, records, strict=True):
        if isinstance(line, Overlong):
            stripped = record[:-1] if end == b"\n" and record.endswith(b"\r") else record
            assert len(stripped) > limit
            assert (line.head, line.size, line.length) == (
                (record + end)[: limit + 2],
                len(stripped),
                len(record + end),
            )
        else:
            assert line == record + end


def test_skip_line_reads_to_the_start_of_the_next_line() -> None:
    handle = io.BytesIO(b"x" * 3_000_000 + b"\nnext\n")
    assert skip_line(handle) == 3_000_001
    assert handle.readline() == b"next\n"
    assert skip_line(handle) == 0


def test_a_line_of_gigabytes_is_read_past_in_a_few_megabytes(tmp_path: Path) -> None:
    # A sparse file: 1 GiB of zero bytes without a newline, then a record. Read whole, the line alone is 1 GiB.
    path = tmp_path / "one-long-line"
    with path.open("wb") as handle:
        handle.truncate(1 << 30)
        handle.seek(0, io.SEEK_END)
        handle.write(b"\n{}\n")
    tracemalloc.start()
    try:
        with path.open("rb") as handle:
            found = list(lines(handle, 1 << 16))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [type(line) for line in found] == [Overlong, bytes]
    first = found[0]
    assert isinstance(first, Overlong)
    assert (first.size, first.length, len(first.head)) == (1 << 30, (1 << 30) + 1, (1 << 16) + 2)
    assert peak < 8 << 20, f"reading past the line took {peak:,} bytes at its peak"


@pytest.mark.parametrize(
    ("codec", "encoding"),
    [("utf-16", "UTF-16"), ("utf-16-be", "UTF-16"), ("utf-32", "UTF-32"), ("utf-32-be", "UTF-32")],
)
@pytest.mark.parametrize("text", ['{"event_id":"e-1"}\n', "customer_id,date,amount\r\n", "[sla]\n", "x"])
def test_text_in_utf16_or_utf32_with_its_mark_is_told_from_utf8(codec: str, encoding: str, text: str) -> None:
    # As Windows PowerShell 5 writes a redirected file ("utf-16" writes the platform's mark, little-endian here).
    # The codecs without an order in their name write the mark themselves; the big-endian ones are given one.
    data = text.encode(codec) if not codec.endswith("-be") else ("\ufeff" + text).encode(codec)
    assert not_utf8(data[:64]) == encoding
    assert not_utf8(text.encode("utf-8")) is None
    assert not_utf8(b"\xef\xbb\xbf" + text.encode("utf-8")) is None


@pytest.mark.parametrize(
    "head",
    [
        b"\xff\xfe",  # the mark alone
        b"\xff\xfe\x00\xd8",  # a lone surrogate
        b"\xff\xfe" + "é{".encode("utf-16-le"),  # not ASCII
        b"\xff\xfe\x01\x00",  # a control character
        b'\xff\xfe{"not":"text in UTF-16"}',  # a record of noise in a UTF-8 file, then JSON
        b"",
    ],
)
def test_a_mark_without_text_after_it_is_not_taken_for_another_encoding(head: bytes) -> None:
    assert not_utf8(head) is None
