"""The image's build stage (Dockerfile → scripts/build-wheels): a wheel with the core compiled, or no wheel.

The image cannot be built here, but its build stage is one script, run here as the Dockerfile runs it:
from a copy of just what the Dockerfile copies, laid out as it lays it out (against the dependencies
already installed: ``--core-only``). Run from the repository instead, it once passed while the image's
build would fail: the script needs ``compile-core``, which the Dockerfile did not copy. Its wheel,
unpacked on its own, must
run the compiled core and write the bytes the installed build writes. Without a C compiler the script
must fail, not hand the image a pure-Python wheel that would cost a third more CPU per event.

The C compiler runs here without optimisation (``MYPYC_OPT_LEVEL=0``): 10 s instead of 48 s for the
same C, and the profile-guided build's training replays 2,000 records instead of 30,000. What this
test checks (the script, the wheel's contents, that it runs the compiled core and writes the same
bytes) does not depend on it, and the optimised compile of the same C runs on every test run already:
``scripts/bootstrap`` builds the installed core that way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.compiled import ROOT, listed_modules
from tests.deploy.test_dockerfile import copied, in_context
from tests.test_compiled import python, replay_outputs, write_traffic

# Not a worker test, but two builds and a training run, about two minutes: kept out of the fast unit
# selection.
pytestmark = pytest.mark.integration

COMPILED = listed_modules()


def build_stage_sources(to: Path) -> Path:
    """What the Dockerfile's build stage copies from the build context, where it puts it, in *to*.

    Each COPY there keeps the source's path under the working directory. The build runs from this copy,
    not from the repository: a script the build needs but the image never gets fails here too.
    """
    for source in copied():
        path = ROOT / source
        for file in [path] if path.is_file() else sorted(path.rglob("*")):
            relative = file.relative_to(ROOT).as_posix()
            if (
                file.is_dir()
                or "__pycache__" in file.parts
                or file.suffix == ".so"
                or not in_context(relative)
            ):
                continue
            (to / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, to / relative)
    return to


def build_wheels(out: Path, sources: Path) -> subprocess.CompletedProcess[str]:
    # The profile-guided build's training shortened too: its steps are what is checked, not its gain.
    env = dict(os.environ, PYTHON=sys.executable, MYPYC_OPT_LEVEL="0", TOUCHPOINT_PGO_EVENTS="2000")
    env.pop("TOUCHPOINT_PGO", None)
    env.pop("TOUCHPOINT_PURE", None)
    return subprocess.run(
        [str(sources / "scripts/build-wheels"), "--core-only", str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_image_build_stage_makes_a_wheel_that_runs_the_compiled_core(tmp_path: Path) -> None:
    done = build_wheels(tmp_path / "wheels", build_stage_sources(tmp_path / "context"))
    if not shutil.which("cc"):
        assert done.returncode != 0
        assert "were compiled" in done.stderr
        return
    assert done.returncode == 0, done.stderr[-3000:]
    gcc = (
        "Free Software Foundation"
        in subprocess.run(["cc", "--version"], capture_output=True, text=True).stdout
    )
    if gcc:
        # GCC: the wheel's core is the profile-guided build (scripts/compile-core), not its fallback.
        assert "profile-guided by a replay of 2000 simulator records" in done.stdout, done.stderr[-3000:]
        assert "warning" not in done.stderr, done.stderr[-3000:]
    (wheel,) = (tmp_path / "wheels").glob("touchpoint-*.whl")
    assert not wheel.name.endswith("-none-any.whl"), f"{wheel.name}: a pure-Python wheel"
    names = zipfile.ZipFile(wheel).namelist()
    for module in COMPILED:
        stem = module.removesuffix(".py")
        assert any(name.startswith(stem + ".") and name.endswith(".so") for name in names), module
        assert module in names, "the source stays beside its extension"
    assert not any(name.startswith(("tests/", "bench/", "scripts/")) for name in names)

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    which = (
        "import agents.journey.step as m; from streams.worker_metrics import core_description; "
        "print(m.__file__); print(core_description())"
    )
    where, build = python("-c", which, cwd=tmp_path, path=site).splitlines()
    assert where.startswith(str(site))
    assert where.endswith(".so")
    # The wheel carries how its core was built, for the worker's info metric.
    assert build == ("compiled, profile-guided" if gcc else "compiled")

    source = write_traffic(tmp_path / "traffic.jsonl", customers=200, seed=5, records=5_000)
    outputs = {
        name: replay_outputs(source, tmp_path / name, path)
        for name, path in (("wheel", site), ("installed", None))
    }
    assert outputs["wheel"]["enriched.jsonl"]
    assert outputs["wheel"] == outputs["installed"]
