"""Scale-out: one worker against two in the same group, on the same pre-produced stream.

    .venv/bin/python bench/scale_out.py --events 60000 --runs 2

Each run measures both set-ups, in alternating order, each on a fresh embedded broker with
the same --events simulator records pre-produced to `touchpoints` (4 partitions). The workers
start together; throughput is counted only while every worker is processing (from the first
poll at which all of them have made progress to the last poll before any of them runs dry), so
start-up, the group join and the rebalance when the second worker arrives are excluded.
Reported: records/s, worker and broker CPU per record, the cores the workers and the broker use,
and the cores the whole machine uses meanwhile (anything else running included): with 2 cores,
two workers and the broker together want more than the machine has.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import record
from harness import (
    Stream,
    cpu_times,
    machine_cpu_seconds,
    preproduce,
    processed,
    simulator_records,
    worker_config,
)

from streams.local.broker import EmbeddedBroker, free_port
from streams.local.supervisor import WorkerProcess


@dataclass(frozen=True)
class Window:
    records: float
    seconds: float
    worker_cpu: float
    broker_cpu: float
    #: CPU seconds of the whole machine (every process), same interval.
    machine_cpu: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds

    @property
    def cores(self) -> float:
        return (self.worker_cpu + self.broker_cpu) / self.seconds

    @property
    def machine_cores(self) -> float:
        return self.machine_cpu / self.seconds


@dataclass(frozen=True)
class _Poll:
    at: float
    counts: tuple[float, ...]
    worker_cpu: float
    broker_cpu: float
    machine_cpu: float


def _poll(workers: list[WorkerProcess], broker_pid: int | None) -> _Poll:
    before = time.monotonic()
    counts = tuple(processed(w) or 0.0 for w in workers)
    at = (before + time.monotonic()) / 2
    workers_cpu = sum(sum(cpu_times(w.pid)) for w in workers)
    return _Poll(at, counts, workers_cpu, sum(cpu_times(broker_pid)), machine_cpu_seconds())


def measure_group(
    workers: list[WorkerProcess], stream: Stream, broker_pid: int | None, time_limit: float = 900
) -> Window:
    """Records/s of *workers* together while all of them are busy."""
    deadline = time.monotonic() + time_limit
    polls = [_poll(workers, broker_pid)]
    while sum(polls[-1].counts) < stream.records:
        if time.monotonic() > deadline:
            raise SystemExit(
                f"{sum(polls[-1].counts):,.0f} of {stream.records:,} records after {time_limit}s"
            )
        time.sleep(1.0)
        polls.append(_poll(workers, broker_pid))
    busy = [
        i
        for i in range(1, len(polls))
        if all(now > then for now, then in zip(polls[i].counts, polls[i - 1].counts, strict=True))
    ]
    if len(busy) < 3:
        raise SystemExit("the workers were busy together for under 3 s: use more events")
    # From the poll before the first busy interval to the end of the last one.
    first, last = polls[busy[0] - 1], polls[busy[-1]]
    return Window(
        sum(last.counts) - sum(first.counts),
        last.at - first.at,
        last.worker_cpu - first.worker_cpu,
        last.broker_cpu - first.broker_cpu,
        last.machine_cpu - first.machine_cpu,
    )


def one(records: list[bytes], stream: Stream, count: int) -> Window:
    with tempfile.TemporaryDirectory(prefix="tp-bench-") as tmp, EmbeddedBroker() as broker:
        preproduce(broker.bootstrap, records)
        workers = [
            WorkerProcess(broker.url, free_port(), Path(tmp) / f"worker-{n}").start() for n in range(count)
        ]
        try:
            return measure_group(workers, stream, broker.pid)
        finally:
            for worker in workers:
                worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    args = parser.parse_args()
    results: dict[int, list[Window]] = {1: [], 2: []}
    for number in range(args.runs):
        records, stream = simulator_records(args.events, seed=number + 1)
        for count in (1, 2) if number % 2 == 0 else (2, 1):
            window = one(records, stream, count)
            results[count].append(window)
            print(
                f"run {number + 1}, {count} worker(s): {window.rate:,.0f} records/s over {window.seconds:.0f} s;"
                f" workers {window.worker_cpu / window.records * 1e6:.0f} µs CPU/record, broker"
                f" {window.broker_cpu / window.records * 1e6:.0f} µs; {window.cores:.2f} cores in use"
                f" (machine: {window.machine_cores:.2f} of {os.cpu_count()})",
                flush=True,
            )
    rate = {c: statistics.median(w.rate for w in ws) for c, ws in results.items()}
    cores = {c: statistics.median(w.cores for w in ws) for c, ws in results.items()}
    machine = {c: statistics.median(w.machine_cores for w in ws) for c, ws in results.items()}
    cpu = {c: statistics.median(w.worker_cpu / w.records * 1e6 for w in ws) for c, ws in results.items()}
    speedups = [two.rate / one.rate for one, two in zip(results[1], results[2], strict=True)]
    text = (
        f"1 worker {rate[1]:,.0f} records/s ({cpu[1]:.0f} µs CPU/record; workers + broker {cores[1]:.2f} cores,"
        f" machine {machine[1]:.2f} of {os.cpu_count()}); 2 workers {rate[2]:,.0f} records/s ({cpu[2]:.0f}"
        f" µs/record; {cores[2]:.2f} cores, machine {machine[2]:.2f});"
        f" speed-up {statistics.median(speedups):.2f}x (runs {', '.join(f'{s:.2f}' for s in speedups)});"
        f" medians of {args.runs}"
    )
    print(text)
    if not args.no_record:
        record(
            "scale-out",
            f"{args.events:,} simulator records pre-produced to touchpoints (4 partitions); 1 vs 2 workers"
            f", same group, while all are busy; {worker_config()}",
            text,
            f"python bench/scale_out.py --events {args.events} --runs {args.runs}",
        )


if __name__ == "__main__":
    main()
