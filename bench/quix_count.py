"""The Quix Streams reference: records counted per customer in Quix's RocksDB state, each count sent on.

    bench/.venv-quix/bin/python bench/quix_count.py --broker 127.0.0.1:9092 --state-dir /tmp/quix --count 50000

Runs in a virtualenv of its own with quixstreams from the package index (bench/references.py
makes it on first use), so it imports nothing of the project. It reads the raw `touchpoints`
topic (keyed by customer) from the earliest offset and, per record, does what the naive Faust
app does: orjson.loads (malformed records counted all the same) and the customer's count + 1,
here in Quix's RocksDB state (changelog topic on, Quix's defaults otherwise). Each new count
goes to the output topic, stamped with the time it was processed, so its broker timestamps
time the app as the outputs of the other benchmarks do; with --count N it stops by itself
after N counts. The only setting changed from Quix's defaults is the fetch wait, set to the
worker's: the embedded broker holds every fetch for its full length.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import orjson
from quixstreams import Application, State
from quixstreams.models import TopicConfig

#: What the raw topic is named (streams.topics.RAW; not imported: quixstreams' own virtualenv).
RAW = "touchpoints"


def count(value: bytes, state: State) -> int:
    try:  # noqa: SIM105 - per record: cheaper than contextlib.suppress
        orjson.loads(value)
    except orjson.JSONDecodeError:
        pass
    seen: int = state.get("count", 0) + 1
    state.set("count", seen)
    return seen


def processed_at(value: Any, key: Any, timestamp: int, headers: Any) -> int:
    """The output's timestamp: when the count was made (Quix would copy the input's otherwise)."""
    return int(time.time() * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--broker", required=True, help="bootstrap address, host:port")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--group", default="quix-count", help="consumer group")
    parser.add_argument(
        "--output",
        default="quix.counts",
        help="where the counts go: key the customer, value its count (JSON)",
    )
    parser.add_argument("--partitions", type=int, default=4, help="of the output topic if Quix creates it")
    parser.add_argument("--fetch-max-wait-ms", type=int, default=100)
    parser.add_argument(
        "--count", type=int, default=0, help="stop after this many counts (0: run until stopped)"
    )
    args = parser.parse_args()
    app = Application(
        broker_address=args.broker,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        consumer_extra_config={"fetch.wait.max.ms": args.fetch_max_wait_ms},
        loglevel="WARNING",
    )
    source = app.topic(RAW, key_deserializer="bytes", value_deserializer="bytes")
    output = app.topic(
        args.output,
        key_serializer="bytes",
        value_serializer="json",
        config=TopicConfig(num_partitions=args.partitions, replication_factor=1),
    )
    # One chain, reassigned at each step: Quix runs a step whose result is dropped as a branch.
    counts = app.dataframe(source)
    counts = counts.apply(count, stateful=True)
    counts = counts.set_timestamp(processed_at)
    counts = counts.to_topic(output)
    app.run(count=args.count, collect=False)


if __name__ == "__main__":
    main()
