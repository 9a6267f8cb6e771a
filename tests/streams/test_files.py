"""Record files (streams/files.py): plain or compressed, the same records; broken data named, never read as records."""

from __future__ import annotations

import bz2
import gzip
import inspect
import io
import lzma
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.files import (
    BOM,
    LINE_LIMIT,
    STDIN,
    LineTooLong,
    RecordFileError,
    compression_of,
    display_name,
    lines_name,
    lines_size,
    read_records,
    spool,
)

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

pytestmark = pytest.mark.unit

COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    # With the content checksum, as the zstd command writes by default: without one, zstd cannot tell
    # changed bytes from data (such lines would be read, and dead-lettered as the noise they are).
    "zstd": lambda data: zstd.compress(data, options={zstd.CompressionParameter.checksum_flag: 1}),
}

lines = st.lists(
    st.sampled_from([b"", b"x", b"a longer line", b"\r", b"{}", b'{"a":"\xc3\xa9"}']), max_size=30
)


@settings(max_examples=40, deadline=None)
@given(lines=lines, trailing=st.booleans(), kind=st.sampled_from(sorted(COMPRESSORS)))
def test_a_compressed_file_holds_the_records_and_blank_lines_of_the_plain_one(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], trailing: bool, kind: str
) -> None:
    folder = tmp_path_factory.mktemp("records")
    data = b"\n".join(lines) + (b"\n" if trailing else b"")
    plain, packed = folder / "events.jsonl", folder / "events.jsonl.z"
    plain.write_bytes(data)
    packed.write_bytes(COMPRESSORS[kind](data))
    blanks: dict[Path, list[int]] = {plain: [], packed: []}
    read: dict[Path, int] = {plain: 0, packed: 0}

    def records(path: Path) -> list[tuple[int, bytes]]:
        def count(n: int) -> None:
            read[path] += n

        return list(read_records(path, blanks[path].append, count))

    assert records(packed) == records(plain)
    assert blanks[packed] == blanks[plain]
    assert compression_of(packed) == kind
    assert compression_of(plain) is None
    # What a progress bar counts: every byte of the file itself, compressed or not.
    assert read[plain] == len(data)
    assert read[packed] == packed.stat().st_size
    unpacked = spool(packed, folder / "unpacked.jsonl")
    assert unpacked is not None
    assert unpacked.read_bytes() == data
    assert spool(plain, folder / "never.jsonl") is None
    assert not (folder / "never.jsonl").exists()


def test_compression_is_told_by_the_first_bytes_not_the_name(tmp_path: Path) -> None:
    misnamed = tmp_path / "events.jsonl"
    misnamed.write_bytes(gzip.compress(b'{"a":1}\n'))
    plain = tmp_path / "events.jsonl.gz"
    plain.write_bytes(b'{"a":1}\n')
    assert list(read_records(misnamed)) == list(read_records(plain)) == [(0, b'{"a":1}')]


@pytest.mark.parametrize("kind", [None, *sorted(COMPRESSORS)])
def test_a_line_over_the_limit_is_handed_aside_with_its_size_and_the_others_read(
    tmp_path: Path, kind: str | None
) -> None:
    data = BOM + b"y" * 40 + b"\r\n" + b'{"a":1}\n' + b"z" * 5000 + b"\n\n" + b'{"b":2}'
    path = tmp_path / "events.jsonl"
    path.write_bytes(data if kind is None else COMPRESSORS[kind](data))
    overlong: list[tuple[int, bytes, int]] = []
    found = list(
        read_records(
            path, limit=32, on_overlong=lambda number, line: overlong.append((number, line.head, line.size))
        )
    )
    assert found == [(1, b'{"a":1}'), (4, b'{"b":2}')]
    # The first line's size and first bytes are its record's: the byte-order mark belongs to the file.
    assert overlong == [(0, b"y" * 31, 40), (2, b"z" * 34, 5000)]
    with pytest.raises(
        LineTooLong, match=r"events.jsonl:3: a line of 5,000 bytes, over the 4,096-byte limit"
    ):
        list(read_records(path, limit=4096))


#: Each format's magic number.
MAGIC = {"gzip": b"\x1f\x8b", "bzip2": b"BZh", "xz": b"\xfd7zXZ\x00", "zstd": b"\x28\xb5\x2f\xfd"}


