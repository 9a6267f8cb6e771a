"""Sorted runs: any number of runs merge into one event-time order, reading a bounded number at once."""

from __future__ import annotations

import heapq
import marshal
import random
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.replay.runs import BLOCK_BYTES, BLOCK_ROWS, Row, merge_chunks, merged, run_blocks, write_run

pytestmark = pytest.mark.unit


def row(micros: int, line: int) -> Row:
    return (micros, line, line % 4, f"cust-{line % 7}", b'{"n":%d}' % line, ())


def write_runs(folder: Path, counts: list[int], seed: int) -> list[list[Row]]:
    draw = random.Random(seed)
    line = 0
    written = []
    for number, count in enumerate(counts):
        rows = []
        for _ in range(count):
            rows.append(row(draw.randrange(1_000), line))
            line += 1
        rows.sort()
        write_run(folder / f"run-{number}", rows)
        written.append(rows)
    return written


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(min_value=0, max_value=40), min_size=0, max_size=30),
    fan_in=st.integers(min_value=2, max_value=5),
    seed=st.integers(min_value=0, max_value=1_000),
)
def test_any_number_of_runs_merge_into_the_order_of_all_their_rows(
    tmp_path_factory: pytest.TempPathFactory, counts: list[int], fan_in: int, seed: int
) -> None:
    folder = tmp_path_factory.mktemp("runs")
    written = write_runs(folder, counts, seed)
    paths = [folder / f"run-{number}" for number in range(len(counts))]
    assert list(merged(paths, fan_in)) == sorted(row for rows in written for row in rows)


def test_a_merge_of_many_runs_reads_at_most_its_fan_in_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_runs(tmp_path, [5] * 50, seed=3)
    opened: list[IO[Any]] = []
    widest = 0
    open_path = Path.open

    def counting(path: Path, *args: Any, **options: Any) -> IO[Any]:
        nonlocal widest
        handle: IO[Any] = open_path(path, *args, **options)
        if path.name.startswith("run-") or path.name.startswith("merged-"):
            opened.append(handle)
            widest = max(widest, sum(not each.closed for each in opened))
        return handle

    monkeypatch.setattr(Path, "open", counting)
    rows = list(merged([tmp_path / f"run-{number}" for number in range(50)], fan_in=4))
    assert len(rows) == 250
    assert widest == 4
    assert all(handle.closed for handle in opened)


@settings(max_examples=200, deadline=None)
@given(
    sources=st.lists(
        st.lists(st.tuples(st.integers(0, 20), st.integers(1, 4)), max_size=30), min_size=0, max_size=6
    ),
    seed=st.integers(min_value=0, max_value=1_000),
)
def test_chunks_merge_into_the_order_heapq_merge_gives_equal_items_included(
    sources: list[list[tuple[int, int]]], seed: int
) -> None:
    draw = random.Random(seed)
    # Items equal by value, told apart by their source and place: they must come in heapq.merge's order.
    items = [
        sorted(_Item(value, (index, place)) for place, (value, _) in enumerate(source))
        for index, source in enumerate(sources)
    ]
    sizes = [[size for _, size in source] for source in sources]

    def chunks(source: list[_Item], index: int) -> Iterator[list[_Item]]:
        start = 0
        for size in sizes[index]:
            yield source[start : start + size]
            if draw.random() < 0.2:
                yield []
            start += size
        yield source[start:]

    expected = [item.origin for item in heapq.merge(*items)]
    got = [
        item.origin for batch in merge_chunks([chunks(s, i) for i, s in enumerate(items)]) for item in batch
    ]
    assert got == expected


class _Item:
    """A value compared by its value only, carrying where it came from."""

    def __init__(self, value: int, origin: tuple[int, int]) -> None:
        self.value = value
        self.origin = origin

    def __lt__(self, other: _Item) -> bool:
        return self.value < other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Item) and self.value == other.value

    __hash__ = None  # type: ignore[assignment]


def test_the_runs_merged_on_the_way_are_removed_once_merged_again(tmp_path: Path) -> None:
    write_runs(tmp_path, [3] * 20, seed=5)
    originals = {tmp_path / f"run-{number}" for number in range(20)}
    list(merged(sorted(originals), fan_in=3))
    left = set(tmp_path.iterdir()) - originals
    assert len(left) <= 3, "only the last level's runs are left for the replay's folder to remove"


def test_a_merge_reads_at_least_two_runs_at_once(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 2"):
        merged([], fan_in=1)


@pytest.mark.parametrize(("size", "count"), [(10, 3000), (20_000, 300), (60_000, 300), (3_000_000, 5)])
def test_a_block_holds_a_megabyte_of_rows_at_most_unless_one_row_is_more(
    tmp_path: Path, size: int, count: int
) -> None:
    # A merge holds a block of each of its runs: blocks of 1,024 rows near ingest's limit would be 64 MB each.
    rows = sorted((n, n, 0, "c", bytes([65 + n % 26]) * size, ()) for n in range(count))
    write_run(tmp_path / "run", rows)
    blocks = list(run_blocks(tmp_path / "run"))
    assert [row for block in blocks for row in block] == rows
    assert max(len(block) for block in blocks) <= BLOCK_ROWS
    for block in blocks:
        assert len(block) == 1 or len(marshal.dumps(block)) <= BLOCK_BYTES
