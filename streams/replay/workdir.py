"""A replay's working folder in its output folder, and the folders of replays that were killed.

A replay writes its sorted runs, its parts and its staged outputs in a ``.replay-*`` folder inside the output
folder, and removes it when it ends, however it ends, save one way: a process killed outright (``kill -9``,
the kernel out of memory, a machine that stopped) leaves it, often several times the input's size. The next
replay into the same folder removes it. One output folder takes one replay at a time (``output_folder``).

Whether a folder's replay is still running is told by a lock, not by a process id, which another process
may have taken since: a replay holds an exclusive ``flock`` on its folder for as long as it or any of its
processes runs, and the kernel releases it when the last of them ends, however. A folder is left behind
only if its lock is free and the folder says it was taken (``OWNED``): a folder made a moment ago by a
replay starting beside this one has not been locked yet, and is not touched. A replay makes its working
folder only while it holds its output folder's lock (``output_folder``), so whoever holds that lock knows
no replay is between making a folder and locking it: a folder of a replay's own name, never locked, was
left by one killed in that moment (or by a version before the lock), and that replay removes it too.

A replay's outputs are written whole in the working folder (``STAGED``), then moved into the output folder
a file at a time (``move_outputs``). Killed during those renames, it would leave some files of its own and
some of the replay before: the folder says the move began (``MOVING``), and the next replay finishes it
before it removes the folder, so the output folder holds every output of one replay.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = [
    "MOVING",
    "PREFIX",
    "STAGED",
    "LeftBehind",
    "OutputFolderBusy",
    "OutputInTheWay",
    "check_room_for",
    "left_behind_line",
    "move_outputs",
    "output_folder",
    "reclaim",
    "working_folder",
]

#: How a replay's working folder is named, in its output folder.
PREFIX = ".replay-"
#: Made in a working folder once its replay holds the folder's lock.
OWNED = "owned"
#: The working folder's folder of outputs, each written whole before any is moved into the output folder.
STAGED = "outputs"
#: Made in a working folder before the first of its outputs is moved into the output folder.
MOVING = "moving"
#: A working folder's whole name: ``tempfile.mkdtemp``'s eight characters after the prefix.
_MADE_NAME: Final = re.compile(re.escape(PREFIX) + r"[a-z0-9_]{8}")


@dataclass(frozen=True, slots=True)
class LeftBehind:
    """A working folder removed because the replay that made it was killed: where, the bytes it took, and how
    many of that replay's outputs were moved into the output folder first (it was killed moving them)."""

    path: Path
    size: int
    finished: int = 0


class OutputFolderBusy(ValueError):
    """Another replay is writing into the output folder: the two would mix their outputs."""


class OutputInTheWay(ValueError):
    """A folder in the output folder has the name of one of the replay's outputs, which cannot replace it."""


def check_room_for(out_dir: Path, names: Iterable[str]) -> None:
    """OutputInTheWay if a folder in *out_dir* has one of the *names* the outputs take (a link is replaced)."""
    for name in names:
        path = out_dir / name
        if path.is_dir() and not path.is_symlink():
            raise OutputInTheWay(
                f"{path} is a folder, where the replay writes its {name}: move it, or choose another output folder"
            )


@contextmanager
def output_folder(out_dir: Path) -> Iterator[list[LeftBehind]]:
    """*out_dir*, this replay's alone until the block ends, and the working folders of killed replays removed
    from it (``reclaim``). OutputFolderBusy if another replay is writing into it: each moves its outputs in
    whole, but two at once could leave some of one's and some of the other's."""
    descriptor = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputFolderBusy(
                f"{out_dir} is the output folder of another replay, still running: wait until it has "
                "finished, or choose another output folder"
            ) from None
        yield reclaim(out_dir, output_held=True)
    finally:
        os.close(descriptor)


@contextmanager
def working_folder(out_dir: Path) -> Iterator[Path]:
    """A new working folder in *out_dir*, locked while this process or any process it forks runs; removed
    with all it holds when the block ends."""
    path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=out_dir))
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except BaseException:
        path.rmdir()
        raise
    try:
        # Blocking: another replay's reclaim() may hold it for the moment it takes to see no OWNED in it.
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        (path / OWNED).touch()
        yield path
    finally:
        try:
            shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(descriptor)


def move_outputs(folder: Path, out_dir: Path) -> int:
    """Move the staged outputs of the working *folder* into *out_dir*, once it says so (``MOVING``): a move
    stopped halfway is finished by ``reclaim``. How many were moved."""
    try:
        staged = sorted((folder / STAGED).iterdir())
    except FileNotFoundError:
        return 0  # its replay was killed while it removed the folder, the outputs moved in already
    # Checked before the first is moved: one that could not be would leave some of them moved in.
    check_room_for(out_dir, [output.name for output in staged])
    (folder / MOVING).touch()
    for output in staged:
        output.replace(out_dir / output.name)
    return len(staged)


def reclaim(out_dir: Path, *, output_held: bool = False) -> list[LeftBehind]:
    """Remove the working folders in *out_dir* whose replays were killed; the ones removed.

    A folder is removed only when its replay is known to have ended: its lock is free although it was
    taken. One whose lock is held is left as it is. Two more are left to the holder of the output folder's
    lock (*output_held*, ``output_folder``), since no other replay can be writing into it then: a folder
    never locked, of a name ``working_folder`` gives (no replay makes one without that lock), and one whose
    replay was killed moving its outputs, which are moved in before it goes."""
    removed: list[LeftBehind] = []
    try:
        candidates = sorted(out_dir.glob(f"{PREFIX}*"))
    except OSError:
        return removed
    for path in candidates:
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue  # not a folder, or gone already
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its replay is running
            if not (path / OWNED).exists() and not (output_held and _MADE_NAME.fullmatch(path.name)):
                continue  # made a moment ago by a replay about to lock it, or by another program
            finished = 0
            if (path / MOVING).exists():
                if not output_held:
                    continue
                finished = move_outputs(path, out_dir)
            size = _size(path)
            shutil.rmtree(path, ignore_errors=True)
            if not path.exists():
                removed.append(LeftBehind(path, size, finished))
        finally:
            os.close(descriptor)
    return removed


def left_behind_line(folder: LeftBehind) -> str:
    """One line telling that *folder* was removed, and why."""
    removed = (
        f"removed {folder.path} ({_megabytes(folder.size)}), the working folder of a replay that was killed"
    )
    if not folder.finished:
        return removed
    count = f"{folder.finished} output{'s' if folder.finished > 1 else ''}"
    return f"{removed} while it moved its outputs into {folder.path.parent}: its last {count} moved in first"


def _megabytes(count: int) -> str:
    return f"{count / 10**6:,.1f} MB"


def _size(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total
