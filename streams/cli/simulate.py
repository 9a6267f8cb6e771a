"""``touchpoint simulate``: realistic omnichannel traffic to a topic or a JSONL file."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from streams import topics
from streams.cli import progress
from streams.cli.common import (
    BROKER_HELP,
    client_identity_key,
    connection_of,
    kafka_options,
    load_settings,
    run_async,
)
from streams.kafka import produce


@click.command()
@click.option(
    "--customers", type=click.IntRange(1), default=1000, show_default=True, help="Simulated customers."
)
@click.option(
    "--events",
    type=click.IntRange(1),
    default=None,
    help="How many records (default 10,000; endless with --rate).",
)
@click.option(
    "--rate", type=click.FloatRange(min=0.1), default=None, help="Events/s (default: as fast as possible)."
)
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same records.")
@click.option(
    "--malformed-share",
    type=click.FloatRange(0, 1),
    default=0.01,
    show_default=True,
    help="Share of deliberately malformed records, to show the dead-letter path.",
)
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="Simulated clock start, UTC (default 2026-01-05, a Monday).",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write JSONL here instead of to a broker.",
)
@click.option("--broker", default=None, help=BROKER_HELP)
@click.option("--topic", default=topics.RAW, show_default=True, help="Topic to send the records to.")
@kafka_options
def simulate(
    customers: int,
    events: int | None,
    rate: float | None,
    seed: int,
    malformed_share: float,
    start: datetime | None,
    out_path: Path | None,
    broker: str | None,
    topic: str,
    kafka: dict[str, Any],
) -> None:
    """Generate realistic omnichannel traffic to a topic or a JSONL file.

    Records go to the topic keyed by customer (see `touchpoint produce`), never by a raw identifier.
    """
    from streams.sim import SimulationSpec, generate

    spec = SimulationSpec(customers=customers, seed=seed, malformed_share=malformed_share)
    if start is not None:
        spec = SimulationSpec(
            customers=customers, seed=seed, malformed_share=malformed_share, start=start.replace(tzinfo=UTC)
        )
    if events is None and rate is None:
        events = 10_000
    records: Iterator[bytes] = generate(spec)
    if events is not None:
        records = itertools.islice(records, events)
    if out_path is not None:
        if broker:
            raise click.UsageError("give either --out or --broker, not both")
        written = 0
        with out_path.open("wb") as handle, progress.bar(events or 0, "simulating") as advance:
            for record in records:
                handle.write(record.replace(b"\n", b" ") + b"\n")  # a record must stay one line
                written += 1
                advance(1)
        click.echo(f"wrote {written:,} records to {out_path}", err=True)
        return
    settings = load_settings(broker=broker, **kafka)
    bootstrap = connection_of(settings)
    identity_key = client_identity_key(settings)
    started = time.monotonic()
    with progress.bar(events or 0, f"sending to {topic}") as advance:
        sent = run_async(
            lambda stop: produce(
                bootstrap,
                topic,
                records,
                rate=rate,
                stop=stop,
                on_sent=lambda _value: advance(1),
                event_time_stamps=True,
                identity_key=identity_key,
            )
        )
    elapsed = time.monotonic() - started
    click.echo(
        f"sent {sent:,} records to {topic} in {elapsed:.1f}s ({sent / max(elapsed, 1e-9):,.0f}/s)", err=True
    )
