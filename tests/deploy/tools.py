"""Finding Prometheus's binaries for the tests, or failing with the reason they are not there.

A failure, not a skip: a run without them would pass without ever checking the rules, the
alerts or the scrape, and look the same as one that did (stunnel's tests do the same).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Where scripts/install-promtool writes why it could not install the binaries.
INSTALL_FAILURE = ROOT / ".venv" / "promtool.unavailable"


def prometheus_binary(name: str) -> str:
    """The path of *name* (``promtool`` or ``prometheus``) from PATH or Debian's /usr/bin; else the test fails."""
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").is_file() else None)
    if found is not None:
        return found
    try:
        why = INSTALL_FAILURE.read_text().strip()
    except OSError:
        why = "scripts/install-promtool did not run (./scripts/test runs it)"
    pytest.fail(
        f"{name} is not installed (not on PATH, no /usr/bin/{name}): {why}. Install Debian's `prometheus` "
        "package, which ./scripts/test does through scripts/install-promtool as root or with passwordless sudo"
    )
