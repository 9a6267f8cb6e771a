"""`touchpoint run`, the README's main command, end to end: it shows traffic and stops cleanly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if text in args and "pytest" not in args:
            found.append(args)
    return found


def test_run_shows_live_traffic_and_dead_letters_then_stops_without_leaving_processes(tmp_path: Path) -> None:
    # A fresh machine has no identity key: the run makes one for its data directory (a worker refuses
    # to start with the public one, so the traffic below shows the made one in use).
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"TOUCHPOINT_IDENTITY_SALT", "TOUCHPOINT_IDENTITY_SALT_FILE"}
    }
    result = subprocess.run(
        [
            sys.executable, "-m", "streams.cli", "run",
            "--duration", "8", "--rate", "300", "--customers", "300",
            "--malformed-share", "0.05", "--data-dir", str(tmp_path), "--web-port", "0",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=Path(__file__).resolve().parents[2],
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "worker ready" in out
    assert re.search(r"ops console on http://127\.0\.0\.1:\d+ ", out), out
    accepted = [int(n.replace(",", "")) for n in re.findall(r"accepted ([\d,]+) \(", out)]
    assert accepted, out
    assert accepted[-1] > 0, out
    assert accepted == sorted(accepted), "the running total only grows"
    assert re.search(r"dead-letters [1-9]", out), out
    assert "✗ dead-letter" in out
    assert out.rstrip().endswith("stopped cleanly")
    key = tmp_path / "identity.key"
    assert key.stat().st_mode & 0o777 == 0o600, "readable by its owner only"
    assert re.fullmatch(r"[0-9a-f]{64}\n", key.read_text())
    bootstrap = re.search(r"embedded broker (\S+)", out)
    assert bootstrap
    assert _processes_mentioning(bootstrap.group(1)) == [], "broker still running"
    assert _processes_mentioning(str(tmp_path)) == [], "worker still running"
