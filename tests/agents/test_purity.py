"""The dependency rule: the pure core imports neither the stream engine nor Kafka clients."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import agents

pytestmark = pytest.mark.unit

AGENT_CORE = sorted(
    module.name
    for module in pkgutil.walk_packages(agents.__path__, "agents.")
    if not module.name.endswith(".agent")
)
PURE_MODULES = [*AGENT_CORE, "streams.replay", "streams.simulator", "schemas"]


def test_the_pure_modules_are_the_ones_we_expect() -> None:
    assert {
        "agents.ingest.decode",
        "agents.journey.track",
        "agents.lifecycle",
        "agents.config",
    } <= set(PURE_MODULES)


def test_the_pure_core_does_not_import_faust_mode_or_aiokafka() -> None:
    code = (
        f"import sys, importlib; [importlib.import_module(m) for m in {PURE_MODULES!r}];"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {'faust', 'mode', 'aiokafka', 'streams.app'})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    assert result.stdout.strip() == ""
