"""``touchpoint produce`` and ``touchpoint tail``: records onto a topic, and read back from topics."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

import click
import orjson

from agents.lines import Overlong
from streams import topics
from streams.cli import progress
from streams.cli.common import (
    BROKER_HELP,
    client_identity_key,
    connection_of,
    kafka_options,
    load_settings,
    require_broker,
    run_async,
)
from streams.cli.terminal import safe
from streams.kafka import UNCONFIRMED, consume, produce


@click.command("produce")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--broker", default=None, help=BROKER_HELP)
@click.option("--topic", default=topics.RAW, show_default=True, help="Topic to send the lines to.")
@click.option(
    "--rate", type=click.FloatRange(min=0.1), default=None, help="Events/s (default: as fast as possible)."
)
@kafka_options
def produce_file(
    file: Path, broker: str | None, topic: str, rate: float | None, kafka: dict[str, Any]
) -> None:
    """Send each line of FILE (JSONL) as one record to the touchpoints topic.

    FILE may be compressed with gzip, bzip2, xz or zstd (told by its first bytes), or - for the
    standard input: its lines are sent.
    Each record is keyed by its customer: the customer_id, or the customer key ingest derives from
    its identifiers (with the workers' TOUCHPOINT_IDENTITY_SALT when set), never a raw identifier.
    """
    from streams.files import STDIN, RecordFileError, display_name, read_records

    settings = load_settings(broker=broker, **kafka)
    bootstrap = connection_of(settings)
    identity_key = client_identity_key(settings)
    try:
        size = 0 if file == STDIN else file.stat().st_size  # 0: unknown, no bar
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror}") from None
    lines = LinesNotSent()
    with progress.bar(size, f"producing {display_name(file)}") as bar:
        started = time.monotonic()
        try:
            # The bar counts the file's bytes as its lines are read to be sent (a compressed file's own).
            sent = run_async(
                lambda stop: produce(
                    bootstrap,
                    topic,
                    lines.records(read_records(file, on_read=bar, on_overlong=lines.overlong)),
                    rate=rate,
                    stop=stop,
                    identity_key=identity_key,
                    on_too_large=lines.too_large,
                )
            )
        except RecordFileError as exc:
            raise click.ClickException(str(exc)) from None
    elapsed = time.monotonic() - started
    click.echo(
        f"sent {sent:,} records to {topic} in {elapsed:.1f}s ({sent / max(elapsed, 1e-9):,.0f}/s)", err=True
    )
    if lines.refused:
        raise click.ClickException(lines.describe_refused())


class LinesNotSent:
    """The lines of a file whose records Kafka refused as too large: ``produce`` tells a record by its position
    among those it took, always one of the last ``UNCONFIRMED``, whose lines are kept here."""

    #: Lines named in the error; the rest are counted.
    NAMED: Final = 10

    def __init__(self) -> None:
        self._taken = 0
        #: The line numbers (from 0) of the last records taken, the latest last.
        self._lines: deque[int] = deque(maxlen=UNCONFIRMED)
        #: (line number from 1, bytes) of each record not sent.
        self.refused: list[tuple[int, int]] = []

    def records(self, numbered: Iterable[tuple[int, bytes]]) -> Iterator[bytes]:
        for number, raw in numbered:
            self._lines.append(number)
            self._taken += 1
            yield raw

    def overlong(self, number: int, line: Overlong) -> None:
        """A line too long to be read whole, and so to be sent: never taken."""
        self.refused.append((number + 1, line.size))

    def too_large(self, position: int, size: int) -> None:
        line = self._lines[position - (self._taken - len(self._lines))]
        self.refused.append((line + 1, size))

    def describe_refused(self) -> str:
        named = ", ".join(
            f"line {line:,} ({size:,} bytes)" for line, size in sorted(self.refused)[: self.NAMED]
        )
        more = len(self.refused) - self.NAMED
        rest = f" and {more:,} more" if more > 0 else ""
        count = len(self.refused)
        return (
            f"{count:,} record{'s were' if count > 1 else ' was'} not sent, larger than Kafka takes in one "
            f"record: {named}{rest}"
        )


# ----------------------------------------------------------------------------- tail


@click.command()
@click.argument("topic", nargs=-1, required=True)
@click.option("--broker", default=None, help=BROKER_HELP)
@click.option(
    "--from-beginning/--from-end",
    default=True,
    show_default=True,
    help="Start at the oldest record kept, or only show records that arrive from now on.",
)
@click.option("--count", "limit", type=click.IntRange(1), default=None, help="Stop after N records.")
@click.option("--idle-timeout", type=float, default=None, help="Stop after N seconds without records.")
@click.option("--pretty/--compact", default=False, help="Indent JSON values.")
@kafka_options
def tail(
    topic: tuple[str, ...],
    broker: str | None,
    from_beginning: bool,
    limit: int | None,
    idle_timeout: float | None,
    pretty: bool,
    kafka: dict[str, Any],
) -> None:
    """Follow TOPIC(s) and print each record: topic, partition@offset, key, value."""
    bootstrap = require_broker(broker, kafka)

    async def follow(stop: asyncio.Event) -> None:
        shown = 0
        async for record in consume(
            bootstrap, topic, from_beginning=from_beginning, idle_timeout=idle_timeout, stop=stop
        ):
            click.echo(format_record(record, pretty))
            shown += 1
            if limit is not None and shown >= limit:
                return

    with contextlib.suppress(BrokenPipeError):
        run_async(follow)


def format_record(record: Any, pretty: bool) -> str:
    """One record as a line (or an indented block): whatever its bytes, nothing that drives a terminal."""
    key = record.key.decode("utf-8", "replace") if record.key is not None else "-"
    header = safe(f"{record.topic} [{record.partition}]@{record.offset} key={key}")
    if record.value is None:
        return f"{header}  (null)"
    try:
        value = orjson.loads(record.value)
        body = safe(
            orjson.dumps(value, option=orjson.OPT_INDENT_2 if pretty else 0).decode(), keep_newlines=True
        )
    except orjson.JSONDecodeError:
        body = repr(record.value[:500])
    return f"{header}\n{body}" if pretty else f"{header}  {body}"
