"""``touchpoint replay``: a JSONL file through the worker's processing core, offline."""

from __future__ import annotations

import errno
import os
import shutil
from collections import Counter
from datetime import datetime
from pathlib import Path

import click

from streams.cli import progress
from streams.cli.common import CONFIG_OPTION, MODEL_OPTION, load_rules, load_settings, os_error
from streams.settings import SettingsError


@click.command("replay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output directory. The files appear in it when the replay has finished; until then they are written "
    "in a working folder inside it, which takes several times the input's size at its peak; a replay that "
    "stops (an error, Ctrl-C, SIGTERM) leaves it as it was, and the next replay removes the working folder "
    "of one that was killed. One replay at a time writes into it.",
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
    from streams.replay import InputIsAnOutput, ProcessEnded, read_erasures, replay
    from streams.replay.states import OBJECTS
    from streams.replay.workdir import OutputFolderBusy, OutputInTheWay, left_behind_line, reclaim

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
    processes = min(processes or _cores(), settings.partitions)
    # Before the room is weighed: what a killed replay left there is room this one has.
    for folder in reclaim(out_dir):
        click.echo(left_behind_line(folder), err=True)
    _warn_if_short_of_room(file, out_dir, processes)
    stages = progress.StageProgress(
        {
            "unpacking": f"unpacking {name}",
            "reading": f"reading {name}",
            "applying": "applying touchpoints",
            "writing": "writing the outputs",
        }
    )
    try:
        summary = replay(
            file,
            out_dir,
            decoder,
            JourneyTracker(rules, salt),
            as_of.date() if as_of else None,
            progress=stages if progress.interactive() else None,
            processes=processes,
            partitions=settings.partitions,
            erasures=erasures,
            objects=objects or OBJECTS,
        )
    except (RecordFileError, InputIsAnOutput, OutputFolderBusy, OutputInTheWay) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(_stopped_by(exc, file, out_dir, processes)) from None
    except (MemoryError, ProcessEnded) as exc:
        raise click.ClickException(_out_of_memory(exc, out_dir)) from None
    finally:
        stages.close()
    click.echo(summary.describe())
    if summary.records and not summary.accepted and not summary.after_as_of:
        click.echo(_nothing_accepted(name, summary.records, summary.rejected), err=True)
    if summary.identified and not settings.identity_salt:
        click.echo(
            "note: TOUCHPOINT_IDENTITY_SALT is not set, so identifiers were hashed with the public development "
            "key, which anyone can reverse: set the workers' key before sharing these files",
            err=True,
        )


def _nothing_accepted(name: str, records: int, rejected: Counter[str]) -> str:
    """The warning of a replay that refused every record: most likely a file of another kind than it reads."""
    reasons = ", ".join(f"{reason} {count:,}" for reason, count in rejected.most_common(3))
    more = ", …" if len(rejected) > 3 else ""
    every = "the record" if records == 1 else f"all {records:,} records"
    return (
        f"warning: {every} of {name} refused ({reasons}{more}), nothing applied: a replay reads touchpoint "
        "events as JSON, one object per line, in UTF-8, each line ending in LF"
    )


def _stopped_by(error: OSError, file: Path, out_dir: Path, processes: int) -> str:
    """What a replay stopped by *error* tells its user: what ran out or failed, where, and what it left."""
    from streams.files import display_name
    from streams.replay import room_needed

    left = _nothing_written(out_dir)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        need = room_needed(file, processes)
        wanted = f", and a replay of {display_name(file)} takes about {_size(need)} there" if need else ""
        return f"{out_dir}: no space left on its device ({_size(_free(out_dir))} free now{wanted}). {left}"
    return f"{os_error(error)}. {left}"


def _out_of_memory(error: BaseException, out_dir: Path) -> str:
    """What a replay that ran out of memory, or lost a process (killed, most often for memory), tells its user."""
    from streams.replay import ProcessEnded

    less = "fewer --processes, or a smaller --states-in-memory, take less memory"
    left = _nothing_written(out_dir)
    if isinstance(error, ProcessEnded):
        why = (
            f" (on Linux the kernel kills a process this way when memory runs out: {less})"
            if error.killed
            else ""
        )
        return f"{error}{why}. {left}"
    return f"out of memory: {less}. {left}"


def _nothing_written(out_dir: Path) -> str:
    return f"Nothing was written to {out_dir}: any earlier replay's files there are as they were."


def _warn_if_short_of_room(file: Path, out_dir: Path, processes: int) -> None:
    from streams.files import display_name
    from streams.replay import room_needed

    need = room_needed(file, processes)
    free = _free(out_dir)
    if need is not None and free is not None and need > free:
        click.echo(
            f"warning: {out_dir} has {_size(free)} free, and a replay of {display_name(file)} in {processes} "
            f"process{'es' if processes > 1 else ''} takes about {_size(need)} there at its peak (working files, "
            "then the outputs): if the room runs out it stops, and leaves the folder as it was",
            err=True,
        )


def _free(folder: Path) -> int | None:
    """Bytes free on the device *folder* is or will be on (its nearest existing parent's)."""
    for candidate in (folder, *folder.absolute().parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return None
    return None


def _size(count: int | None) -> str:
    if count is None:
        return "an unknown amount"
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def _cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
