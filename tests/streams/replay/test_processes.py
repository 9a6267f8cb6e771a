"""Replay in several processes: the same bytes as one process, whatever the number.

And the partitions (each with its own clock) change only when a deadline's outputs are
written, never what any output says: a touchpoint sees every deadline before it fired either
way, and at the end deadlines fire up to the clock of all partitions together.
"""

from __future__ import annotations

import itertools
from datetime import date
from functools import cache
from pathlib import Path

import pytest

from agents.config import default_config
from agents.ingest.decode import TouchpointDecoder
from agents.journey.track import JourneyTracker
from streams.replay import OUTPUT_FILES, replay
from streams.sim import SimulationSpec, generate

pytestmark = pytest.mark.unit

SALT = b"processes"
DECODER = TouchpointDecoder(identity_salt=SALT)
TRACKER = JourneyTracker(default_config(), SALT)


@cache
def traffic() -> bytes:
    """Simulator traffic: 150 customers over weeks, malformed records and redeliveries included."""
    records = itertools.islice(generate(SimulationSpec(customers=150, seed=8)), 6000)
    return b"".join(record + b"\n" for record in records)


def outputs(directory: Path) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in OUTPUT_FILES.values()}


@pytest.mark.parametrize("as_of", [None, date(2026, 1, 20)], ids=["to the end", "as of a day"])
def test_any_number_of_processes_writes_the_bytes_one_process_writes(
    tmp_path: Path, as_of: date | None
) -> None:
    source = tmp_path / "traffic.jsonl"
    source.write_bytes(traffic())
    one = replay(source, tmp_path / "one", DECODER, TRACKER, as_of)
    expected = outputs(tmp_path / "one")
    assert one.accepted
    assert sum(one.alerts.values())
    assert one.transitions
    for processes in (2, 3, 4):
        out = tmp_path / f"processes-{processes}"
        summary = replay(source, out, DECODER, TRACKER, as_of, processes=processes)
        assert outputs(out) == expected, f"{processes} processes"
        counts = (
            "records",
            "accepted",
            "duplicates",
            "transitions",
            "alerts",
            "customers",
            "stages",
            "rejected",
        )
        assert {c: getattr(summary, c) for c in counts} == {c: getattr(one, c) for c in counts}
    assert not list(tmp_path.glob("*/.replay-*")), "the runs and parts are removed"


def test_the_partitions_move_when_deadline_outputs_are_written_never_what_they_say(tmp_path: Path) -> None:
    source = tmp_path / "traffic.jsonl"
    source.write_bytes(traffic())
    replay(source, tmp_path / "one", DECODER, TRACKER, partitions=1)
    replay(source, tmp_path / "four", DECODER, TRACKER, partitions=4)
    one, four = outputs(tmp_path / "one"), outputs(tmp_path / "four")
    for name in ("by-customer.jsonl", "enriched.jsonl", "customers.jsonl"):
        assert four[name] == one[name], name
    for name in ("transitions.jsonl", "alerts.jsonl"):
        assert sorted(four[name].splitlines()) == sorted(one[name].splitlines()), name
