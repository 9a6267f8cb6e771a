"""Pipeline throughput beside its references, in the same run, on the same pre-produced stream.

    .venv/bin/python bench/pipeline_vs_references.py --events 50000 --runs 3

Each run: a fresh embedded broker; --events simulator records (1 % malformed, duplicates
included, --events / 10 customers unless --customers says) produced to the raw `touchpoints`
topic, keyed by customer; then, one after the other on that topic:

* ceiling: an aiokafka consumer, getmany + orjson.loads (bench/references.py);
* naive: the one-table Faust app (bench/naive_faust.py), its own process, with the worker's
  Faust settings and Worker class (so the ratio compares work done, not configuration);
  with --plain-faust also as plain Faust runs it (faust.Worker, producer linger 0);
* quix (unless --no-quix): Quix Streams (bench/quix_count.py), its own process in its own
  virtualenv (bench/.venv-quix, made on first use with quixstreams 3.x from the package index),
  counting records per customer in its RocksDB state and sending each count to an output topic;
* with --journey-only, on a broker of its own: the worker on ingest's output (the accepted
  records pre-produced to `touchpoints.by-customer`), which prices the ingest hop;
* pipeline: the product, one worker (ingest → journey → all detectors → every output).

Each is timed from its first processed record to its last (start-up excluded: the worker's and
the naive app's own counters are polled; Quix by the broker timestamps of its first count and
of its last count or state write, its CPU sampled every 20 ms), with the CPU time its process
spent meanwhile. The order of naive, pipeline and quix rotates between runs. The raw topic is
created with explicit retention configs, which Quix needs on the embedded broker
(bench/references.py). Reported: medians of the rates and of the per-run ratios pipeline/naive,
pipeline/ceiling, pipeline/quix and naive/quix. After the last run the topics are read back:
changelog records and output records written per raw record, and the state bytes per customer.
They are read while the worker still runs, so they may or may not include what its wall-clock
sweep fires once the stream has been quiet for `deadlines.quiet_seconds` (2 s): every deadline up to
today, since the simulator's events are dated months back. Transitions and alerts per raw record
read 0.15 and 0.10 without that sweep, 0.23 and 0.21 with it; the rates do not depend on it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from common import record
from harness import (
    CHANGELOG,
    Span,
    Stream,
    accepted,
    latest_values,
    measure_worker,
    percentile,
    preproduce,
    preproduce_keyed,
    simulator_records,
    topic_sizes,
    worker_config,
)
from references import QUIX_TOPIC_CONFIGS, ceiling, naive, quix, quix_python

from agents.domain.state import CustomerState
from streams import topics
from streams.local.broker import EmbeddedBroker, free_port
from streams.local.supervisor import WorkerProcess
from streams.settings import Settings

#: Quix Streams, per-customer count in its state store, measured when issue 8 was filed (for --no-quix).
QUIX_STREAMS = 34_600


@dataclass
class Run:
    ceiling: Span
    naive: Span
    pipeline: Span
    quix: Span | None = None
    #: Changelog records Quix wrote over the run (its state is written per checkpoint, not per record).
    quix_changelog: int = 0
    tableless: Span | None = None
    plain: Span | None = None
    journey: Span | None = None
    writes: dict[str, tuple[int, int]] = field(default_factory=dict)
    states: dict[bytes, bytes] = field(default_factory=dict)


def pipeline(broker: EmbeddedBroker, stream: Stream, workdir: Path) -> tuple[Span, WorkerProcess]:
    worker = WorkerProcess(broker.url, free_port(), workdir / "worker").start()
    try:
        return measure_worker(worker, stream, broker.pid), worker
    except BaseException:
        worker.stop()
        raise


def one_run(
    events: int,
    seed: int,
    order: list[str],
    read_back: bool,
    tableless: bool,
    plain: bool,
    journey: bool,
    customers: int | None = None,
) -> tuple[Run, Stream]:
    records, stream = simulator_records(events, seed, customers)
    with tempfile.TemporaryDirectory(prefix="tp-bench-") as tmp, EmbeddedBroker() as broker:
        workdir = Path(tmp)
        preproduce(broker.bootstrap, records, configs=QUIX_TOPIC_CONFIGS)
        top = ceiling(broker.bootstrap, stream)
        print(f"  ceiling  {top.rate:>9,.0f} records/s  {top.cpu_us:6.1f} µs CPU/record", flush=True)
        spans: dict[str, Span] = {}
        writes: dict[str, tuple[int, int]] = {}
        states: dict[bytes, bytes] = {}
        quix_changelog = 0
        for name in order + (["tableless"] if tableless else []) + (["plain"] if plain else []):
            if name == "naive":
                spans[name] = naive(broker.url, stream, workdir / "naive", broker.pid)
            elif name == "quix":
                spans[name], quix_changelog = quix(
                    broker.bootstrap, stream, workdir / "quix", broker.pid, partitions=Settings().partitions
                )
            elif name == "plain":
                spans[name] = naive(
                    broker.url,
                    stream,
                    workdir / "plain",
                    broker.pid,
                    extra_args=["--plain-faust", "--app-id", "plain"],
                )
            elif name == "tableless":
                spans[name] = naive(broker.url, stream, workdir / "tableless", broker.pid, table=False)
            else:
                spans[name], worker = pipeline(broker, stream, workdir)
                try:
                    if read_back:
                        outputs = [n for n in topics.ALL if n != topics.RAW] + [CHANGELOG]
                        writes = asyncio.run(topic_sizes(broker.bootstrap, outputs))
                        states = asyncio.run(latest_values(broker.bootstrap, CHANGELOG))
                finally:
                    worker.stop()
            span = spans[name]
            print(
                f"  {name:<9} {span.rate:>9,.0f} records/s  {span.cpu_us:6.1f} µs CPU/record"
                f"  (broker {span.other_cpu_us:5.1f} µs/record)",
                flush=True,
            )
    if journey:
        spans["journey"] = journey_only(records, stream)
        print(
            f"  journey  {spans['journey'].rate:>9,.0f} records/s  {spans['journey'].cpu_us:6.1f} µs CPU/record"
        )
    run = Run(
        ceiling=top,
        naive=spans["naive"],
        pipeline=spans["pipeline"],
        quix=spans.get("quix"),
        quix_changelog=quix_changelog,
        tableless=spans.get("tableless"),
        plain=spans.get("plain"),
        journey=spans.get("journey"),
        writes=writes,
        states=states,
    )
    return run, stream


def journey_only(records: list[bytes], stream: Stream) -> Span:
    """The worker on ingest's output instead of raw records: by-customer pre-produced, ingest idle."""
    pairs = accepted(records)
    with tempfile.TemporaryDirectory(prefix="tp-bench-") as tmp, EmbeddedBroker() as broker:
        preproduce_keyed(broker.bootstrap, topics.BY_CUSTOMER, pairs)
        worker = WorkerProcess(broker.url, free_port(), Path(tmp) / "worker").start()
        try:
            return measure_worker(worker, stream, broker.pid, expected=len(pairs))
        finally:
            worker.stop()


