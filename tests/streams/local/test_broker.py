"""The embedded broker starts, answers Kafka requests, and never outlives its owner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams.local.broker import BrokerError, EmbeddedBroker, kafka_api_versions_ok

pytestmark = pytest.mark.integration


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in state  # a zombie has exited; only its exit status is left to collect


def _wait_gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.05)
    return False


def test_broker_answers_kafka_requests_until_stopped() -> None:
    broker = EmbeddedBroker().start()
    pid = broker.pid
    assert pid is not None
    assert kafka_api_versions_ok(broker.host, broker.port)
    broker.stop()
    assert _wait_gone(pid)
    assert not kafka_api_versions_ok(broker.host, broker.port)
    broker.stop()  # idempotent


def test_broker_dies_with_its_owner_even_on_kill_9() -> None:
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from streams.local.broker import EmbeddedBroker; b = EmbeddedBroker().start();"
            "print(b.pid, flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert owner.stdout is not None
    broker_pid = int(owner.stdout.readline())
    assert not _gone(broker_pid)
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait()
    assert _wait_gone(broker_pid), "broker outlived its owner"


def test_a_broker_binary_that_fails_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_TANSU_BIN", "/bin/false")
    with pytest.raises(BrokerError, match="exited at start-up"):
        EmbeddedBroker().start(timeout=10)


def test_a_missing_broker_binary_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOUCHPOINT_TANSU_BIN", str(tmp_path / "no-such-tansu"))
    with pytest.raises(BrokerError, match="cannot start the embedded broker"):
        EmbeddedBroker().start(timeout=10)
