"""Pausing Python's cyclic garbage collector around work that allocates millions of survivors.

The collector runs a full pass over every tracked object each time the objects
that survived earlier passes grow by a quarter. Work that builds millions of
long-lived objects in one go (a table restored from its changelog, a replay's
states and sorted input) then pays for passes that find nothing: decoding a
customer state took 35 µs with the collector and 9 µs without (600,000 states),
one full pass over them 4.3 s, and a replay of 500,000 records ran 15 % faster
without it. Reference counting still frees everything that is not in a cycle. When the
block ends, what it made and kept goes to the oldest generation without a pass over it: the
young pass right after would otherwise go over all of it at once (0.5 s at the end of a
200,000-record replay).

A live worker keeps every customer's state it has touched as objects and makes a few
dozen short-lived ones per record (the decoded touchpoint, its outputs, the futures of
its sends). Under Python's default thresholds (700, 10, 10) the batches in flight
outlive a young pass, are promoted, and count towards the next full pass over every
state: a tenth of the worker's CPU (``bench/PROFILE.md``). ``WORKER_THRESHOLDS`` lets
those die young.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

__all__ = ["WORKER_THRESHOLDS", "collector_paused", "parse_thresholds", "set_thresholds"]

#: The collector's thresholds in a worker: a young pass every 100,000 new container objects
#: (Python's default is 700), a middle pass every 20 young ones, and a full pass at most every
#: 10 middle ones (and, as always, only once the survivors have grown by a quarter). With a young
#: pass every 20,000, a fetch's records were still in flight at many of them: the middle passes
#: over what they promoted took 0.24-0.32 s of CPU per 150,000 records, 0.02-0.03 s now.
WORKER_THRESHOLDS: Final = (100_000, 20, 10)


@contextmanager
def collector_paused(*, freeze_survivors: bool = False) -> Iterator[None]:
    """Run the block without the cyclic collector; with *freeze_survivors*, keep what is alive
    afterwards out of every later pass too (``gc.freeze``): for objects a long-running worker
    keeps, whose later full passes would each take seconds and find nothing."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            if freeze_survivors:
                gc.freeze()
            elif gc.get_freeze_count() == 0:
                # Everything the block allocated is still in the young generation, and the first
                # allocation after enable() would pass over all of it at once (0.5 s after a 200,000-record
                # replay, for 554,000 objects, nearly all alive). Frozen and at once unfrozen, it moves to
                # the oldest generation without a pass, as if it had survived the young and middle ones;
                # a later full pass frees any cycles among it. Not when something else froze objects:
                # unfreeze() would give those back to the collector too.
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def parse_thresholds(text: str) -> tuple[int, int, int]:
    """``"T0,T1,T2"`` as the collector's three thresholds; ValueError when it is not that."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 3 or not all(part.isascii() and part.isdigit() for part in parts):
        raise ValueError(
            f"the collector's thresholds are three whole numbers separated by commas, like 100000,20,10, not {text!r}"
        )
    young, middle, full = (int(part) for part in parts)
    if min(young, middle, full) < 1:
        raise ValueError(
            f"each of the collector's thresholds must be at least 1 (0 switches it off), not {text!r}"
        )
    return young, middle, full


def set_thresholds(thresholds: tuple[int, int, int]) -> tuple[int, int, int]:
    """Give the collector *thresholds*; return the ones it had."""
    previous = gc.get_threshold()
    gc.set_threshold(*thresholds)
    return previous[0], previous[1], previous[2]