def _writes_text(run: Run, stream: Stream) -> str:
    changelog = run.writes.get(CHANGELOG, (0, 0))
    alerts = sum(c for t, (c, _) in run.writes.items() if t.startswith("alerts.") and t != topics.ACTIONS)
    per = {
        "by-customer": run.writes.get(topics.BY_CUSTOMER, (0, 0))[0],
        "enriched": run.writes.get(topics.ENRICHED, (0, 0))[0],
        "transitions": run.writes.get(topics.TRANSITIONS, (0, 0))[0],
        "alerts": alerts,
        "dead-letter": run.writes.get(topics.DEAD_LETTER, (0, 0))[0],
    }
    sends = sum(per.values()) + changelog[0]
    sizes = sorted(len(v) for v in run.states.values())
    around_50 = sorted(len(v) for v in run.states.values() if 45 <= CustomerState.decode(v).events <= 55)
    return (
        f"per applied event: {changelog[0] / stream.applied:.2f} changelog records"
        f" ({changelog[1] / stream.applied:,.0f} B); per raw record: {sends / stream.records:.2f} records sent ("
        + ", ".join(f"{k} {v / stream.records:.2f}" for k, v in per.items())
        + f", changelog {changelog[0] / stream.records:.2f}); state: {len(sizes):,} customers, median"
        f" {percentile(sizes, 0.5):.0f} B, p90 {percentile(sizes, 0.9):.0f} B, max {sizes[-1] if sizes else 0} B;"
        f" 45-55 touchpoints ({len(around_50)}): median {percentile(around_50, 0.5):.0f} B"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--customers",
        type=int,
        default=None,
        help="customers in the stream (default: --events / 10); fewer keep every state in the CPU's caches",
    )
    parser.add_argument(
        "--tableless", action="store_true", help="also run the naive app without its table (after the others)"
    )
    parser.add_argument(
        "--plain-faust",
        action="store_true",
        help="also run the naive app as plain Faust runs it (faust.Worker, linger 0), after the others",
    )
    parser.add_argument(
        "--journey-only",
        action="store_true",
        help="also run the worker on by-customer pre-produced (ingest idle), on its own broker: the hop's cost",
    )
    parser.add_argument(
        "--quix",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run Quix Streams' per-customer count beside the others (default: on; its virtualenv is made on first use)",
    )
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    args = parser.parse_args()
    quix_version = quix_python()[1] if args.quix else ""
    runs: list[Run] = []
    stream: Stream | None = None
    contenders = ["naive", "pipeline"] + (["quix"] if args.quix else [])
    for number in range(args.runs):
        print(f"run {number + 1} of {args.runs}", flush=True)
        # Each goes first, middle and last in turn, so drift over a run (a busier broker, a warmer
        # machine) does not favour one of them.
        shift = number % len(contenders)
        run, stream = one_run(
            args.events,
            seed=number + 1,
            order=contenders[shift:] + contenders[:shift],
            read_back=number == args.runs - 1,
            tableless=args.tableless,
            plain=args.plain_faust,
            journey=args.journey_only,
            customers=args.customers,
        )
        runs.append(run)
    assert stream is not None
    rate = {k: statistics.median(getattr(r, k).rate for r in runs) for k in ("ceiling", "naive", "pipeline")}
    cpu = {k: statistics.median(getattr(r, k).cpu_us for r in runs) for k in ("ceiling", "naive", "pipeline")}
    vs_naive = [r.pipeline.rate / r.naive.rate for r in runs]
    vs_ceiling = [r.pipeline.rate / r.ceiling.rate for r in runs]
    summary = (
        f"pipeline {rate['pipeline']:,.0f} records/s ({cpu['pipeline']:.0f} µs CPU/record); naive one-table Faust"
        f" {rate['naive']:,.0f}/s ({cpu['naive']:.0f} µs); aiokafka+orjson ceiling {rate['ceiling']:,.0f}/s"
        f" ({cpu['ceiling']:.1f} µs); pipeline/naive {statistics.median(vs_naive):.2f}x"
        f" (runs {', '.join(f'{v:.2f}' for v in vs_naive)}), pipeline/ceiling"
        f" {statistics.median(vs_ceiling):.3f}x; medians of {args.runs}"
    )
    if args.quix:
        quixes = [r.quix for r in runs if r.quix is not None]
        vs_quix = [r.pipeline.rate / r.quix.rate for r in runs if r.quix is not None]
        naive_vs_quix = [r.naive.rate / r.quix.rate for r in runs if r.quix is not None]
        summary += (
            f"; Quix Streams {quix_version} (count per customer in RocksDB state, each count sent,"
            f" {statistics.median(r.quix_changelog for r in runs) / stream.records:.2f} changelog records per record)"
            f" {statistics.median(s.rate for s in quixes):,.0f}/s ({statistics.median(s.cpu_us for s in quixes):.0f} µs),"
            f" pipeline/quix {statistics.median(vs_quix):.3f}x (runs {', '.join(f'{v:.3f}' for v in vs_quix)}),"
            f" naive/quix {statistics.median(naive_vs_quix):.2f}x (runs {', '.join(f'{v:.2f}' for v in naive_vs_quix)})"
        )
    else:
        summary += f"; for context Quix Streams {QUIX_STREAMS:,}/s (issue 8, not run here)"
    if args.plain_faust:
        plain = [r.plain for r in runs if r.plain is not None]
        vs_plain = [r.pipeline.rate / r.plain.rate for r in runs if r.plain is not None]
        summary += (
            f"; naive as plain Faust runs it (faust.Worker, linger 0) {statistics.median(s.rate for s in plain):,.0f}/s"
            f" ({statistics.median(s.cpu_us for s in plain):.0f} µs), pipeline/plain"
            f" {statistics.median(vs_plain):.2f}x"
        )
    if args.journey_only:
        journeys = [r.journey for r in runs if r.journey is not None]
        summary += (
            f"; the worker on pre-keyed by-customer records (ingest idle)"
            f" {statistics.median(s.rate for s in journeys):,.0f}/s"
            f" ({statistics.median(s.cpu_us for s in journeys):.0f} µs per record)"
        )
    if args.tableless:
        spans = [r.tableless for r in runs if r.tableless is not None]
        summary += (
            f"; naive without its table {statistics.median(s.rate for s in spans):,.0f}/s"
            f" ({statistics.median(s.cpu_us for s in spans):.0f} µs)"
        )
    writes = _writes_text(runs[-1], stream)
    print(summary)
    print(writes)
    if not args.no_record:
        command = f"python bench/pipeline_vs_references.py --events {args.events} --runs {args.runs}"
        command += " --tableless" if args.tableless else ""
        command += " --plain-faust" if args.plain_faust else ""
        command += " --journey-only" if args.journey_only else ""
        command += f" --customers {args.customers}" if args.customers else ""
        command += "" if args.quix else " --no-quix"
        workload = (
            f"{args.events:,} simulator records ({stream.mean_bytes:.0f} B mean, {stream.customers:,} customers,"
            f" {stream.applied:,} applied), pre-produced to touchpoints, 1 worker; {worker_config()}"
        )
        record("pipeline vs references", workload, summary, command)
        record(
            "pipeline writes and state",
            f"the last run's topics after {args.events:,} records",
            writes,
            command,
        )


if __name__ == "__main__":
    main()
