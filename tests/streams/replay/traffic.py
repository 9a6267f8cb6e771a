"""The simulator traffic, the command line and the peak memory measure the replay's tests share."""

from __future__ import annotations

import itertools
import os
import subprocess
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


def peak_mb(source: Path, out: Path, processes: int) -> float:
    """Replay *source* into *out* in *processes*: the peak resident set of its largest process, in MB, measured
    from a parent of its own (the test process's other children do not count)."""
    measure = "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    measure += "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", measure, *command_line(source, out, processes)],
        env={**os.environ, "TOUCHPOINT_IDENTITY_SALT": "peak", "PYTHONPATH": str(root)},
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1]) / 1024
