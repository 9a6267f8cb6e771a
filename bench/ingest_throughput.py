"""Ingest throughput on the embedded broker: raw touchpoints → by-customer / dead-letter.

    .venv/bin/python bench/ingest_throughput.py --events 50000 --runs 3

Each run: a fresh embedded broker, the simulator's records pre-produced to
`touchpoints`, then one worker started. Throughput is counted from the first to
the last output record (their broker timestamps), so worker start-up and the
group join are excluded. Prints the median of the runs and appends it to
bench/RESULTS.md with the date, machine and commit.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
from pathlib import Path

from common import output_span, record

from streams import topics
from streams.kafka import produce
from streams.local.broker import EmbeddedBroker, free_port
from streams.local.supervisor import WorkerProcess
from streams.sim import SimulationSpec, generate


def one_run(events: int, seed: int) -> float:
    with tempfile.TemporaryDirectory(prefix="tp-bench-") as workdir, EmbeddedBroker() as broker:
        records = list(
            itertools.islice(generate(SimulationSpec(customers=max(100, events // 10), seed=seed)), events)
        )
        asyncio.run(produce(broker.bootstrap, topics.RAW, records))
        worker = WorkerProcess(broker.url, free_port(), Path(workdir)).start()
        try:
            worker.wait_ready()
            outputs = [topics.BY_CUSTOMER, topics.DEAD_LETTER]
            seen, span = asyncio.run(output_span(broker.bootstrap, outputs, events, time_limit=600))
        finally:
            worker.stop()
        if seen < events:
            raise SystemExit(f"only {seen} of {events} records came out; see {worker.log_path}")
        return (seen - 1) / span


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    args = parser.parse_args()
    rates = []
    for run in range(args.runs):
        rate = one_run(args.events, seed=run + 1)
        rates.append(rate)
        print(f"run {run + 1}: {rate:,.0f} events/s")
    median = statistics.median(rates)
    print(f"median of {args.runs}: {median:,.0f} events/s")
    if not args.no_record:
        runs = ", ".join(f"{r:,.0f}" for r in rates)
        record(
            "ingest throughput",
            f"{args.events:,} simulator events",
            f"{median:,.0f} events/s (median of {args.runs}: {runs})",
            f"python bench/ingest_throughput.py --events {args.events} --runs {args.runs}",
        )


if __name__ == "__main__":
    main()
