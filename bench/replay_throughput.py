"""Replay throughput: `touchpoint replay` over simulator traffic, offline, in one process.

    .venv/bin/python bench/replay_throughput.py --events 200000 --runs 3

Writes the simulator's records (1 % malformed, 20 customers per 1,000 events) to a
temporary JSONL file once, then replays it --runs times through the same code the
CLI runs (decode, sort by event time, journey, SLA alerts, all four outputs written)
and reports records/s, median of the runs.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
from pathlib import Path

from common import record

from agents.config import default_config
from agents.ingest.decode import TouchpointDecoder
from agents.journey.track import JourneyTracker
from streams.replay import replay
from streams.settings import Settings
from streams.simulator import SimulationSpec, generate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    salt = Settings().identity_salt.encode()
    with tempfile.TemporaryDirectory(prefix="tp-bench-") as workdir:
        source = Path(workdir) / "traffic.jsonl"
        spec = SimulationSpec(customers=max(100, args.events // 50), seed=1)
        with source.open("wb") as handle:
            for value in itertools.islice(generate(spec), args.events):
                handle.write(value.replace(b"\n", b" ") + b"\n")
        rates = []
        for run in range(args.runs):
            tracker = JourneyTracker(default_config(), salt)
            summary = replay(
                source, Path(workdir) / f"out-{run}", TouchpointDecoder(identity_salt=salt), tracker
            )
            rates.append(summary.events_per_second)
            print(
                f"run {run + 1}: {summary.events_per_second:,.0f} records/s ({summary.records:,} in {summary.seconds:.1f} s)"
            )
    median = statistics.median(rates)
    print(f"median of {args.runs}: {median:,.0f} records/s")
    if not args.no_record:
        record(
            "replay throughput",
            f"{args.events:,} simulator records",
            f"{median:,.0f} records/s (median of {args.runs}: {', '.join(f'{r:,.0f}' for r in rates)})",
            f"python bench/replay_throughput.py --events {args.events} --runs {args.runs}",
        )


if __name__ == "__main__":
    main()
