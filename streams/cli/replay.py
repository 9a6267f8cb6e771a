"""``touchpoint replay``: a JSONL file through the worker's processing core, offline."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import click

from streams.cli import progress
from streams.cli.common import CONFIG_OPTION, MODEL_OPTION, load_rules, load_settings
from streams.settings import SettingsError


@click.command("replay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output directory.",
)
@click.option(
    "--as-of",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="State at the end of this day: later touchpoints are not applied; models read on this day.",
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=None,
    help="Processes to share the work (default: one per core, at most one per partition). "
    "The output is the same with any number.",
)
@click.option(
    "--states-in-memory",
    "objects",
    type=click.IntRange(min=1),
    default=None,
    help="States each process keeps ready in memory, customers' and identifiers' alike, the most recently "
    "touched (default: 32,768); every other one is kept encoded, a few hundred bytes instead of some "
    "10 KB, and decoded when touched again. More is faster where customers come back often, fewer "
    "takes less memory; the output is the same with any number.",
)
@click.option(
    "--erasures",
    "erasures_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Erasure requests or privacy.erasures records (JSONL) to honour: nothing about an erased "
    "customer up to their erasure is written.",
)
@CONFIG_OPTION
@MODEL_OPTION
def replay_file(
    file: Path,
    out_dir: Path,
    as_of: datetime | None,
    processes: int | None,
    objects: int | None,
    erasures_file: Path | None,
    config: Path | None,
    model: Path | None,
) -> None:
    """Process FILE (JSONL) offline, no broker, in event-time order; one JSONL per output topic in --out.

    FILE may be compressed with gzip, bzip2, xz or zstd (told by its first bytes), or - for the
    standard input: it is then written out into a working folder in --out first, which needs the
    room its lines take.

    Also writes customers.jsonl: each customer's stage, value and model figures (P(alive), CLV …).
    Customers are spread over the worker's partitions (TOUCHPOINT_PARTITIONS), each with its own
    clock, as in the live worker.
    Identifiers appear in the output only as keyed hashes (TOUCHPOINT_IDENTITY_SALT, as the workers').
    """
    from agents.ingest.decode import TouchpointDecoder
    from agents.journey.track import JourneyTracker
    from streams.files import RecordFileError, display_name
    from streams.replay import read_erasures, replay
    from streams.replay.states import OBJECTS

    settings = load_settings(config=config, model=model)
    rules = load_rules(settings.config, settings.model)
    try:
        salt = settings.identity_key
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        erasures = read_erasures(erasures_file) if erasures_file else []
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    decoder = TouchpointDecoder(
        identity_salt=salt, max_bytes=settings.max_event_bytes, identity=rules.identity
    )
    name = display_name(file)
    stages = progress.StageProgress(
        {"unpacking": f"unpacking {name}", "reading": f"reading {name}", "applying": "applying touchpoints"}
    )
    try:
        summary = replay(
            file,
            out_dir,
            decoder,
            JourneyTracker(rules, salt),
            as_of.date() if as_of else None,
            progress=stages if progress.interactive() else None,
            processes=processes or _cores(),
            partitions=settings.partitions,
            erasures=erasures,
            objects=objects or OBJECTS,
        )
    except RecordFileError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or file}: {exc.strerror}") from None
    finally:
        stages.close()
    click.echo(summary.describe())
    if summary.identified and not settings.identity_salt:
        click.echo(
            "note: TOUCHPOINT_IDENTITY_SALT is not set, so identifiers were hashed with the public development "
            "key, which anyone can reverse: set the workers' key before sharing these files",
            err=True,
        )


def _cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
