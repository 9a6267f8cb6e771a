"""JSONL record files, read the same way by ``touchpoint produce`` and ``touchpoint replay``.

One record per line; the line's bytes (without the newline, and without a
trailing CR from Windows editors) are the record value, valid or not. Empty
lines are skipped by both, so a trailing newline never becomes a record; the
caller hears of each one (``on_blank``) to say how many it skipped.

A file may be compressed with gzip, bzip2, xz or zstd, as exports and archives of a year of history
usually are: it is told by its first bytes, not its name, and read as the lines it holds. Read as
they are, its bytes would become records of binary noise, each one a dead letter. The first bytes
must start a stream of that format (its decompressor takes them), not just match its magic number:
a plain file whose first record is noise that begins with one (bzip2's ``BZh`` is plain text) is
read as a plain file, and that record is dead-lettered like any other. The path ``-``
(``STDIN``) is the standard input, compressed or not, for a file streamed from elsewhere. A zstd
file's data is checked against its content checksum, which the ``zstd`` command writes by default:
without one, changed bytes read as data, and the lines they make are refused (dead letters, or
fit's skipped rows).
``touchpoint fit`` writes out a compressed or piped purchase history with ``spool``, as replay does.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Final, NamedTuple, cast

from agents.lines import Overlong, convert_first, lines, not_utf8

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

__all__ = [
    "BOM",
    "LINE_LIMIT",
    "STDIN",
    "LineTooLong",
    "RecordFileError",
    "compression_of",
    "display_name",
    "first_record",
    "lines_name",
    "lines_size",
    "read_records",
    "spool",
]


class _Format(NamedTuple):
    """A compression: its magic number, its name, how to read a file of it (closed by whoever opens it), and
    a decompressor to try a file's first bytes on (what it raises when they start no such stream is in
    ``_BROKEN``)."""

    magic: bytes
    name: str
    open: Callable[[BinaryIO], io.BufferedIOBase]
    start: Callable[[], Any]


_FORMATS: Final = (
    _Format(
        b"\x1f\x8b",
        "gzip",
        lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"),
        lambda: zlib.decompressobj(wbits=31),
    ),
    _Format(b"BZh", "bzip2", lambda raw: bz2.BZ2File(raw, mode="rb"), bz2.BZ2Decompressor),
    _Format(
        b"\xfd7zXZ\x00",
        "xz",
        lambda raw: lzma.LZMAFile(raw, mode="rb"),  # noqa: SIM115
        lambda: lzma.LZMADecompressor(format=lzma.FORMAT_XZ),
    ),
    _Format(b"\x28\xb5\x2f\xfd", "zstd", lambda raw: zstd.ZstdFile(raw, mode="rb"), zstd.ZstdDecompressor),
)
#: What reading broken compressed data raises: a bad header or checksum (gzip's BadGzipFile and bzip2's
#: OSError), corrupt data (zlib's, lzma's and zstd's errors), and data that stops before its end (EOFError).
_BROKEN: Final = (OSError, EOFError, zlib.error, lzma.LZMAError, zstd.ZstdError)
#: The first bytes a format's decompressor must take for a file to count as compressed. Every format's
#: header is shorter; noise after a magic number fails within them for all but about 1 in 1,000 (gzip,
#: zstd) and never in practice for bzip2 and xz, whose headers hold a fixed block magic and a CRC.
_PROBE_BYTES: Final = 64
#: Bytes copied at a time while unpacking, and read at a time from a record file (``_opened``).
_CHUNK: Final = 1 << 20
#: The longest record ``read_records`` reads whole by default: the largest a producer sends (aiokafka's
#: ``max_request_size``), and sixteen times ingest's default event limit.
LINE_LIMIT: Final = 1 << 20
#: Compressed bytes read when a compressed file's lines are counted (``lines_size``): the rate at which it
#: unpacks is taken between the first two.
_SAMPLE_MARKS: Final = (1 << 18, 1 << 20)
#: Compressed files' usual suffixes, left off the name of a copy of their lines (``lines_name``).
_COMPRESSED_SUFFIXES: Final = (".gz", ".bz2", ".xz", ".zst")


#: The path that names the standard input, as on most command lines.
STDIN: Final = Path("-")


def display_name(path: Path, *, whole: bool = False) -> str:
    """How progress and messages name *path*: its name (*whole*: the path as given), or ``standard input``
    for ``STDIN``, which a reader would not recognise as ``-``."""
    if path == STDIN:
        return "standard input"
    return str(path) if whole else path.name


class RecordFileError(ValueError):
    """A compressed record file that cannot be read to its end: corrupt, or cut short."""


class LineTooLong(ValueError):
    """A line of a record file longer than its reader takes, where the reader has no use for it; names the line."""


def compression_of(path: Path) -> str | None:
    """``"gzip"``, ``"bzip2"``, ``"xz"`` or ``"zstd"`` if *path* is so compressed, by its first bytes; None if
    plain."""
    with _opened(path) as raw:
        found = _format(raw)
        return None if found is None else found.name


def _head(stream: BinaryIO | io.BufferedIOBase) -> bytes:
    """The first ``_PROBE_BYTES`` of *stream* from where it is, left to be read again."""
    if stream.seekable():
        head = stream.read(_PROBE_BYTES)
        stream.seek(-len(head), io.SEEK_CUR)
        return head
    # A pipe cannot go back: its first bytes are peeked, in one read of the pipe (which holds a header's
    # bytes in practice).
    return cast(io.BufferedReader, stream).peek(_PROBE_BYTES)[:_PROBE_BYTES]


def _format(raw: BinaryIO) -> _Format | None:
    head = _head(raw)
    for candidate in _FORMATS:
        if head.startswith(candidate.magic) and _starts_stream(candidate, head):
            return candidate
    return None


def _starts_stream(candidate: _Format, head: bytes) -> bool:
    """Whether *head*, a file's first bytes, can be the start of a *candidate* stream."""
    try:
        candidate.start().decompress(head)
    except _BROKEN:
        return False
    return True


