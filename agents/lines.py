"""Lines of a record file, read with memory bounded by a limit, not by the longest line.

A file's lines come from whoever wrote it: an export cut wrong, a binary file given by mistake, or
a hostile producer can make a line of gigabytes. Read whole, one such line takes that much memory,
and a replay, a fit or ``touchpoint produce`` is killed for it where the line itself only needs
refusing. ``lines`` reads each line up to a limit; past it, the line is an ``Overlong``: its first
bytes and its size, with the rest read past a megabyte at a time and never held.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, Protocol, final

__all__ = ["HEAD_BYTES", "Overlong", "Readable", "convert_first", "lines", "not_utf8", "skip_line"]


class Readable(Protocol):
    """A binary file, plain or decompressing: what ``lines`` reads."""

    def readline(self, size: int = -1, /) -> bytes: ...


#: Bytes read at a time while reading past the rest of an overlong line.
_SKIP: Final = 1 << 20


@final
class Overlong:
    """A line whose record (without its newline, or a CR before it) is over the limit it was read with.

    *head* is its first bytes (the limit and two more), *size* its record's bytes, *length* its bytes in the
    file, newline included.
    """

    __slots__ = ("head", "length", "size")

    def __init__(self, head: bytes, size: int, length: int) -> None:
        self.head = head
        self.size = size
        self.length = length

    def __repr__(self) -> str:
        return f"Overlong(size={self.size}, length={self.length})"

    def removeprefix(self, prefix: bytes) -> Overlong:
        """The line without *prefix* at its start, as ``bytes.removeprefix`` (a file's byte-order mark)."""
        if not self.head.startswith(prefix):
            return self
        return Overlong(self.head[len(prefix) :], self.size - len(prefix), self.length)


def lines(handle: Readable, limit: int) -> Iterator[bytes | Overlong]:
    """Each line of *handle* from where it is, as ``for line in handle`` gives it (newline included), or an
    ``Overlong`` where the line's record is certainly over *limit* bytes.

    A line is read up to *limit* + 2 bytes, room for the record and a CR LF after it: a line that has not
    ended by then holds a record of more than *limit* bytes. A record of exactly *limit* + 1 bytes may come
    whole; the caller's own size check refuses it.
    """
    readline = handle.readline
    cap = limit + 2
    while True:
        line = readline(cap)
        if len(line) < cap or line.endswith(b"\n"):
            if not line:
                return
            yield line
            continue
        length, ending = _past_line(handle, len(line), line[-1:])
        yield Overlong(line, length - ending, length)


def skip_line(handle: Readable) -> int:
    """Read past the rest of the current line of *handle*, a megabyte at a time; the bytes read."""
    length, _ = _past_line(handle, 0, b"")
    return length


def _past_line(handle: Readable, length: int, last: bytes) -> tuple[int, int]:
    """Read to the end of a line of which *length* bytes, ending with *last*, are read: the line's length, and
    how many of its last bytes end it (LF, CR LF, or none at the end of the file)."""
    while True:
        chunk = handle.readline(_SKIP)
        if not chunk:
            return length, 0
        length += len(chunk)
        if chunk.endswith(b"\n"):
            before = chunk[-2:-1] if len(chunk) > 1 else last
            return length, 2 if before == b"\r" else 1
        last = chunk[-1:]


#: The byte-order marks of text in Unicode encodings other than UTF-8, the longer first: a UTF-32 mark begins
#: with a UTF-16 one. With each, the codec that reads what follows and how a message names the encoding.
_OTHER_MARKS: Final = (
    (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32"),
    (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32"),
    (b"\xff\xfe", "utf-16-le", "UTF-16"),
    (b"\xfe\xff", "utf-16-be", "UTF-16"),
)
#: Characters after the mark that must read as plain ASCII text for the file to be taken for such text.
_SAMPLE_CHARACTERS: Final = 8
#: A file's first bytes that ``not_utf8`` reads: the longest mark and its sample.
HEAD_BYTES: Final = 4 + 4 * _SAMPLE_CHARACTERS


def not_utf8(head: bytes) -> str | None:
    """The encoding (``"UTF-16"`` or ``"UTF-32"``) of text whose first bytes are *head*, where it starts with that
    encoding's byte-order mark, as Windows PowerShell 5 writes files by default; None for anything else.

    A mark alone could begin a record of noise in a UTF-8 file, to be refused as any other: the characters
    after it must read as ASCII text in that encoding, as a JSON line, a CSV row or a TOML file begins.
    """
    for mark, codec, name in _OTHER_MARKS:
        if not head.startswith(mark):
            continue
        width = 4 if name == "UTF-32" else 2
        sample = head[len(mark) : len(mark) + width * _SAMPLE_CHARACTERS]
        sample = sample[: len(sample) - len(sample) % width]
        try:
            text = sample.decode(codec)
        except UnicodeDecodeError:
            return None
        if (
            text
            and text.isascii()
            and all(character.isprintable() or character.isspace() for character in text)
        ):
            return name
        return None
    return None


def convert_first(encoding: str) -> str:
    """What a message says of a file of lines in *encoding* (``not_utf8``'s answer), and how to convert it."""
    return (
        f"{encoding} text, not UTF-8 (Windows PowerShell 5 writes files so by default): convert it first, for "
        f"example with iconv -f {encoding} -t UTF-8"
    )
