"""``touchpoint simulate``: realistic omnichannel traffic to a topic or a JSONL file."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

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

if TYPE_CHECKING:
    from streams.sim import Simulator
    from streams.sim.truth import Situation


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
@click.option(
    "--persons",
    "persons_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write which simulated person made each event (JSONL: event_id, person): the ground truth "
    "of identity resolution, kept out of the events themselves.",
)
@click.option(
    "--truth",
    "truth_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the story situations the traffic contains (customer, situation, when, evidence) as JSONL here.",
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
    persons_path: Path | None,
    truth_path: Path | None,
    broker: str | None,
    topic: str,
    kafka: dict[str, Any],
) -> None:
    """Generate realistic omnichannel traffic to a topic or a JSONL file.

    With --truth, the situations the simulator created on purpose (an after-hours question
    nobody answered, an issue that keeps coming back, a stolen card …) are written beside the
    traffic, for bench/alert_quality.py to score alerts against. Records go to the topic keyed by
    customer (see `touchpoint produce`), never by a raw identifier.
    """
    from streams.sim import SimulationSpec, Simulator, person_name

    spec = SimulationSpec(customers=customers, seed=seed, malformed_share=malformed_share)
    if start is not None:
        spec = SimulationSpec(
            customers=customers, seed=seed, malformed_share=malformed_share, start=start.replace(tzinfo=UTC)
        )
    if events is None and rate is None:
        events = 10_000
    if out_path is not None and broker:
        raise click.UsageError("give either --out or --broker, not both")
    simulator = Simulator(spec)
    witness = _TruthWriter(simulator, truth_path)
    labelled: Iterator[tuple[bytes, str | None]] = (
        (record, None if person is None else person_name(person))
        for record, person in witness.follow(simulator.run_with_persons())
    )
    if events is not None:
        labelled = itertools.islice(labelled, events)
    try:
        with contextlib.ExitStack() as files:
            persons = files.enter_context(persons_path.open("wb")) if persons_path is not None else None
            _emit(labelled, persons, out_path, broker, topic, rate, events, kafka)
    finally:
        witness.close()


def _emit(
    labelled: Iterator[tuple[bytes, str | None]],
    persons: BinaryIO | None,
    out_path: Path | None,
    broker: str | None,
    topic: str,
    rate: float | None,
    events: int | None,
    kafka: dict[str, Any],
) -> None:
    records: Iterator[bytes] = (record for record, _ in labelled)
    if persons is not None:
        records = _noting_persons(labelled, persons)
    if out_path is not None:
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


def _noting_persons(labelled: Iterator[tuple[bytes, str | None]], persons: BinaryIO) -> Iterator[bytes]:
    """The records of *labelled*, writing each valid event's person to *persons* once per event id."""
    import orjson

    seen: set[str] = set()
    for record, person in labelled:
        if person is not None:
            event_id = orjson.loads(record)["event_id"]
            if event_id not in seen:  # a redelivery repeats its original, person included
                seen.add(event_id)
                persons.write(orjson.dumps({"event_id": event_id, "person": person}) + b"\n")
        yield record


class _TruthWriter:
    """Writes the simulator's situations to --truth as the run passes them, and the rest at the end."""

    #: Records between two looks at which situations are settled.
    EVERY = 4096

    def __init__(self, simulator: Simulator, path: Path | None) -> None:
        self._truth = simulator.truth
        self._handle = path.open("wb") if path is not None else None
        self._path = path
        self._last: int | None = None
        self.written = 0

    def follow(self, run: Iterator[tuple[int, bytes, int | None]]) -> Iterator[tuple[bytes, int | None]]:
        """The records of *run* with their persons, noting how far it got; settled situations are written on the way."""
        from streams.sim.truth import SETTLE_MS

        for count, (instant, record, person) in enumerate(run, 1):
            self._last = instant
            yield record, person
            if self._handle is not None and count % self.EVERY == 0:
                self._write(self._truth.take(instant, settled_before=instant - SETTLE_MS))

    def close(self) -> None:
        if self._handle is None:
            return
        if self._last is not None:
            self._write(self._truth.take(self._last))
        self._handle.close()
        click.echo(f"wrote {self.written:,} situations to {self._path}", err=True)

    def _write(self, situations: Iterator[Situation]) -> None:
        assert self._handle is not None
        for situation in situations:
            self._handle.write(situation.encode() + b"\n")
            self.written += 1
