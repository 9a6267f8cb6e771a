"""scripts/pick-python: the interpreter .venv is made from, a build of python3's own version."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "pick-python"


def _pick(path: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path}
    return subprocess.run([str(SCRIPT)], capture_output=True, text=True, env=env, check=True, timeout=120)


def _version(python: str) -> str:
    done = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_the_choice_is_a_build_of_python3s_version_that_can_make_a_virtualenv() -> None:
    done = _pick(os.environ["PATH"])
    chosen = done.stdout.strip()
    python3 = shutil.which("python3")
    assert python3 is not None
    assert Path(chosen).is_absolute()
    assert _version(chosen) == _version(python3)
    subprocess.run([chosen, "-c", "import ensurepip, venv"], check=True)
    if done.stderr:
        # More than one build was timed: each is listed, the chosen one marked.
        marked = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("  * ")]
        assert marked == [chosen]
        assert done.stderr.count(" ms\n") >= 2


def _builds(python3: str, version: str) -> set[str]:
    """The distinct interpreters the script can find with python3 and the system's directories on PATH."""
    found = {os.path.realpath(python3)}
    for directory in ("/usr/bin", "/usr/local/bin"):
        path = Path(directory) / f"python{version}"
        if path.exists():
            found.add(os.path.realpath(path))
    return found


def test_a_single_build_is_taken_as_it_is_without_timing_anything(tmp_path: Path) -> None:
    # python3 on this PATH is the system's build where there is one: then the system directories,
    # which the script looks in and which hold its own tools (awk), add no other build of it.
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    system = Path("/usr/bin") / f"python{version}"
    python3 = str(system) if system.exists() else getattr(sys, "_base_executable", sys.executable)
    (tmp_path / "python3").symlink_to(os.path.realpath(python3))
    builds = _builds(python3, version)
    done = _pick(f"{tmp_path}:/usr/bin:/bin")
    assert done.stdout.strip() in builds
    if len(builds) == 1:
        assert done.stdout.strip() == os.path.realpath(python3)
        assert done.stderr == ""
    else:
        assert done.stderr.count(" ms\n") == len(builds)
