"""The compiled core (setup.py) and the pure-Python one write the same bytes.

mypyc stores whatever a module declares ``float`` as a float, a whole number included: a
threshold of 20 s read from the rules came out as ``20.0`` in alert details until its
annotation allowed an int. Nothing but the outputs themselves shows such a difference, so a
replay with identity merges, SLA cases and every detector runs through both builds.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from agents import CORE_BUILD_NOTE
from streams.replay import OUTPUT_FILES
from streams.sim import SimulationSpec, generate
from tests.compiled import ROOT, compiled_modules, core_build_note, listed_modules

pytestmark = pytest.mark.unit

#: What a replay imports from the project.
PACKAGES = ("agents", "streams", "schemas")


def pure_copy(to: Path) -> Path:
    """The project's sources without any compiled module, importable from *to*."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, to / package, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    return to


def python(*args: str, cwd: Path, path: Path | None = None) -> str:
    """Run the project's Python in *cwd* (never the project's folder, which ``-m`` and ``-c`` put first
    on the path), with *path* first on the path if given."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if path is not None:
        env["PYTHONPATH"] = str(path)
    done = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def write_traffic(path: Path, customers: int, seed: int, records: int) -> Path:
    """*records* simulator records (identity merges, SLA cases, every detector) in *path*."""
    generated = itertools.islice(generate(SimulationSpec(customers=customers, seed=seed)), records)
    path.write_bytes(b"".join(record + b"\n" for record in generated))
    return path


def replay_outputs(source: Path, out: Path, path: Path | None = None) -> dict[str, bytes]:
    """Every output file of a one-process replay of *source* into *out*, with *path* first on the path."""
    replay = ("-m", "streams.cli", "replay", str(source), "--out", str(out), "--processes", "1")
    python(*replay, cwd=out.parent, path=path)
    return {name: (out / name).read_bytes() for name in OUTPUT_FILES.values()}


def test_the_type_checker_the_tests_run_is_the_one_that_compiles_the_core() -> None:
    # mypyc compiles only a core that type-checks: were the test command's mypy another version, it could
    # pass a core the build refuses (or refuse one the build compiles).
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    builds_with = [r for r in project["build-system"]["requires"] if r.startswith("mypy")]
    tests_with = [r for r in project["project"]["optional-dependencies"]["dev"] if r.startswith("mypy")]
    assert builds_with == tests_with
    assert len(builds_with) == 1
    assert "==" in builds_with[0]


def test_the_core_is_compiled_where_a_c_compiler_works_unless_a_pure_install_was_asked_for() -> None:
    import agents.journey.step

    if os.environ.get("TOUCHPOINT_PURE", "") not in ("", "0") or not shutil.which("cc"):
        assert agents.journey.step.__file__.endswith(".py")
        return
    assert compiled_modules(), "no compiled module: see the install's warnings, or set TOUCHPOINT_PURE=1"
    assert agents.journey.step.__file__.endswith(".so")


def test_every_module_setup_lists_is_the_one_an_install_compiled() -> None:
    # Those the build scripts and the staleness check look for (tests/compiled.py): an extension
    # they miss would outlive a rebuild or a pure install and import a library no longer there.
    built = {source.relative_to(ROOT).as_posix() for source in compiled_modules().values()}
    if not built:
        return  # a pure install: the test above says whether one was asked for
    assert built == set(listed_modules())


def test_the_worker_says_which_core_it_runs(tmp_path: Path) -> None:
    which = "from streams.worker_metrics import core_build; print(core_build())"
    assert python("-c", which, cwd=tmp_path).strip() == ("compiled" if compiled_modules() else "pure")
    assert python("-c", which, cwd=tmp_path, path=pure_copy(tmp_path / "pure")).strip() == "pure"


def test_the_worker_says_whether_its_core_is_profile_guided(tmp_path: Path) -> None:
    describe = "from streams.worker_metrics import core_description; print(core_description())"
    if compiled_modules():
        how = core_build_note()
        assert how in ("profile-guided", "plain"), "setup.py writes how it compiled the core beside it"
        expected = "compiled, profile-guided" if how == "profile-guided" else "compiled"
    else:
        expected = "pure"
    assert python("-c", describe, cwd=tmp_path).strip() == expected
    pure = pure_copy(tmp_path / "pure")
    (pure / "agents" / CORE_BUILD_NOTE).write_text("profile-guided\n")
    assert python("-c", describe, cwd=tmp_path, path=pure).strip() == "pure", (
        "a note left beside pure sources says nothing about them"
    )


def test_a_replay_through_the_compiled_core_writes_the_bytes_of_the_pure_one(tmp_path: Path) -> None:
    source = write_traffic(tmp_path / "traffic.jsonl", customers=400, seed=21, records=20_000)
    pure = pure_copy(tmp_path / "pure")
    where = "import agents.journey.step as module; print(module.__file__)"
    assert python("-c", where, cwd=tmp_path, path=pure).strip() == str(pure / "agents/journey/step.py")
    outputs = {
        build: replay_outputs(source, tmp_path / build, path)
        for build, path in (("installed", None), ("pure", pure))
    }
    assert outputs["installed"]["alerts.jsonl"]
    assert outputs["installed"]["merges.jsonl"], "identity merges are part of it"
    for name in OUTPUT_FILES.values():
        assert outputs["installed"][name] == outputs["pure"][name], name
