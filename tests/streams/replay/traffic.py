"""The simulator traffic the replay's process tests share."""

from __future__ import annotations

import itertools
from functools import cache

from streams.sim import SimulationSpec, generate


@cache
def traffic() -> bytes:
    """Simulator traffic: 150 customers over weeks, malformed records and redeliveries included."""
    records = itertools.islice(generate(SimulationSpec(customers=150, seed=8)), 6000)
    return b"".join(record + b"\n" for record in records)
