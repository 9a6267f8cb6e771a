"""A replay's working folder: removed when the replay ends, and by the next replay when it was killed."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.replay.workdir import (
    MOVING,
    OWNED,
    PREFIX,
    STAGED,
    LeftBehind,
    OutputFolderBusy,
    OutputInTheWay,
    left_behind_line,
    move_outputs,
    output_folder,
    reclaim,
    working_folder,
)

pytestmark = pytest.mark.unit


def killed_after(out_dir: Path, work: Callable[[Path], object]) -> Path:
    """The working folder of a replay that did *work* in it and was killed: a process that ended without a
    chance to clean up."""
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the forked process
        os.close(reading)
        with working_folder(out_dir) as folder:
            work(folder)
            os.write(writing, bytes(folder))
            os._exit(0)  # as a kill would: no finally runs
    os.close(writing)
    with os.fdopen(reading, "rb") as told:
        folder = Path(os.fsdecode(told.read()))
    os.waitpid(child, 0)
    return folder


def killed_in(out_dir: Path, content: bytes) -> Path:
    """The working folder of a replay that wrote *content* in it and was killed."""
    return killed_after(out_dir, lambda folder: (folder / "run-0").write_bytes(content))


def test_the_working_folder_is_removed_when_its_block_ends_however_it_ends(tmp_path: Path) -> None:
    with working_folder(tmp_path) as folder:
        (folder / "outputs").mkdir()
        (folder / "outputs" / "enriched.jsonl").write_bytes(b"{}\n")
        assert folder.parent == tmp_path
        assert folder.name.startswith(PREFIX)
    assert list(tmp_path.iterdir()) == []

    def interrupted() -> None:
        with working_folder(tmp_path) as folder:
            (folder / "run-0").write_bytes(b"{}\n")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert list(tmp_path.iterdir()) == []


def test_a_killed_replays_folder_is_removed_and_told_with_the_room_it_took(tmp_path: Path) -> None:
    left = killed_in(tmp_path, b"x" * 12_345)
    assert left.exists()

    assert reclaim(tmp_path) == [LeftBehind(left, 12_345)]
    assert list(tmp_path.iterdir()) == []
    assert reclaim(tmp_path) == []


def test_the_folder_of_a_replay_still_running_is_left_alone(tmp_path: Path) -> None:
    with working_folder(tmp_path) as running:
        (running / "run-0").write_bytes(b"{}\n")
        left = killed_in(tmp_path, b"{}\n")

        assert [folder.path for folder in reclaim(tmp_path)] == [left]
        assert (running / "run-0").read_bytes() == b"{}\n"


def test_what_was_never_a_replays_locked_folder_is_left_alone(tmp_path: Path) -> None:
    starting = tmp_path / f"{PREFIX}starting"  # made a moment ago, not locked yet
    starting.mkdir()
    a_file = tmp_path / f"{PREFIX}notes.txt"
    a_file.write_bytes(b"mine\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / OWNED).touch()
    (tmp_path / f"{PREFIX}link").symlink_to(elsewhere)

    assert reclaim(tmp_path) == []
    assert starting.is_dir()
    assert a_file.read_bytes() == b"mine\n"
    assert (elsewhere / OWNED).exists()


def test_an_output_folder_not_made_yet_has_nothing_to_reclaim(tmp_path: Path) -> None:
    assert reclaim(tmp_path / "not yet") == []


def test_an_output_folder_takes_one_replay_at_a_time_which_first_removes_what_killed_ones_left(
    tmp_path: Path,
) -> None:
    left = killed_in(tmp_path, b"{}\n")

    with output_folder(tmp_path) as removed:
        assert removed == [LeftBehind(left, 3)]
        with pytest.raises(OutputFolderBusy, match="is the output folder of another replay, still running"):
            output_folder(tmp_path).__enter__()

    with output_folder(tmp_path) as removed:
        assert removed == []


def test_a_folder_never_locked_is_removed_by_the_replay_holding_the_output_folder(tmp_path: Path) -> None:
    # A replay killed between making its folder and locking it; no replay can be in that moment while another
    # holds the output folder, since each makes its folder under that lock.
    never_locked = Path(tempfile.mkdtemp(prefix=PREFIX, dir=tmp_path))
    (never_locked / "run-0").write_bytes(b"x" * 100)
    someone_elses = tmp_path / f"{PREFIX}notes-2026"  # not a name a replay gives its folder
    someone_elses.mkdir()

    assert reclaim(tmp_path) == []  # the command line's look, before it holds the output folder
    with output_folder(tmp_path) as removed:
        assert removed == [LeftBehind(never_locked, 100)]
    assert sorted(tmp_path.iterdir()) == [someone_elses]


def killed_moving(out_dir: Path, outputs: dict[str, bytes], moved: int) -> Path:
    """The working folder of a replay killed after it had moved the first *moved* of its *outputs* (name →
    bytes) into *out_dir*."""

    def work(folder: Path) -> None:
        (folder / STAGED).mkdir()
        for name, data in outputs.items():
            (folder / STAGED / name).write_bytes(data)
        (folder / MOVING).touch()
        for output in sorted((folder / STAGED).iterdir())[:moved]:
            output.replace(out_dir / output.name)

    return killed_after(out_dir, work)


def test_a_replay_killed_moving_its_outputs_has_the_rest_moved_in_by_the_next(tmp_path: Path) -> None:
    names = ["alerts.jsonl", "by-customer.jsonl", "enriched.jsonl", "transitions.jsonl"]
    for name in names:
        (tmp_path / name).write_bytes(b"earlier\n")
    left = killed_moving(tmp_path, {name: b"killed\n" for name in names}, moved=2)
    mixed = {name: (tmp_path / name).read_bytes() for name in names}
    assert sorted(mixed.values()) == [b"earlier\n"] * 2 + [b"killed\n"] * 2

    # Only with the output folder held: the command line's first look leaves it for the replay.
    assert reclaim(tmp_path) == []
    with output_folder(tmp_path) as removed:
        assert removed == [LeftBehind(left, 0, 2)]
    assert {name: (tmp_path / name).read_bytes() for name in names} == dict.fromkeys(names, b"killed\n")
    assert sorted(path.name for path in tmp_path.iterdir()) == names
    assert left_behind_line(removed[0]) == (
        f"removed {left} (0.0 MB), the working folder of a replay that was killed while it moved its outputs "
        f"into {tmp_path}: its last 2 outputs moved in first"
    )


def test_a_replay_killed_removing_its_folder_after_the_move_leaves_nothing_to_move(tmp_path: Path) -> None:
    (tmp_path / "alerts.jsonl").write_bytes(b"moved\n")

    def moved_then_partly_removed(folder: Path) -> None:
        (folder / MOVING).touch()  # its outputs all moved; the staged folder was removed first

    left = killed_after(tmp_path, moved_then_partly_removed)
    with output_folder(tmp_path) as removed:
        assert removed == [LeftBehind(left, 0, 0)]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["alerts.jsonl"]


def test_outputs_are_not_moved_in_at_all_where_a_folder_stands_in_the_way_of_one(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "transitions.jsonl").mkdir(
        parents=True
    )  # sorted after alerts.jsonl: that one would be moved in first
    (out / "alerts.jsonl").write_bytes(b"earlier\n")
    with working_folder(out) as folder:
        (folder / STAGED).mkdir()
        for name in ("alerts.jsonl", "transitions.jsonl"):
            (folder / STAGED / name).write_bytes(b"new\n")
        with pytest.raises(OutputInTheWay, match=r"transitions\.jsonl is a folder, where the replay writes"):
            move_outputs(folder, out)
        assert not (folder / MOVING).exists()
    assert (out / "alerts.jsonl").read_bytes() == b"earlier\n"
