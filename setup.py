"""Optional native build of the per-record core (the domain, the agents' per-record glue, and replay's loop
around it) with mypyc.

``pip install .`` compiles the modules listed in ``COMPILED`` to C extensions when mypy (mypyc)
is available; ``TOUCHPOINT_PURE=1`` skips compilation and installs the pure-Python sources only.
The ``.py`` files are always installed: a missing or removed extension falls back to them, and a build
without a working C compiler installs the pure-Python modules (setuptools prints a warning).

``TOUCHPOINT_PGO`` builds it with GCC's profile-guided optimisation, in two builds of the same C
(``scripts/compile-core`` runs both, with a training run between them): ``generate`` compiles the
core instrumented, to write what a run executes into ``TOUCHPOINT_PGO_DIR`` (default
``build/pgo-profile``); ``use`` compiles it again, optimised for what that run did. Both compile in
``build/pgo-temp``: GCC finds each object's profile by the object's path, which pip's own build
folder would make a different one each time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
#: The profile-guided build's stage (see the docstring): "generate", "use", or "" / "off" for none.
PGO_STAGE = os.environ.get("TOUCHPOINT_PGO", "")

#: Written into the ``agents`` package beside the compiled core: "profile-guided", "plain" or "instrumented"
#: (the training build of ``TOUCHPOINT_PGO=generate``). ``streams.worker_metrics.core_profile_guided`` reads it;
#: ``agents.CORE_BUILD_NOTE`` names the same file for the code that reads it.
CORE_BUILD_MARKER = "core_build.txt"

COMPILED = [
    "agents/calendar.py",
    "agents/domain/alert.py",
    "agents/domain/dedupe_window.py",
    "agents/domain/errors.py",
    "agents/domain/identity.py",
    "agents/domain/instants.py",
    "agents/domain/keyed_hash.py",
    "agents/domain/outputs.py",
    "agents/domain/refusal.py",
    "agents/domain/rounding.py",
    "agents/domain/state.py",
    "agents/ingest/agent.py",
    "agents/ingest/decode.py",
    "agents/ingest/identity.py",
    "agents/journey/admission.py",
    "agents/journey/after_hours.py",
    "agents/journey/agent.py",
    "agents/journey/control.py",
    "agents/journey/deadlines.py",
    "agents/journey/detection.py",
    "agents/journey/enriched.py",
    "agents/journey/erasure.py",
    "agents/journey/folding.py",
    "agents/journey/retention.py",
    "agents/journey/step.py",
    "agents/journey/track.py",
    "agents/journey/watermark.py",
    "agents/detectors/advocate.py",
    "agents/detectors/base.py",
    "agents/detectors/best_customer.py",
    "agents/detectors/churn_risk.py",
    "agents/detectors/long_wait.py",
    "agents/detectors/repeat_contact.py",
    "agents/detectors/sales_in_service.py",
    "agents/detectors/service_recovery.py",
    "agents/detectors/transfers.py",
    "agents/detectors/usage_pattern.py",
    "agents/lines.py",
    "agents/models/bgnbd.py",
    "agents/models/customer.py",
    "agents/models/fitting.py",
    "agents/models/gamma_gamma.py",
    "agents/models/history.py",
    "agents/models/params.py",
    "agents/models/population.py",
    "agents/alerts/actions.py",
    "agents/alerts/closing.py",
    "agents/alerts/digests.py",
    "agents/alerts/gating.py",
    "agents/alerts/moves.py",
    "agents/alerts/sla.py",
    "agents/alerts/sla_cases.py",
    "agents/identity/blocked.py",
    "agents/identity/control.py",
    "agents/identity/keys.py",
    "agents/identity/merging.py",
    "agents/identity/resolution.py",
    "agents/lifecycle.py",
    "agents/tally.py",
    "agents/coordination/coordinator.py",
    "agents/coordination/progress.py",
    "streams/partitioner.py",
    "streams/replay/handoffs.py",
    "streams/replay/parts.py",
    "streams/replay/runs.py",
    "streams/replay/shard.py",
    "streams/replay/sources.py",
    "streams/replay/states.py",
    "schemas/accept.py",
]


def _ext_modules() -> list[Extension]:
    if os.environ.get("TOUCHPOINT_PURE", "") not in ("", "0"):
        return []
    try:
        from mypyc.build import mypycify

        # mypyc type-checks the modules first, against the installed dependencies (numpy, orjson …):
        # scripts/bootstrap installs those, then builds. Without them, or with any error, pure Python.
        extensions = list(mypycify(COMPILED, opt_level=os.environ.get("MYPYC_OPT_LEVEL", "3")))
    except (Exception, SystemExit) as exc:
        print(f"warning: the core is installed as pure Python, not compiled: {exc!r}", file=sys.stderr)
        return []
    pgo = _pgo_flags()
    for extension in extensions:
        # No C compiler, or it fails: setuptools warns and installs the pure-Python modules.
        extension.optional = True
        # mypycify gives every extension the same lists of flags: added to in place, the flags below
        # were added once per extension (some 70 times) to every compile command.
        extension.extra_compile_args = [*extension.extra_compile_args, *pgo[0]]
        extension.extra_link_args = [*extension.extra_link_args, *pgo[1]]
        # Python's own flags add -Wall: on mypyc's generated C it reports nothing we could act on, and
        # its analyses take 40 % of the compile (81 → 48 s on 2 cores for the same object code).
        # GCC and Clang take -Wno-all; MSVC has no -Wall here to turn off.
        if sys.platform != "win32":
            extension.extra_compile_args.append("-Wno-all")
    return extensions


def _is_gcc(command: list[str] | None) -> bool:
    """Whether *command* (the compiler setuptools runs, with its flags) is GCC."""
    if not command:
        return False
    try:
        version = subprocess.run([command[0], "--version"], capture_output=True, text=True, check=False)
    except OSError:
        return False
    return "Free Software Foundation" in version.stdout


def _pgo_flags() -> tuple[list[str], list[str]]:
    """GCC's compile and link flags for ``TOUCHPOINT_PGO`` (see the module's docstring)."""
    profile = Path(os.environ.get("TOUCHPOINT_PGO_DIR") or HERE / "build" / "pgo-profile").resolve()
    if PGO_STAGE == "generate":
        return [f"-fprofile-generate={profile}"], [f"-fprofile-generate={profile}"]
    if PGO_STAGE == "use":
        # Code the training run never reached is optimised as without a profile, not for size; counts
        # written by several processes may disagree slightly; a module it never imported has none.
        flags = ["-fprofile-partial-training", "-fprofile-correction", "-Wno-missing-profile"]
        return [f"-fprofile-use={profile}", *flags], []
    if PGO_STAGE not in ("", "off"):
        raise SystemExit(f"TOUCHPOINT_PGO must be generate, use or off, not {PGO_STAGE!r}")
    return [], []


class _BuildExt(build_ext):
    """build_ext that compiles in build/pgo-temp when ``TOUCHPOINT_PGO`` is set (see the docstring)."""

    def build_extensions(self) -> None:
        if _is_gcc(getattr(self.compiler, "compiler_so", None)):
            for extension in self.extensions:
                # The core is one shared library of non-static C functions calling each other. Built as
                # position-independent code, GCC must assume another library could replace any of them
                # at load time, so it inlines none into its callers; told they stay what they are, it
                # does: replay takes about 5 % less CPU (docs/development.md). Python's own build uses it.
                extension.extra_compile_args.append("-fno-semantic-interposition")
        super().build_extensions()

    def _write_build_marker(self) -> None:
        """Say how the core was compiled, beside the extensions (the worker's info metric reads it)."""
        if not Path(self.build_lib, self.get_ext_filename("agents.journey.step")).exists():
            return  # compiling failed: the core is pure Python, which the worker sees for itself
        how = {"generate": "instrumented", "use": "profile-guided"}.get(PGO_STAGE, "plain")
        packages = [Path(self.build_lib, "agents")]  # what a wheel packs
        if self.inplace:  # an editable install: the extensions were copied beside the sources
            packages.append(Path(self.get_finalized_command("build_py").get_package_dir("agents")))
        for package in packages:
            (package / CORE_BUILD_MARKER).write_text(how + "\n")

    def run(self) -> None:
        if PGO_STAGE in ("generate", "use"):
            self.build_temp = str(HERE / "build" / "pgo-temp")
            # Always compiled: the C is the same in both builds, so an extension built by the other one
            # would look up to date and be kept.
            self.force = True
        super().run()
        if self.extensions:
            self._write_build_marker()


setup(ext_modules=_ext_modules(), cmdclass={"build_ext": _BuildExt})
