"""The dependency rule: the pure core imports neither the stream engine, nor Kafka clients, nor the app.

The pure core is everything in ``agents/`` but the thin Faust agents (the ``agent.py`` modules);
with it, the offline parts of ``streams/`` (replay, the simulator, the topic names) must load
without Faust too, so that ``touchpoint replay`` and ``touchpoint simulate`` run the same
decisions without a broker.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import agents
import streams.sim

pytestmark = pytest.mark.unit

AGENT_CORE = sorted(
    module.name
    for module in pkgutil.walk_packages(agents.__path__, "agents.")
    if not module.name.endswith(".agent")
)
SIMULATOR = sorted(
    ["streams.sim", *(module.name for module in pkgutil.walk_packages(streams.sim.__path__, "streams.sim."))]
)
OFFLINE = ["streams.replay", "streams.topics", *SIMULATOR]
PURE_MODULES = [*AGENT_CORE, *OFFLINE, "schemas"]


def test_the_pure_modules_are_the_ones_we_expect() -> None:
    assert {
        "agents.ingest.decode",
        "agents.journey.track",
        "agents.journey.step",
        "agents.lifecycle",
        "agents.config",
        "agents.domain.state",
        "streams.sim.engine",
    } <= set(PURE_MODULES)
    assert "agents.journey.agent" not in PURE_MODULES


def loaded_after_importing(modules: list[str]) -> set[str]:
    """The modules a fresh interpreter has loaded after importing *modules*."""
    code = (
        f"import sys, importlib; [importlib.import_module(m) for m in {modules!r}];"
        "print(','.join(sorted(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    return set(result.stdout.strip().split(","))


def test_the_pure_core_does_not_import_faust_mode_or_aiokafka() -> None:
    loaded = loaded_after_importing(PURE_MODULES)
    assert sorted(m for m in loaded if m.split(".")[0] in {"faust", "mode", "aiokafka"}) == []


def test_the_pure_core_does_not_import_the_app() -> None:
    loaded = loaded_after_importing(AGENT_CORE)
    assert sorted(m for m in loaded if m.split(".")[0] == "streams") == []
