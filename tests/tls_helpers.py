"""Kafka over TLS for the tests: a CA the test makes, and Debian's stunnel terminating TLS in front of
the embedded broker (Tansu's own TLS listener did not complete handshakes in our tries).

The broker listens on a plain loopback port and advertises stunnel's, so every client, the
worker's included, connects through TLS and stays on it after the metadata request.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from streams.local.broker import die_with_parent, free_port, kafka_api_versions_ok

ROOT = Path(__file__).resolve().parent.parent
#: Where scripts/install-stunnel writes why it could not install the package.
INSTALL_FAILURE = ROOT / ".venv" / "stunnel.unavailable"


def stunnel_binary() -> str | None:
    return shutil.which("stunnel4") or shutil.which("stunnel")


def missing_stunnel() -> str:
    """Why stunnel is not installed, for a failing test's message (these tests never skip)."""
    try:
        why = INSTALL_FAILURE.read_text().strip()
    except OSError:
        why = "scripts/install-stunnel did not run (./scripts/test runs it)"
    return f"stunnel4 is not installed: {why}"


@dataclass(frozen=True)
class Certificates:
    """PEM files: the CA, the broker's certificate for 127.0.0.1/localhost, and a client's with an encrypted key.

    ``misnamed_cert``/``misnamed_key``: a broker certificate the same CA signed for another host name.
    """

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_key_password: str
    misnamed_cert: Path
    misnamed_key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey, password: str | None = None) -> None:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    path.chmod(0o600)


def make_certificates(directory: Path, client_key_password: str) -> Certificates:
    """A fresh CA and the certificates it signs, valid for a day, in *directory*."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("touchpoint test CA"))
        .issuer_name(_name("touchpoint test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )

    def issue(
        common: str, usage: x509.ObjectIdentifier, names: list[x509.GeneralName]
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(ca_key, hashes.SHA256()), key

    server, server_key = issue(
        "localhost",
        ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    client, client_key = issue("touchpoint-worker", ExtendedKeyUsageOID.CLIENT_AUTH, [])
    misnamed, misnamed_key = issue(
        "broker.example", ExtendedKeyUsageOID.SERVER_AUTH, [x509.DNSName("broker.example")]
    )
    files = Certificates(
        ca=directory / "ca.pem",
        server_cert=directory / "broker.pem",
        server_key=directory / "broker.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
        client_key_password=client_key_password,
        misnamed_cert=directory / "misnamed.pem",
        misnamed_key=directory / "misnamed.key",
    )
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    _write_key(files.server_key, server_key)
    files.client_cert.write_bytes(client.public_bytes(serialization.Encoding.PEM))
    _write_key(files.client_key, client_key, client_key_password)
    files.misnamed_cert.write_bytes(misnamed.public_bytes(serialization.Encoding.PEM))
    _write_key(files.misnamed_key, misnamed_key)
    return files


class TlsTerminator:
    """stunnel on a free loopback port: TLS with client certificates required, forwarded to *backend_port*."""

    def __init__(
        self,
        certificates: Certificates,
        backend_port: int,
        workdir: Path,
        port: int | None = None,
        misnamed: bool = False,
    ) -> None:
        self.port = port or free_port()
        self.backend_port = backend_port
        self.workdir = workdir
        self.certificates = certificates
        #: Show the certificate made for another host name (to test clients' hostname checks).
        self.misnamed = misnamed
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> TlsTerminator:
        binary = stunnel_binary()
        if binary is None:
            raise RuntimeError(missing_stunnel())
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "stunnel.conf"
        files = self.certificates
        cert, key = (
            (files.misnamed_cert, files.misnamed_key)
            if self.misnamed
            else (files.server_cert, files.server_key)
        )
        config.write_text(
            "foreground = yes\n"
            "pid =\n"
            "debug = 4\n"
            f"output = {self.workdir / 'stunnel.log'}\n"
            "[kafka]\n"
            f"accept = 127.0.0.1:{self.port}\n"
            f"connect = 127.0.0.1:{self.backend_port}\n"
            f"cert = {cert}\n"
            f"key = {key}\n"
            f"CAfile = {self.certificates.ca}\n"
            # Mutual TLS: a client must show a certificate the CA signed.
            "verify = 2\n"
        )
        self._process = subprocess.Popen(
            [binary, str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"stunnel exited at start-up: {self.log_tail()}")
            if kafka_api_versions_ok("127.0.0.1", self.port, ssl_context=self._probe_context()):
                return self
            time.sleep(0.1)
        raise RuntimeError(f"stunnel did not answer within {timeout:.0f}s: {self.log_tail()}")

    def _probe_context(self) -> ssl.SSLContext:

        context = ssl.create_default_context(cafile=str(self.certificates.ca))
        context.check_hostname = not self.misnamed
        context.load_cert_chain(
            str(self.certificates.client_cert),
            str(self.certificates.client_key),
            password=self.certificates.client_key_password,
        )
        return context

    def log_tail(self, size: int = 3000) -> str:
        try:
            return (self.workdir / "stunnel.log").read_text(errors="replace")[-size:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
