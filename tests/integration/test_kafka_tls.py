"""Kafka over TLS, end to end: the real worker and the CLI through a TLS terminator with client certificates.

The broker listens on a plain loopback port and advertises only the TLS one (tests/tls_helpers.py),
so a client that did not speak TLS would get nothing. The worker runs at debug level with every
secret set; its log and /metrics must hold none of them, nor the raw identifiers it read.
"""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from streams.cli import main
from streams.local.broker import EmbeddedBroker, free_port
from streams.local.supervisor import WorkerProcess
from tests.kafka_helpers import wait_for
from tests.tls_helpers import Certificates, TlsTerminator, make_certificates, missing_stunnel, stunnel_binary

pytestmark = pytest.mark.integration


@dataclass
class TlsCluster:
    certificates: Certificates
    broker_url: str
    worker: WorkerProcess
    #: Every secret the worker holds, by name.
    secrets: dict[str, str]
    #: The environment of a CLI client with the same TLS settings.
    client_env: dict[str, str]
    #: The embedded broker's own (plaintext, loopback) port, behind the TLS terminator.
    broker_port: int


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsCluster]:
    assert stunnel_binary() is not None, missing_stunnel()
    tmp = tmp_path_factory.mktemp("tls")
    held = {
        "key_password": "kp-" + secrets.token_hex(12),
        "identity_salt": secrets.token_hex(32),
        "control_secret": secrets.token_hex(32),
        "web_token": "wt-" + secrets.token_hex(16),
    }
    certificates = make_certificates(tmp / "pki", held["key_password"])
    (tmp / "key-password").write_text(held["key_password"] + "\n")
    tls_port = free_port()
    broker = EmbeddedBroker(log_path=tmp / "broker.log", advertised_port=tls_port).start()
    terminator = TlsTerminator(certificates, broker.port, tmp / "stunnel", port=tls_port)
    try:
        terminator.start()
        client_env = {
            "TOUCHPOINT_KAFKA_CA_FILE": str(certificates.ca),
            "TOUCHPOINT_KAFKA_CERT_FILE": str(certificates.client_cert),
            "TOUCHPOINT_KAFKA_KEY_FILE": str(certificates.client_key),
            # The key's password from a file, as a mounted secret would give it.
            "TOUCHPOINT_KAFKA_KEY_PASSWORD_FILE": str(tmp / "key-password"),
            "TOUCHPOINT_IDENTITY_SALT": held["identity_salt"],
        }
        worker = WorkerProcess(
            f"kafka://127.0.0.1:{tls_port}",
            free_port(),
            tmp / "worker",
            extra_args=["--log-level", "debug"],
            extra_env={
                **client_env,
                "TOUCHPOINT_CONTROL_SECRET": held["control_secret"],
                "TOUCHPOINT_WEB_TOKEN": held["web_token"],
            },
        )
        try:
            worker.start().wait_ready()
            yield TlsCluster(
                certificates, f"kafka://127.0.0.1:{tls_port}", worker, held, client_env, broker.port
            )
        finally:
            worker.stop()
    finally:
        terminator.stop()
        broker.stop()


def _cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner(env=env).invoke(main, list(args))
    return result.exit_code, result.output


def _customer(tls: TlsCluster, customer_id: str, token: str | None) -> int:
    request = urllib.request.Request(f"{tls.worker.base_url}/customers/{customer_id}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_the_cli_and_the_worker_speak_tls_with_client_certificates_and_nothing_raw_passes_ingest(
    tls: TlsCluster, tmp_path: Path, run_id: str
) -> None:
    email = f"{run_id}.anna.berg@example.com"
    phone = "+4930" + "".join(ch for ch in run_id if ch.isdigit()).ljust(7, "7")[:7]
    events = [
        {
            "schema_version": 1,
            "event_id": f"{run_id}-{number}",
            "occurred_at": f"2026-01-05T10:0{number}:00+01:00",
            "identifiers": {"email": email, "phone": phone},
            "channel": "web",
            "type": "page_view",
            "actor": "customer",
        }
        for number in range(3)
    ]
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    # The certificate options on the command line, the key's password from the environment (a file).
    options = [
        "--broker",
        tls.broker_url,
        "--kafka-ca-file",
        str(tls.certificates.ca),
        "--kafka-cert-file",
        str(tls.certificates.client_cert),
        "--kafka-key-file",
        str(tls.certificates.client_key),
    ]
    env = {"TOUCHPOINT_KAFKA_KEY_PASSWORD_FILE": tls.client_env["TOUCHPOINT_KAFKA_KEY_PASSWORD_FILE"]}
    env["TOUCHPOINT_IDENTITY_SALT"] = tls.secrets["identity_salt"]
    code, output = _cli(env, "produce", str(source), *options)
    assert code == 0, output

    code, raw = _cli(tls.client_env, "tail", "touchpoints", "--broker", tls.broker_url, "--idle-timeout", "3")
    assert code == 0, raw
    mine = [line for line in raw.splitlines() if run_id in line]
    assert len(mine) == 3
    # Keyed by the customer key the worker derives, never by the raw e-mail (the README's promise).
    keys = {line.split(" key=", 1)[1].split()[0] for line in mine}
    assert len(keys) == 1
    (key,) = keys
    assert key.startswith("id:email:"), key
    assert email not in key

    def by_customer() -> list[str] | None:
        code, text = _cli(
            tls.client_env,
            "tail",
            "touchpoints.by-customer",
            "--broker",
            tls.broker_url,
            "--idle-timeout",
            "2",
        )
        lines = [line for line in text.splitlines() if run_id in line]
        return lines if code == 0 and len(lines) == 3 else None

    forwarded = wait_for("the worker to forward the events over TLS", by_customer, timeout=60)
    assert all(f"key={key}" in line for line in forwarded)
    text = "\n".join(forwarded)
    assert email not in text
    assert phone not in text
    assert '"email":"h:' in text
    assert '"phone":"h:' in text

    # The state is there, behind the token.
    assert wait_for("the customer's state", lambda: _customer(tls, key, tls.secrets["web_token"]) == 200, 30)
    assert _customer(tls, key, None) == 401
    assert _customer(tls, key, "wrong-" + tls.secrets["web_token"]) == 401