@contextmanager
def _opened(path: Path) -> Iterator[BinaryIO]:
    """*path* open for reading; the standard input (left open) for ``STDIN``."""
    if path == STDIN:
        yield sys.stdin.buffer
        return
    # A record file is read a line at a time: through the default buffer (the file system's block,
    # 4 KiB here), a system call every dozen lines.
    with path.open("rb", buffering=_CHUNK) as raw:
        yield raw


def read_records(
    path: Path,
    on_blank: Callable[[int], None] | None = None,
    on_read: Callable[[int], None] | None = None,
    *,
    limit: int = LINE_LIMIT,
    on_overlong: Callable[[int, Overlong], None] | None = None,
) -> Iterator[tuple[int, bytes]]:
    """Yield (zero-based line number, record bytes) for each non-empty line of *path*, compressed or not.

    *on_blank* is called with the line number of each empty line skipped; *on_read* with the bytes of the
    file itself read since its last call (of the compressed file, where it is compressed: those are the
    bytes a progress bar can count against the file's size; never for the standard input, whose size is
    not known). Raises RecordFileError, naming the file, where compressed data is corrupt or cut short, or the
    lines are UTF-16 or UTF-32 text (as Windows PowerShell 5 writes a file), which would be read as noise.
    A record over *limit* bytes is not read whole (agents/lines.py): *on_overlong* hears its line number
    and its first bytes and size, and it is not yielded; without *on_overlong*, LineTooLong is raised.
    """
    with _opened(path) as raw, _lines(raw) as (data, compression):
        position = 0
        counted = None if path == STDIN else on_read  # a pipe has no position to count
        with _named_if_broken(path, compression):
            _refuse_other_encodings(data, path)
            for number, line in enumerate(lines(data, limit)):
                if counted is not None:
                    now = raw.tell()
                    counted(now - position)
                    position = now
                if isinstance(line, Overlong):
                    if number == 0:
                        line = line.removeprefix(BOM)
                    if on_overlong is None:
                        raise LineTooLong(
                            f"{display_name(path, whole=True)}:{number + 1}: a line of {line.size:,} bytes, over "
                            f"the {limit:,}-byte limit"
                        )
                    on_overlong(number, line)
                    continue
                record = _record(line) if number else first_record(line)
                if record:
                    yield number, record
                elif on_blank is not None:
                    on_blank(number)
        if counted is not None:
            # The end of a compressed file's data, its checksum: read after the last line, or with no line.
            counted(raw.tell() - position)


