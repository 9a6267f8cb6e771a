"""The simulator traffic and the command line the replay's tests share."""

from __future__ import annotations

import itertools
import sys
from functools import cache
from pathlib import Path

from streams.sim import SimulationSpec, generate


@cache
def traffic() -> bytes:
    """Simulator traffic: 150 customers over weeks, malformed records and redeliveries included."""
    records = itertools.islice(generate(SimulationSpec(customers=150, seed=8)), 6000)
    return b"".join(record + b"\n" for record in records)


def simulated(customers: int, seed: int, count: int) -> bytes:
    """The simulator's first *count* records of *customers* from *seed*, one line each (a malformed record's
    line breaks become spaces)."""
    records = itertools.islice(generate(SimulationSpec(customers=customers, seed=seed)), count)
    return b"".join(record.replace(b"\n", b" ") + b"\n" for record in records)


def command_line(source: Path, out: Path, processes: int, *options: str) -> list[str]:
    """``touchpoint replay`` of *source* into *out* in *processes*, with *options*."""
    replay = [sys.executable, "-m", "streams.cli", "replay", str(source), "--out", str(out)]
    return [*replay, "--processes", str(processes), *options]