def test_a_client_without_tls_gets_a_one_line_error(tls: TlsCluster) -> None:
    code, output = _cli({}, "tail", "touchpoints", "--broker", tls.broker_url, "--idle-timeout", "1")
    assert code == 1
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: no Kafka broker answers at {tls.broker_url.removeprefix('kafka://')}"], output


def test_a_broker_certificate_for_another_host_is_refused_unless_hostname_checking_is_off(
    tls: TlsCluster, tmp_path: Path
) -> None:
    misnamed = TlsTerminator(tls.certificates, tls.broker_port, tmp_path / "stunnel", misnamed=True).start()
    try:
        url = f"kafka://127.0.0.1:{misnamed.port}"
        code, output = _cli(tls.client_env, "tail", "touchpoints", "--broker", url, "--idle-timeout", "1")
        assert code == 1, output
        errors = [line for line in output.splitlines() if line.startswith("Error:")]
        assert errors == [f"Error: no Kafka broker answers at 127.0.0.1:{misnamed.port} over SSL"], output
        # The same CA signed it: with the name check off, the chain alone is enough.
        code, output = _cli(
            tls.client_env,
            "tail",
            "touchpoints",
            "--broker",
            url,
            "--kafka-no-check-hostname",
            "--idle-timeout",
            "1",
        )
        assert code == 0, output
    finally:
        misnamed.stop()


def test_a_wrong_client_key_password_is_an_error_that_does_not_quote_it(
    tls: TlsCluster, tmp_path: Path
) -> None:
    wrong = "not-the-password-" + secrets.token_hex(4)
    env = {**tls.client_env, "TOUCHPOINT_KAFKA_KEY_PASSWORD_FILE": "", "TOUCHPOINT_KAFKA_KEY_PASSWORD": wrong}
    code, output = _cli(env, "tail", "touchpoints", "--broker", tls.broker_url, "--idle-timeout", "1")
    assert code != 0
    assert "TOUCHPOINT_KAFKA_CERT_FILE/KEY_FILE: cannot load" in output
    assert wrong not in output


def test_the_worker_log_at_debug_level_and_its_metrics_hold_no_secret_and_no_raw_identifier(
    tls: TlsCluster, tmp_path: Path, run_id: str
) -> None:
    email = f"{run_id}.debug.check@example.com"
    source = tmp_path / "events.jsonl"
    source.write_bytes(
        orjson.dumps(
            {
                "schema_version": 1,
                "event_id": f"{run_id}-debug",
                "occurred_at": "2026-01-05T11:00:00+01:00",
                "identifiers": {"email": email},
                "channel": "app",
                "type": "visit",
                "actor": "customer",
            }
        )
        + b"\n"
    )
    code, output = _cli(tls.client_env, "produce", str(source), "--broker", tls.broker_url)
    assert code == 0, output

    def forwarded() -> bool:
        code, text = _cli(
            tls.client_env, "tail", "touchpoints.enriched", "--broker", tls.broker_url, "--idle-timeout", "2"
        )
        return code == 0 and f"{run_id}-debug" in text

    wait_for("the worker to apply the event", forwarded, timeout=60)
    log = tls.worker.log_path.read_text(errors="replace")
    assert "DEBUG" in log, "the worker runs at debug level"
    assert "Sending a record (key" in log, (
        "the Kafka client's per-record debug line is there, without contents"
    )
    metrics = urllib.request.urlopen(f"{tls.worker.base_url}/metrics", timeout=5).read().decode()
    for name, value in tls.secrets.items():
        assert value not in log, f"the {name} is in the worker's log"
        assert value not in metrics, f"the {name} is in /metrics"
    assert email not in log
    assert email not in metrics
    assert tls.certificates.client_key.read_text().splitlines()[1] not in log, "the private key's contents"
