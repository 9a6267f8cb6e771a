"""Touchpoints near ingest's size limit: a replay's memory is bounded by bytes, not only by counts of rows.

Simulator touchpoints are a few hundred bytes, but the contract lets a producer send up to
``TOUCHPOINT_MAX_EVENT_BYTES`` (32 attributes of any name). A replay that kept 100,000 such rows before
writing a run would hold gigabytes.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams import topics
from streams.replay import OUTPUT_FILES
from streams.replay.runs import RUN_BYTES
from tests.streams.replay.traffic import peak_mb

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
#: Touchpoints of about 48 KB each, and how many fill the bytes a run holds.
SIZE = 48_000
RUN = RUN_BYTES // SIZE


def large(number: int) -> bytes:
    """A visit of about 48 KB: 24 attributes with names of 1,500 characters and values of 512."""
    attributes = {f"{k:02d}" + "k" * 1500: "v" * 512 for k in range(24)}
    instant = f"2026-01-05T{10 + number // 3600:02d}:{number // 60 % 60:02d}:{number % 60:02d}+00:00"
    event = {
        "schema_version": 1,
        "event_id": f"e-{number}",
        "occurred_at": instant,
        "customer_id": f"c-{number % 50}",
        "channel": "web",
        "type": "visit",
        "actor": "customer",
        "attributes": attributes,
    }
    return orjson.dumps(event)


def test_a_history_of_large_touchpoints_is_replayed_in_the_memory_of_one_run(tmp_path: Path) -> None:
    peaks = {}
    for runs in (1, 4):
        source = tmp_path / f"history-{runs}.jsonl"
        with source.open("wb") as handle:
            handle.writelines(large(number) + b"\n" for number in range(runs * RUN))
        out = tmp_path / f"out-{runs}"
        peaks[runs] = peak_mb(source, out, 1)
        assert (out / OUTPUT_FILES[topics.BY_CUSTOMER]).stat().st_size == source.stat().st_size, "all applied"
        source.unlink()
    # Held whole until a run was written, four runs' worth took the replay 210 MB more than one (a peak of 410
    # MB against 200); held a run at a time, the same.
    assert peaks[4] < peaks[1] + RUN_BYTES / 2**20, f"peaks of {peaks[1]:.0f} MB and {peaks[4]:.0f} MB"
