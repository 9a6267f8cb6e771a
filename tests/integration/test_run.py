"""`touchpoint run`, the README's main command, end to end: it shows traffic and stops cleanly."""

from __future__ import annotations

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
    bootstrap = re.search(r"embedded broker (\S+)", out)
    assert bootstrap
    assert _processes_mentioning(bootstrap.group(1)) == [], "broker still running"
    assert _processes_mentioning(str(tmp_path)) == [], "worker still running"
