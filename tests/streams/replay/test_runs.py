"""Sorted runs: any number of runs merge into one event-time order, reading a bounded number at once."""

from __future__ import annotations

import heapq
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.replay.runs import Row, merged, write_run

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
    widest = 0
    merge = heapq.merge

    def counting(*iterables: object, **options: object) -> object:
        nonlocal widest
        widest = max(widest, len(iterables))
        return merge(*iterables, **options)  # type: ignore[call-overload]

    monkeypatch.setattr(heapq, "merge", counting)
    rows = list(merged([tmp_path / f"run-{number}" for number in range(50)], fan_in=4))
    assert len(rows) == 250
    assert widest == 4


def test_the_runs_merged_on_the_way_are_removed_once_merged_again(tmp_path: Path) -> None:
    write_runs(tmp_path, [3] * 20, seed=5)
    originals = {tmp_path / f"run-{number}" for number in range(20)}
    list(merged(sorted(originals), fan_in=3))
    left = set(tmp_path.iterdir()) - originals
    assert len(left) <= 3, "only the last level's runs are left for the replay's folder to remove"


def test_a_merge_reads_at_least_two_runs_at_once(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 2"):
        merged([], fan_in=1)
