"""The price of one message in Faust: a consume, a send, a table write, with and without batching.

    .venv/bin/python bench/send_cost.py --events 50000 --runs 2

The pipeline reads every record twice (raw, then by-customer) and sends about 3.7 records
per raw record (by-customer, enriched, changelog, transitions, alerts; see
bench/pipeline_vs_references.py). This prices those operations one by one with
bench/naive_faust.py on one broker and one pre-produced stream (--events simulator
records on `touchpoints`); each variant is its own process and consumer group, measured
from its first record to its last, in rotating order:

* consume only: no table, no send (orjson.loads and a count);
* + one send per record: ``await topic.send()``, ``topic.send_soon()``, or a plain
  AIOKafkaProducer (no Faust on the send path);
* + a table write per record (``counts[key] += 1``: one changelog record);

each with the producer's linger at 0 (Faust's default) or 5 ms, forced through Faust's own
environment variable PRODUCER_LINGER. The app runs with the worker's Worker class and settings.

Each variant's cost is its worker CPU per record minus that of "consume only" (medians).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from common import record
from harness import LINGER_5MS, NO_LINGER, Span, hooked_env, preproduce, simulator_records, worker_config
from references import naive

from streams.local.broker import EmbeddedBroker

#: name → (table, naive_faust.py arguments, environment); Faust reads PRODUCER_LINGER (seconds) itself.
VARIANTS: dict[str, tuple[bool, list[str], dict[str, str]]] = {
    "consume only": (False, [], {}),
    "+1 await topic.send(), linger 0": (False, ["--sends", "1", "--send-mode", "await"], NO_LINGER),
    "+1 await topic.send(), linger 5 ms": (False, ["--sends", "1", "--send-mode", "await"], LINGER_5MS),
    "+1 topic.send_soon(), linger 5 ms": (False, ["--sends", "1", "--send-mode", "soon"], LINGER_5MS),
    "+1 plain aiokafka send, linger 0": (False, ["--sends", "1", "--send-mode", "aiokafka"], NO_LINGER),
    "+1 plain aiokafka send, linger 5 ms": (False, ["--sends", "1", "--send-mode", "aiokafka"], LINGER_5MS),
    "+1 table write, linger 0": (True, [], NO_LINGER),
    "+1 table write, linger 5 ms": (True, [], LINGER_5MS),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    args = parser.parse_args()
    records, stream = simulator_records(args.events, seed=1)
    results: dict[str, list[Span]] = {name: [] for name in VARIANTS}
    names = list(VARIANTS)
    with tempfile.TemporaryDirectory(prefix="tp-bench-") as tmp, EmbeddedBroker() as broker:
        preproduce(broker.bootstrap, records)
        for number in range(args.runs):
            shift = number * 3 % len(names)
            for name in names[shift:] + names[:shift]:
                table, extra_args, env = VARIANTS[name]
                app_id = f"naive-{number}-{names.index(name)}"
                span = naive(
                    broker.url,
                    stream,
                    Path(tmp) / app_id,
                    broker.pid,
                    table=table,
                    extra_args=["--app-id", app_id, *extra_args],
                    extra_env=hooked_env(env),
                )
                results[name].append(span)
                print(
                    f"run {number + 1}: {name:<38} {span.rate:>7,.0f} records/s {span.cpu_us:6.0f} µs CPU/record"
                    f" (broker {span.other_cpu_us:4.0f} µs)",
                    flush=True,
                )
    cpu = {name: statistics.median(s.cpu_us for s in spans) for name, spans in results.items()}
    broker_cpu = {name: statistics.median(s.other_cpu_us for s in spans) for name, spans in results.items()}
    base = cpu["consume only"]
    text = f"consume only {base:.0f} µs CPU/record; extra per record: " + "; ".join(
        f"{name[1:]} {cpu[name] - base:+.0f} µs (broker {broker_cpu[name]:.0f} µs)"
        for name in names
        if name != "consume only"
    )
    text += f"; medians of {args.runs}"
    print(text)
    if not args.no_record:
        record(
            "send cost (naive Faust app)",
            f"{args.events:,} simulator records pre-produced to touchpoints; one process per variant;"
            f" {worker_config()}",
            text,
            f"python bench/send_cost.py --events {args.events} --runs {args.runs}",
        )


if __name__ == "__main__":
    main()
