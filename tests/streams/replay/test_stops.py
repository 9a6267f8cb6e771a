"""A replay stopped from outside (Ctrl-C at a terminal, SIGTERM from a service manager, ``kill -9``), or
started while another writes into the same output folder.

Each stop leaves no process of the replay running and the output folder as it was; a replay killed
outright cannot clean up after itself, so the next replay into the same folder removes what it left.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from streams.replay import OUTPUT_FILES
from streams.replay.workdir import OWNED, PREFIX
from tests.streams.replay.traffic import command_line, traffic

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "TOUCHPOINT_IDENTITY_SALT": "stops", "PYTHONPATH": str(ROOT)}
EARLIER = b"an earlier replay's\n"
#: prctl(2)'s option that makes a process the parent of its descendants' orphans.
PR_SET_CHILD_SUBREAPER = 36


def own_group_with_ctrl_c() -> None:
    # As on a terminal: Ctrl-C reaches every process of the group, and none ignores it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.setpgrp()


@contextmanager
def replay_applying(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A replay in two processes, in a process group of its own, once its processes have begun to apply; and
    its output folder, which holds an earlier replay's file. Whatever is left of the group is killed after."""
    source = tmp_path / "history.jsonl"
    source.write_bytes(traffic() * 20)  # long enough to be caught while applying
    out = tmp_path / "out"
    out.mkdir()
    (out / "enriched.jsonl").write_bytes(EARLIER)
    replaying = subprocess.Popen(
        command_line(source, out, 2),
        env=ENV,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=own_group_with_ctrl_c,
    )
    try:
        deadline = time.monotonic() + 120
        # The processes applying the partitions each make their folder of parts as they start: both have.
        while len(list(out.glob(".replay-*/shard-*"))) < 2:
            assert replaying.poll() is None, replaying.communicate()
            assert time.monotonic() < deadline, "the replay never started applying"
            time.sleep(0.01)
        yield replaying, out
    finally:
        if running(replaying.pid):
            os.killpg(replaying.pid, signal.SIGKILL)
        replaying.communicate()


def another_replay(source: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """A replay of the shared traffic, written to *source*, into *out*, run to its end."""
    source.write_bytes(traffic())
    return subprocess.run(
        command_line(source, out, 2),
        env=ENV,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def running(group: int) -> list[int]:
    """The processes of process group *group* that have not ended (a process that ended but whose exit no
    parent has collected yet is still listed by the kernel, and has ended)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # ended while the list was read
        state, process_group = fields[0], int(fields[2])
        if process_group == group and state not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


def ended(group: int, within: float = 60) -> bool:
    deadline = time.monotonic() + within
    while running(group):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@contextmanager
def adopting_orphans() -> Iterator[None]:
    """This process as the parent of the processes whose own parent ends meanwhile (Linux's child
    subreaper), so that it may see how they ended."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1) == 0
    try:
        yield
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0)


def ends(children: list[int], within: float = 60) -> list[str]:
    """How each of *children* (this process's, or adopted) ended; one still running after *within* seconds
    is killed, and told as running."""
    told: dict[int, str] = {}
    deadline = time.monotonic() + within
    while len(told) < len(children):
        for child in set(children) - set(told):
            pid, status = os.waitpid(child, os.WNOHANG)
            if pid == child:
                told[child] = (
                    f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
                    if os.WIFSIGNALED(status)
                    else f"exited with {os.WEXITSTATUS(status)}"
                )
            elif time.monotonic() > deadline:
                os.kill(child, signal.SIGKILL)
                os.waitpid(child, 0)
                told[child] = f"running after {within:.0f} s"
        time.sleep(0.01)
    return [told[child] for child in children]


def assert_as_it_was(out: Path) -> None:
    assert [path.name for path in out.iterdir()] == ["enriched.jsonl"]
    assert (out / "enriched.jsonl").read_bytes() == EARLIER


def test_ctrl_c_while_applying_stops_every_process_and_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    with replay_applying(tmp_path) as (replaying, out):
        os.killpg(replaying.pid, signal.SIGINT)
        _, stderr = replaying.communicate(timeout=60)

        assert replaying.returncode == 1
        assert stderr.strip().splitlines()[-1] == "Aborted!", stderr
        assert "Traceback" not in stderr, stderr
        assert "Exception ignored" not in stderr, stderr
        assert_as_it_was(out)
        assert ended(replaying.pid)


@pytest.mark.parametrize("to", ["the replay's process", "every process of the replay"])
def test_sigterm_while_applying_stops_every_process_leaves_the_folder_as_it_was_and_ends_as_sigterm_does(
    tmp_path: Path, to: str
) -> None:
    # A service manager stops the whole service, `kill` and a container's stop its first process only.
    with replay_applying(tmp_path) as (replaying, out):
        if to == "the replay's process":
            os.kill(replaying.pid, signal.SIGTERM)
        else:
            os.killpg(replaying.pid, signal.SIGTERM)
        _, stderr = replaying.communicate(timeout=60)

        assert replaying.returncode == -signal.SIGTERM, stderr
        assert "Traceback" not in stderr, stderr
        assert "Exception ignored" not in stderr, stderr
        assert_as_it_was(out)
        assert ended(replaying.pid)


def test_a_replay_killed_outright_takes_its_processes_with_it_and_the_next_replay_removes_what_it_left(
    tmp_path: Path,
) -> None:
    with adopting_orphans(), replay_applying(tmp_path) as (replaying, out):
        children = [pid for pid in running(replaying.pid) if pid != replaying.pid]
        assert len(children) == 2
        os.kill(replaying.pid, signal.SIGKILL)  # the replay's own process only: it can tell no one
        replaying.wait(timeout=60)
        # Theirs are killed with it; else they would work on for no one, and end on their own once they were
        # done or found its end of their pipes closed.
        assert ends(children) == ["killed by SIGKILL"] * 2
        [left] = out.glob(".replay-*")

    result = another_replay(tmp_path / "next.jsonl", out)

    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0].startswith(f"removed {left} (")
    assert result.stderr.splitlines()[0].endswith(" MB), the working folder of a replay that was killed")
    assert sorted(path.name for path in out.iterdir()) == sorted(OUTPUT_FILES.values())


def test_a_second_replay_into_the_same_folder_is_refused_while_the_first_runs_which_finishes_whole(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    # The first reads the standard input: it runs, holding the folder, for as long as that stays open.
    first = subprocess.Popen(
        command_line(Path("-"), out, 2),
        env=ENV,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob(f"{PREFIX}*/{OWNED}")):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first replay never started"
            time.sleep(0.01)

        second = another_replay(tmp_path / "other.jsonl", out)
        _, stderr = first.communicate(traffic(), timeout=300)
    finally:
        first.kill()
        first.wait()

    assert second.returncode == 1
    assert second.stderr.strip() == (
        f"Error: {out} is the output folder of another replay, still running: wait until it has finished, or "
        "choose another output folder"
    )
    assert first.returncode == 0, stderr
    dead_letters = (out / "dead-letter.jsonl").read_bytes()  # each names the file it came from
    assert b'"file:-"' in dead_letters
    assert b"other.jsonl" not in dead_letters
    assert sorted(path.name for path in out.iterdir()) == sorted(OUTPUT_FILES.values())
