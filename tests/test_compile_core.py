"""scripts/compile-core: the core's build, profile-guided where it can be, else plain, never neither.

The profile-guided build itself (instrumented build, training replay, optimised build) runs in
tests/deploy/test_image_build.py, through the image's build stage, and in ``scripts/bootstrap`` on
every test run. These check the ways around it, which must still run the build they were given.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "compile-core"
#: The build the script is handed: here one that only says how it was asked to compile.
SAY_HOW = ["sh", "-c", 'echo "built with TOUCHPOINT_PGO=$TOUCHPOINT_PGO"']


def _compile(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *SAY_HOW],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable, **env},
        cwd=tmp_path,  # no sources here: a training build would fail at once
        check=False,
        timeout=60,
    )


def test_pgo_off_runs_the_plain_build_alone(tmp_path: Path) -> None:
    done = _compile(tmp_path, TOUCHPOINT_PGO="off")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "built with TOUCHPOINT_PGO=off"
    assert not (tmp_path / "build").exists()


def test_a_compiler_other_than_gcc_gets_the_plain_build_and_a_note(tmp_path: Path) -> None:
    clang = tmp_path / "clang"
    clang.write_text("#!/bin/sh\necho 'clang version 16.0.6'\n")
    clang.chmod(0o755)
    done = _compile(tmp_path, CC=str(clang))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "built with TOUCHPOINT_PGO=off"
    assert "is not GCC" in done.stderr


def test_a_failed_training_build_falls_back_to_the_plain_build(tmp_path: Path) -> None:
    # A setup.py that stops at once: the instrumented build fails, as a broken toolchain would.
    (tmp_path / "setup.py").write_text("raise SystemExit('no compiler today')\n")
    gcc = tmp_path / "gcc"
    gcc.write_text(
        "#!/bin/sh\necho 'gcc (Debian 12.2.0-14) 12.2.0'; echo 'Copyright (C) 2022 Free Software Foundation, Inc.'\n"
    )
    gcc.chmod(0o755)
    done = _compile(tmp_path, CC=str(gcc))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "built with TOUCHPOINT_PGO=off"
    assert "profile-guided build failed" in done.stderr
    assert "no compiler today" in done.stderr
