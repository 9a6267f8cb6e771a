"""A line too long for one record: dead-lettered with its real size, without the replay holding it.

An export cut wrong or a hostile producer can make one line of gigabytes. A replay that read it whole
would need that much memory for a record it only has to refuse.
"""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from agents.config import default_config
from agents.ingest.dead_letter import DEFAULT_PAYLOAD_LIMIT
from agents.ingest.decode import DEFAULT_MAX_BYTES, TouchpointDecoder
from agents.journey.track import JourneyTracker
from streams import topics
from streams.replay import OUTPUT_FILES, replay
from tests.streams.replay.traffic import peak_mb, traffic

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
SALT = b"long lines"
#: Lines put among the traffic's: (after which of its lines, the long line).
LONG = [
    (10, b"x" * 3_000_000),
    (2000, b"\xff" * (DEFAULT_MAX_BYTES + 1) + b"\r"),  # one byte over, a CR LF after it
    (4000, b'{"event_id":"' + b"e" * 200_000 + b'"}'),
]


def with_long_lines(lines: list[bytes]) -> bytes:
    out = list(lines)
    for after, line in reversed(LONG):
        out.insert(after, line)
    return b"\n".join(out) + b"\n"


def dead_letters(out: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in (out / OUTPUT_FILES[topics.DEAD_LETTER]).read_bytes().splitlines()]


@pytest.mark.parametrize("processes", [1, 2])
def test_long_lines_are_dead_lettered_with_their_size_and_change_nothing_else(
    tmp_path: Path, processes: int
) -> None:
    lines = traffic().split(b"\n")[:-1]
    # Under one name: the outputs name their source.
    plain, long = tmp_path / "plain" / "history.jsonl", tmp_path / "long" / "history.jsonl"
    for path, data in ((plain, b"\n".join(lines) + b"\n"), (long, with_long_lines(lines))):
        path.parent.mkdir()
        path.write_bytes(data)
    outputs = {}
    for path in (plain, long):
        tracker = JourneyTracker(default_config(), SALT)
        out = path.parent / "out"
        replay(path, out, TouchpointDecoder(identity_salt=SALT), tracker, processes=processes)
        outputs[path.parent.name] = out

    refused = [letter for letter in dead_letters(outputs["long"]) if letter["reason"] == "too_large"]
    assert [(letter["source"]["offset"], letter["payload_bytes"]) for letter in refused] == [  # type: ignore[index]
        (10, 3_000_000),
        (2001, DEFAULT_MAX_BYTES + 1),
        (4002, 200_015),
    ]
    for letter in refused:
        assert letter["payload_truncated"] is True
        assert (
            letter["message"]
            == f"payload is {letter['payload_bytes']} bytes, over the {DEFAULT_MAX_BYTES}-byte limit"
        )
    assert refused[0]["payload"] == "x" * DEFAULT_PAYLOAD_LIMIT
    assert refused[1]["payload_encoding"] == "base64"
    assert refused[2]["payload"] == '{"event_id":"' + "e" * (DEFAULT_PAYLOAD_LIMIT - 13)

    # Every other output is the plain file's: the same records, the other dead letters at their lines moved on.
    for name, file in OUTPUT_FILES.items():
        if name != topics.DEAD_LETTER:
            assert (outputs["long"] / file).read_bytes() == (outputs["plain"] / file).read_bytes(), name
    others = [letter for letter in dead_letters(outputs["long"]) if letter["reason"] != "too_large"]
    expected = dead_letters(outputs["plain"])
    moved = [sum(after <= offset for after, _ in LONG) for offset in range(len(lines))]
    for letter in expected:
        letter["source"]["offset"] += moved[letter["source"]["offset"]]  # type: ignore[index]
    assert others == expected


def test_a_line_of_half_a_gigabyte_is_refused_in_the_memory_of_any_other_replay(tmp_path: Path) -> None:
    source = tmp_path / "history.jsonl"
    records = [line + b"\n" for line in traffic().split(b"\n")[:-1]]
    with source.open("wb") as handle:
        handle.writelines(records[:3000])
        # Half a gigabyte of zero bytes, sparse on disk; the two processes' ranges meet within it.
        handle.seek(1 << 29, io.SEEK_CUR)
        handle.write(b"\n")
        handle.writelines(records[3000:])
    out = tmp_path / "out"
    peak = peak_mb(source, out, 2)
    (letter,) = [letter for letter in dead_letters(out) if letter["reason"] == "too_large"]
    assert letter["payload_bytes"] == 1 << 29
    assert letter["source"] == {"topic": f"file:{source.name}", "partition": 0, "offset": 3000}
    # Held whole, the line took the replay to 1.1 GB (2.2 GB for a line of a gigabyte).
    assert peak < 400, f"the replay's largest process peaked at {peak:.0f} MB"
