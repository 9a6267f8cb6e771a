"""A queue's warning digests in a replay applied by several processes: each process logs, the merge digests.

A digest (agents/alerts/digests.py) gathers the first-response warnings of every partition and is
published once every partition's clock has passed its interval's end. One process applying every
partition calls the coordinator (agents/coordination/coordinator.py) as it goes. Where several
processes share the partitions, none sees every partition's warnings and progress, so each one
logs those calls instead (``SignalLog``): a line of its alerts part holding ``SIGNAL`` and the
coordination record the live partition would send (agents/coordination/progress.py), tagged with
its place in the common order like every other line (``streams.replay.parts``).

Merging the alerts parts by tag puts every call where one process made it, and the live worker's
coordinator applies them there (``merge_alerts``): each digest it publishes is written at the place
of the call that published it, so the file holds the bytes one process writes. The digests feed
nothing back into the partitions, so the processes never wait for each other on their account.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO, Final

from agents.coordination.coordinator import Coordinated, Coordinator
from agents.coordination.progress import Progress, encode_signals
from agents.domain.alert import DueSoon
from streams.replay.parts import READ_EVERY, TAG_BYTES, merged_lines

__all__ = ["SIGNAL", "SignalLog", "merge_alerts"]

#: First byte of a logged call in an alerts part; an alert is a JSON object, so never starts with it.
SIGNAL: Final = b"\x00"

#: Warnings and answers carry no partition on the coordination channel that the coordinator reads.
_ANY_PARTITION: Final = 0


class SignalLog:
    """The coordinator's stand-in in a process applying some of the partitions: logs each call.

    *write* writes one line of the alerts part (``Lines.write`` bound to the alerts file).
    """

    def __init__(self, write: Callable[[bytes], None]) -> None:
        self._write = write

    def due_soon(self, item: DueSoon) -> None:
        for record in encode_signals(_ANY_PARTITION, (item,), (), None):
            self._write(SIGNAL + record)

    def answered(self, item_id: str, at: int) -> None:
        for record in encode_signals(_ANY_PARTITION, (), ((item_id, at),), None):
            self._write(SIGNAL + record)

    def passed(self, progress: Progress) -> Coordinated:
        """Log that *progress.partition*'s clock passed ``progress.until``; nothing is published here.

        The sketches of its buyers are left out: a replay learns its best-customer threshold apart
        from the coordinator, every process's buyers together (``streams.replay.thresholds``).
        """
        bare = Progress(progress.partition, progress.until)
        for record in encode_signals(progress.partition, (), (), bare):
            self._write(SIGNAL + record)
        return Coordinated()


def merge_alerts(
    parts: Iterable[Path], out: BinaryIO, coordinator: Coordinator, read: Callable[[int], None] | None = None
) -> Counter[str]:
    """Append the tagged alerts *parts* to *out* in tag order, applying each logged call to *coordinator*
    where it stands and writing the digests it publishes there; returns the digests' counts by
    ``"type status"``, as the replay's summary counts alerts. *read* as ``parts.merge_parts``'."""
    counts: Counter[str] = Counter()
    count = 0
    with merged_lines(parts) as lines:
        for line in lines:
            count += len(line)
            if count >= READ_EVERY and read is not None:
                read(count)
                count = 0
            body = line[TAG_BYTES:]
            if not body.startswith(SIGNAL):
                out.write(body)
                continue
            for alert in coordinator.apply(body[len(SIGNAL) : -1]).alerts:
                out.write(alert.encode() + b"\n")
                counts[f"{alert.type} {alert.status}"] += 1
    if read is not None:
        read(count)
    return counts
