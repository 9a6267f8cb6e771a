"""Merging the parts several processes wrote: one process's bytes, line by line, in little memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from streams.replay.parts import Lines, merge_parts, merge_sorted, open_for_writing

pytestmark = pytest.mark.unit


def test_tagged_parts_merge_into_the_order_one_process_writes(tmp_path: Path) -> None:
    for index, turns in enumerate([[(1, 1), (3, 4)], [(2, 2), (3, 3)]]):
        with open_for_writing(tmp_path / f"part-{index}") as handle:
            lines = Lines({"out": handle}, tagged=True)
            for micros, line in turns:
                lines.at(micros, line)
                lines.write("out", b"first of %d" % line)
                lines.write("out", b"then %d" % line)
    with open_for_writing(tmp_path / "out") as out:
        merge_parts([tmp_path / "part-0", tmp_path / "part-1"], out)
    expected = [b"%s %d" % (word, line) for line in (1, 2, 3, 4) for word in (b"first of", b"then")]
    assert (tmp_path / "out").read_bytes().splitlines() == expected


def test_merging_holds_a_few_lines_not_the_files(tmp_path: Path) -> None:
    # Lines longer than the small-object allocator's 512 bytes, 2 x 20,000 of them: 25 MB in all.
    for index in range(2):
        with open_for_writing(tmp_path / f"part-{index}") as handle:
            lines = Lines({"out": handle}, tagged=True)
            for number in range(20_000):
                lines.at(number * 2 + index, number)
                lines.write("out", b"x" * 600)
    for merge, suffix in ((merge_parts, ""), (merge_sorted, "-sorted")):
        tracemalloc.start()
        try:
            with open_for_writing(tmp_path / f"out{suffix}") as out:
                merge([tmp_path / "part-0", tmp_path / "part-1"], out)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 4 * 2**20, f"{merge.__name__} held {peak / 2**20:.0f} MB"
    assert (tmp_path / "out").stat().st_size == 2 * 20_000 * 601
