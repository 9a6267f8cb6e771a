"""A replay that cannot finish: one clear line whatever the number of processes, and the output folder as it was.

A full disk is the usual reason: a replay of a year writes several times its input. The tests make
writes fail as a full disk would, by capping the size of any file the replay's processes write
(``RLIMIT_FSIZE``, with ``SIGXFSZ`` ignored, so a write past it fails with ``EFBIG``), once while the
records are decoded and once while the outputs are written.
"""

from __future__ import annotations

import errno
import gzip
import os
import re
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import streams.cli.replay as replay_command
import streams.replay as replay_module
from streams.cli import main
from streams.files import STDIN
from streams.replay import OUTPUT_FILES, room_needed
from tests.file_limits import capped_file_size
from tests.streams.replay.traffic import command_line, traffic

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]


#: The environment of the command's own process: the identity key, and this checkout on the path.
ENV = {**os.environ, "TOUCHPOINT_IDENTITY_SALT": "failures", "PYTHONPATH": str(ROOT)}


def replay_capped(source: Path, out: Path, processes: int, limit: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command_line(source, out, processes),
        capture_output=True,
        text=True,
        env=ENV,
        cwd=ROOT,
        preexec_fn=capped_file_size(limit),
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("processes", [1, 2], ids=["one process", "two processes"])
@pytest.mark.parametrize(
    "share", [0.25, 1.5], ids=["while decoding (the sorted runs)", "while applying (the outputs)"]
)
def test_a_replay_that_cannot_write_says_so_in_one_line_and_leaves_the_folder_as_it_was(
    tmp_path: Path, processes: int, share: float
) -> None:
    source = tmp_path / "history.jsonl"
    source.write_bytes(traffic())
    out = tmp_path / "out"
    out.mkdir()
    (out / "enriched.jsonl").write_bytes(b"an earlier replay's\n")

    # The sorted runs take about the input's size, the enriched events about twice it.
    result = replay_capped(source, out, processes, round(len(traffic()) * share))

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: File too large. Nothing was written to {out}: any earlier replay's files there are as they were."
    )
    assert [path.name for path in out.iterdir()] == ["enriched.jsonl"]
    assert (out / "enriched.jsonl").read_bytes() == b"an earlier replay's\n"


def test_a_replay_that_finishes_leaves_its_outputs_and_nothing_else(tmp_path: Path) -> None:
    source = tmp_path / "history.jsonl"
    source.write_bytes(traffic())
    out = tmp_path / "out"

    result = replay_capped(source, out, 2, 10**9)

    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in out.iterdir()) == sorted(OUTPUT_FILES.values())
    assert (out / "enriched.jsonl").stat().st_size > len(traffic())


def test_a_full_disk_names_the_folder_the_room_free_and_the_room_a_replay_takes(tmp_path: Path) -> None:
    source = tmp_path / "history.jsonl"
    source.write_bytes(b"x" * 1_000_000)
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    told = replay_command._stopped_by(full, source, tmp_path, 2)

    free = replay_command._size(replay_command._free(tmp_path))
    assert told == (
        f"{tmp_path}: no space left on its device ({free} free now, and a replay of history.jsonl takes "
        f"about 7.0 MB there). Nothing was written to {tmp_path}: any earlier replay's files there are as "
        "they were."
    )


def test_an_error_on_a_named_file_names_it() -> None:
    denied = OSError(errno.EACCES, os.strerror(errno.EACCES), "/srv/history/out/.replay-x")

    told = replay_command._stopped_by(denied, Path("in.jsonl"), Path("/srv/history/out"), 1)

    assert told.startswith(
        "/srv/history/out/.replay-x: Permission denied. Nothing was written to /srv/history/out"
    )


def test_the_room_a_replay_takes_grows_with_its_input_and_its_processes(tmp_path: Path) -> None:
    plain, packed = tmp_path / "history.jsonl", tmp_path / "history.jsonl.gz"
    plain.write_bytes(b"x" * 1000)
    packed.write_bytes(gzip.compress(b"x" * 1000))

    assert [room_needed(plain, processes) for processes in (1, 2, 4)] == [5500, 7000, 7000]
    # A compressed file, by what its lines take (here all of them, the file being small).
    assert room_needed(packed, 1) == 5500
    # The standard input's and a named pipe's are known only once read, which the replay does.
    assert room_needed(STDIN, 1) is None
    pipe = tmp_path / "history.pipe"
    os.mkfifo(pipe)
    assert room_needed(pipe, 1) is None


def test_a_replay_warns_before_it_starts_where_the_room_looks_short_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "history.jsonl"
    source.write_bytes(traffic())
    monkeypatch.setattr(replay_command, "_free", lambda _folder: 1_000_000)

    result = CliRunner().invoke(
        main, ["replay", str(source), "--out", str(tmp_path / "out"), "--processes", "1"]
    )

    assert result.exit_code == 0, result.output
    need = replay_command._size(room_needed(source, 1))
    assert (
        f"warning: {tmp_path / 'out'} has 1.0 MB free, and a replay of history.jsonl in 1 process takes about "
        f"{need} there at its peak" in result.stderr
    )
    assert result.stdout.startswith("replayed ")
    assert (tmp_path / "out" / "enriched.jsonl").stat().st_size > len(traffic())


def _killed(self: object, *args: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _out_of_memory(self: object, *args: object) -> None:
    raise MemoryError


@pytest.mark.parametrize(
    ("fault", "told"),
    [
        (
            _killed,
            r"Error: replay process [01] ended without a result \(killed by SIGKILL\) \(on Linux the kernel kills a"
            r" process this way when memory runs out: fewer --processes, or a smaller --states-in-memory, take"
            r" less memory\)\. Nothing was written to .*",
        ),
        (
            _out_of_memory,
            r"Error: out of memory: fewer --processes, or a smaller --states-in-memory, take less memory\."
            r" Nothing was written to .*",
        ),
    ],
    ids=["a process killed", "a process out of memory"],
)
def test_a_replay_process_that_dies_or_runs_out_of_memory_is_told_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: Callable[..., None], told: str
) -> None:
    source = tmp_path / "history.jsonl"
    source.write_bytes(traffic())
    out = tmp_path / "out"
    # Each process forked to apply its partitions meets the fault as it starts.
    monkeypatch.setattr(replay_module._Job, "_apply_shard", fault)

    result = CliRunner().invoke(main, ["replay", str(source), "--out", str(out), "--processes", "2"])

    assert result.exit_code == 1, result.output
    assert re.fullmatch(told, result.stderr.strip()), result.stderr
    assert list(out.iterdir()) == []


def test_a_replay_refuses_to_write_over_the_file_it_replays(tmp_path: Path) -> None:
    source = tmp_path / "enriched.jsonl"
    source.write_bytes(traffic())

    result = CliRunner().invoke(main, ["replay", str(source), "--out", str(tmp_path)])

    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: {source} would be replaced by the replay's own enriched.jsonl: choose another output folder"
    )
    assert source.read_bytes() == traffic()
    assert [path.name for path in tmp_path.iterdir()] == ["enriched.jsonl"]