def spool(path: Path, into: Path, on_read: Callable[[int, int], None] | None = None) -> Path | None:
    """Write the lines of *path* to *into* and return *into*, unless *path* is a plain file already (None).

    For whoever reads a file in ranges: a compressed file, or the standard input, is written out as
    the lines it holds. *on_read* hears (bytes of *path* read so far, its size) every megabyte or so
    (never for the standard input, whose size is not known). Raises RecordFileError, naming *path*, where
    its compressed data is corrupt or cut short, or its lines are UTF-16 or UTF-32 text.
    """
    with _opened(path) as raw, _lines(raw) as (data, compression):
        with _named_if_broken(path, compression):
            _refuse_other_encodings(data, path)
        if compression is None and path != STDIN:
            return None
        size = 0 if path == STDIN else path.stat().st_size
        with into.open("wb") as out:
            while True:
                # Only the reading: a full disk is not a broken file.
                with _named_if_broken(path, compression):
                    chunk = data.read(_CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                if on_read is not None and size:
                    on_read(raw.tell(), size)
    return into


def lines_size(path: Path) -> int | None:
    """About how many bytes *path*'s lines take: a plain file's size; a compressed one's from how fast its first
    megabyte or so unpacks (all of it, for a small file: exact). None for the standard input or anything else
    that is not a regular file, which would lose what was read to find out."""
    if path == STDIN or not path.is_file():
        return None
    size = path.stat().st_size
    with _opened(path) as raw, _lines(raw) as (data, compression):
        if compression is None:
            return size
        unpacked = 0
        marks: list[tuple[int, int]] = []  # (compressed bytes read, bytes unpacked) at each of _SAMPLE_MARKS
        # Broken data within the sample goes unestimated: reading it says so, naming the file.
        with contextlib.suppress(*_BROKEN):
            while len(marks) < len(_SAMPLE_MARKS):
                chunk = data.read(_CHUNK)
                if not chunk:
                    return unpacked  # all of it: exact
                unpacked += len(chunk)
                if raw.tell() >= _SAMPLE_MARKS[len(marks)]:
                    marks.append((raw.tell(), unpacked))
    if len(marks) < len(_SAMPLE_MARKS):
        return None
    (packed_then, unpacked_then), (packed, unpacked) = marks
    if packed == packed_then:
        return round(size * unpacked / packed)
    # The rate between the two marks: what the decompressor has read but not yet given out (a bzip2 block,
    # some hundred kilobytes) is in both, and would count as less data at either alone.
    return unpacked + round((size - packed) * (unpacked - unpacked_then) / (packed - packed_then))


def lines_name(path: Path) -> str:
    """The name for a copy of *path*'s lines: ``history.csv`` for ``history.csv.gz``, ``stdin`` for ``-``."""
    if path == STDIN:
        return "stdin"
    return path.stem if path.suffix in _COMPRESSED_SUFFIXES else path.name


#: UTF-8's byte-order mark. Some tools write it at the start of a text file (Windows PowerShell's
#: ``Out-File -Encoding utf8``, Notepad); it belongs to the file, not to its first line's record or setting.
BOM: Final = b"\xef\xbb\xbf"


def first_record(line: bytes) -> bytes:
    """The record on a file's first line: as any other line's, without a byte-order mark before it."""
    return _record(line.removeprefix(BOM))


def _record(line: bytes) -> bytes:
    if line.endswith(b"\n"):
        line = line[:-1]
    if line.endswith(b"\r"):
        line = line[:-1]
    return line


@contextmanager
def _lines(raw: BinaryIO) -> Iterator[tuple[BinaryIO | io.BufferedIOBase, str | None]]:
    """What the open file *raw* holds, decompressed where it is compressed, and its compression."""
    found = _format(raw)
    if found is None:
        yield raw, None
        return
    with found.open(raw) as data:
        yield data, found.name


def _refuse_other_encodings(data: BinaryIO | io.BufferedIOBase, path: Path) -> None:
    """RecordFileError, naming *path*, if *data* (its lines) is UTF-16 or UTF-32 text: read as UTF-8, every line
    would be a dead letter or a bad row."""
    encoding = not_utf8(_head(data))
    if encoding is not None:
        raise RecordFileError(f"{display_name(path, whole=True)}: {convert_first(encoding)}")


@contextmanager
def _named_if_broken(path: Path, compression: str | None) -> Iterator[None]:
    """Reading *path*'s data (of *compression*): what its broken data raises becomes a RecordFileError naming
    *path*. A plain file's errors, and the system's (a read that failed, with its errno), are left as they are."""
    try:
        yield
    except _BROKEN as exc:
        if compression is None or (isinstance(exc, OSError) and exc.errno is not None):
            raise
        shown = display_name(path, whole=True)
        if isinstance(exc, EOFError):
            raise RecordFileError(
                f"{shown}: the {compression} data ends early: the file is cut short"
            ) from None
        raise RecordFileError(f"{shown}: not valid {compression} data ({exc})") from None