@pytest.mark.parametrize("kind", sorted(MAGIC))
@pytest.mark.parametrize("noise", [b"", b"9", b"\x08\x00junk", b"1AY&SY", b'{"not":"a stream"}'])
def test_a_plain_file_whose_first_record_starts_like_a_compressed_one_is_read_as_plain(
    tmp_path: Path, kind: str, noise: bytes
) -> None:
    # A stray record of noise first in a file must go to the dead letters like any other, not have the
    # whole file refused as a broken compressed one: the bytes after the magic number must start a stream.
    lines = [MAGIC[kind] + noise, *(b'{"n":%d}' % n for n in range(50))]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert compression_of(path) is None
    assert [record for _, record in read_records(path)] == lines
    assert spool(path, tmp_path / "copy.jsonl") is None


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_a_compressed_file_shorter_than_the_probe_is_still_compressed(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "tiny.jsonl.z"
    path.write_bytes(COMPRESSORS[kind](b"a\n"))
    assert compression_of(path) == kind
    assert [record for _, record in read_records(path)] == [b"a"]


def test_several_gzip_members_one_after_another_are_one_file(tmp_path: Path) -> None:
    # What `cat day1.gz day2.gz > week.gz` makes.
    path = tmp_path / "week.jsonl.gz"
    path.write_bytes(gzip.compress(b"a\nb\n") + gzip.compress(b"c\n"))
    assert [record for _, record in read_records(path)] == [b"a", b"b", b"c"]


def test_several_zstd_frames_one_after_another_are_one_file(tmp_path: Path) -> None:
    # What parallel compressors write (a frame per block), and `cat day1.zst day2.zst > week.zst`.
    path = tmp_path / "week.jsonl.zst"
    path.write_bytes(zstd.compress(b"a\nb\n") + zstd.compress(b"c\n") + zstd.compress(b"d\n"))
    assert [record for _, record in read_records(path)] == [b"a", b"b", b"c", b"d"]


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_a_file_cut_short_is_named_as_such_not_read_as_fewer_records(tmp_path: Path, kind: str) -> None:
    data = b"".join(b'{"n":%d,"pad":"%s"}\n' % (n, b"x" * (n % 50)) for n in range(5000))
    packed = COMPRESSORS[kind](data)
    path = tmp_path / "cut.jsonl.z"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    with pytest.raises(RecordFileError, match=rf"cut\.jsonl\.z: the {kind} data ends early"):
        list(read_records(path))
    with pytest.raises(RecordFileError, match=rf"cut\.jsonl\.z: the {kind} data ends early"):
        spool(path, tmp_path / "out.jsonl")


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_corrupt_data_is_named_with_the_file_and_its_format(tmp_path: Path, kind: str) -> None:
    data = b"".join(b'{"n":%d}\n' % n for n in range(2000))
    packed = bytearray(COMPRESSORS[kind](data))
    # Past each format's header: the damage is in the data (or its checksum), not the magic bytes.
    for index in range(len(packed) // 2, len(packed) // 2 + 8):
        packed[index] ^= 0xFF
    path = tmp_path / "corrupt.jsonl.z"
    path.write_bytes(bytes(packed))
    with pytest.raises(RecordFileError, match=rf"corrupt\.jsonl\.z: (not valid {kind} data|the {kind} data)"):
        list(read_records(path))
    with pytest.raises(RecordFileError, match=rf"corrupt\.jsonl\.z: (not valid {kind} data|the {kind} data)"):
        spool(path, tmp_path / "out.jsonl")


class _Stdin:
    """What ``sys.stdin`` offers the reader: its bytes."""

    def __init__(self, buffer: io.BufferedIOBase) -> None:
        self.buffer = buffer


def _pipe(data: bytes) -> io.BufferedReader:
    """*data* coming down a pipe, as a shell's ``|`` gives it: nothing to seek, written as it is read."""
    read_end, write_end = os.pipe()

    def write() -> None:
        with os.fdopen(write_end, "wb") as out:
            out.write(data)

    threading.Thread(target=write, daemon=True).start()
    return os.fdopen(read_end, "rb")


@pytest.mark.parametrize("kind", ["plain", *sorted(COMPRESSORS)])
@pytest.mark.parametrize("source", ["pipe", "redirected file"])
def test_the_standard_input_is_read_as_a_file_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, source: str
) -> None:
    data = b"".join(b'{"n":%d}\n' % n for n in range(20_000)) + b"\n"
    packed = data if kind == "plain" else COMPRESSORS[kind](data)
    plain = tmp_path / "events.jsonl"
    plain.write_bytes(data)
    expected = list(read_records(plain))

    def stdin() -> io.BufferedIOBase:
        if source == "pipe":
            return _pipe(packed)
        (tmp_path / "stdin").write_bytes(packed)
        return (tmp_path / "stdin").open("rb")

    monkeypatch.setattr(sys, "stdin", _Stdin(stdin()))
    assert list(read_records(STDIN)) == expected
    monkeypatch.setattr(sys, "stdin", _Stdin(stdin()))
    spooled = spool(STDIN, tmp_path / "spooled.jsonl")
    assert spooled is not None
    assert spooled.read_bytes() == data


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_cut_compressed_standard_input_is_named_as_the_standard_input(
    monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    packed = COMPRESSORS[kind](b"".join(b'{"n":%d}\n' % n for n in range(20_000)))
    monkeypatch.setattr(sys, "stdin", _Stdin(_pipe(packed[: len(packed) // 2])))
    with pytest.raises(RecordFileError, match=rf"^standard input: the {kind} data ends early"):
        list(read_records(STDIN))


def test_a_full_disk_while_unpacking_is_the_systems_error_not_a_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"n":1}\n' * 1000))
    # Every write to /dev/full fails as on a full disk; a RecordFileError (a ValueError) would not pass.
    with pytest.raises(OSError, match="No space left on device"):
        spool(path, Path("/dev/full"))


@pytest.mark.parametrize(
    ("given", "copy"),
    [
        ("history.csv.gz", "history.csv"),
        ("history.csv.bz2", "history.csv"),
        ("history.csv.xz", "history.csv"),
        ("history.csv.zst", "history.csv"),
        ("history.csv", "history.csv"),
        ("history.tar", "history.tar"),
        ("-", "stdin"),
    ],
)
def test_a_copy_of_a_files_lines_is_named_without_its_compression_suffix(given: str, copy: str) -> None:
    # fit reads the copy by its suffix (CSV or JSONL), so the suffix under the compression's must stay.
    assert lines_name(Path(given)) == copy


def test_progress_and_messages_name_the_standard_input_in_words() -> None:
    assert display_name(STDIN) == display_name(STDIN, whole=True) == "standard input"
    assert display_name(Path("in/events.jsonl.gz")) == "events.jsonl.gz"
    assert display_name(Path("in/events.jsonl.gz"), whole=True) == "in/events.jsonl.gz"


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_the_bytes_a_files_lines_take_exactly_for_a_small_one_about_for_a_large_one(
    tmp_path: Path, kind: str
) -> None:
    plain, small, large = tmp_path / "plain.jsonl", tmp_path / "small", tmp_path / "large"
    data = b"".join(b'{"n":%d,"text":"%s"}\n' % (n, os.urandom(8).hex().encode()) for n in range(200_000))
    plain.write_bytes(data)
    small.write_bytes(COMPRESSORS[kind](data[:50_000]))
    large.write_bytes(COMPRESSORS[kind](data))

    assert lines_size(plain) == len(data)
    assert lines_size(small) == 50_000  # read to its end: what it holds
    # Read only as far as its first megabyte of compressed data: what the rest unpacks to is estimated.
    assert len(large.read_bytes()) > 1 << 20
    estimate = lines_size(large)
    assert estimate is not None
    assert 0.9 * len(data) <= estimate <= 1.1 * len(data)


def test_the_lines_of_the_standard_input_or_a_pipe_are_not_counted_ahead(tmp_path: Path) -> None:
    pipe = tmp_path / "history.pipe"
    os.mkfifo(pipe)
    # Not opened, or what it read would be lost to whoever reads the pipe next.
    assert lines_size(pipe) is None
    assert lines_size(STDIN) is None


def test_the_default_line_limit_is_the_largest_record_a_producer_sends() -> None:
    # touchpoint produce reads its lines with it: a longer line could never be sent, so it is not read whole.
    sending = inspect.signature(AIOKafkaProducer).parameters["max_request_size"].default
    assert sending == LINE_LIMIT


@pytest.mark.parametrize("kind", [None, "gzip", "zstd"])
def test_a_file_of_utf16_text_is_refused_before_any_record_not_read_as_noise(
    tmp_path: Path, kind: str | None
) -> None:
    # Windows PowerShell 5 writes a redirected file so: read as UTF-8, each line would be a dead letter.
    text = '{"event_id":"e-1"}\n{"event_id":"e-2"}\n'.encode("utf-16")
    path = tmp_path / "events.jsonl"
    path.write_bytes(text if kind is None else COMPRESSORS[kind](text))
    message = (
        rf"{path}: UTF-16 text, not UTF-8 \(Windows PowerShell 5 writes files so by default\): convert it"
    )
    with pytest.raises(RecordFileError, match=message):
        list(read_records(path))
    with pytest.raises(RecordFileError, match=message):
        spool(path, tmp_path / "copy.jsonl")
    assert not (tmp_path / "copy.jsonl").exists()


def test_a_utf8_file_whose_first_record_starts_with_a_utf16_mark_is_read_as_records(tmp_path: Path) -> None:
    lines = [b'\xff\xfe{"noise":1}', b'{"n":1}']
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert [record for _, record in read_records(path)] == lines
    assert spool(path, tmp_path / "copy.jsonl") is None
