"""SASL against the embedded broker with authentication on (Tansu's ``--authentication``).

What Tansu 0.6 can do here, found by trying: with ``--authentication`` it refuses every request
but the handshake from a client that has not signed in; it offers SCRAM-SHA-256 and SCRAM-SHA-512
(PLAIN is not offered: "NoSharedMechanism"); its users are created with ``tansu user create``
over a connection that must itself be signed in, and the memory storage loses them with the
process. So no sign-in can succeed against it, and these tests hold what can be held: the worker
and the CLI run the SCRAM exchange to the broker's verdict, fail with one clean line, and put
neither the password nor the exchange in any output, at debug level. A successful SASL set-up
is Apache Kafka's in docker-compose.yml (tests/deploy/test_compose.py).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.local.broker import EmbeddedBroker, free_port
from streams.local.supervisor import WorkerFailed, WorkerProcess

pytestmark = pytest.mark.integration

PASSWORD = "sasl-" + secrets.token_hex(12)


@pytest.fixture(scope="module")
def authenticating_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    log = tmp_path_factory.mktemp("sasl") / "broker.log"
    with EmbeddedBroker(log_path=log, extra_args=("--authentication",)) as broker:
        yield broker


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_a_client_that_does_not_sign_in_is_refused(authenticating_broker: EmbeddedBroker) -> None:
    result = _run(["tail", "touchpoints", "--broker", authenticating_broker.url, "--idle-timeout", "1"], {})
    assert result.returncode == 1
    assert "Error: cannot connect to Kafka" in result.stderr + result.stdout


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
@pytest.mark.parametrize("command", ["tail", "produce", "erase"])
def test_a_refused_sign_in_is_one_line_naming_the_user_never_the_password(
    authenticating_broker: EmbeddedBroker, tmp_path: Path, mechanism: str, command: str
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"schema_version": 1}\n')
    args = {
        "tail": ["tail", "touchpoints", "--idle-timeout", "1"],
        "produce": ["produce", str(events)],
        "erase": ["erase", "cust-1", "--reason", "test", "--wait", "2"],
    }[command]
    result = _run(
        [
            *args,
            "--broker",
            authenticating_broker.url,
            "--kafka-sasl-mechanism",
            mechanism,
            "--kafka-sasl-username",
            "touchpoint-cli",
        ],
        {"TOUCHPOINT_KAFKA_SASL_PASSWORD": PASSWORD},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, output
    assert f"SASL_PLAINTEXT ({mechanism} as touchpoint-cli)" in errors[0]
    assert "refused the sign-in" in errors[0]
    assert output.count("refused the sign-in") == 1, output  # said once, not again by each client
    assert PASSWORD not in output


def test_the_worker_runs_the_scram_exchange_at_debug_level_and_logs_neither_password_nor_proof(
    authenticating_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    worker = WorkerProcess(
        authenticating_broker.url,
        free_port(),
        tmp_path / "worker",
        extra_args=[
            "--log-level",
            "debug",
            "--kafka-sasl-mechanism",
            "SCRAM-SHA-512",
            "--kafka-sasl-username",
            "touchpoint-worker",
        ],
        extra_env={"TOUCHPOINT_KAFKA_SASL_PASSWORD_FILE": str(_secret_file(tmp_path, PASSWORD))},
    )
    worker.start()
    try:
        with pytest.raises(WorkerFailed, match="exited during start-up"):
            worker.wait_ready(timeout=60)
    finally:
        worker.stop()
    log = worker.log_path.read_text(errors="replace")
    assert "SaslHandShakeRequest" in log, "the handshake was made"
    assert "SaslAuthenticateResponse" in log, "the exchange was run to the broker's verdict"
    assert PASSWORD not in log
    assert ",p=" not in log, "no SCRAM proof"
    assert "sasl_auth_bytes" not in log, "no bytes of the exchange"


def _secret_file(directory: Path, value: str) -> Path:
    path = directory / "sasl-password"
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path
