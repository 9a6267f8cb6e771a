"""A worker as a child process: start it, wait until it is ready, stop or kill it.

``touchpoint run`` and the integration tests use it, so both exercise the same
worker entry point that production runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from streams.broker import die_with_parent

__all__ = ["WorkerFailed", "WorkerProcess"]


class WorkerFailed(RuntimeError):
    """The worker exited or did not become ready."""


class WorkerProcess:
    """``touchpoint worker`` in a child process with its own log file."""

    def __init__(
        self,
        broker_url: str,
        web_port: int,
        data_dir: Path,
        *,
        app_id: str = "touchpoint",
        extra_env: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.broker_url = broker_url
        self.web_port = web_port
        self.data_dir = data_dir
        self.app_id = app_id
        self.extra_env = extra_env or {}
        self.extra_args = extra_args or []
        self.log_path = data_dir / "worker.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> WorkerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        command = [
            sys.executable,
            "-m",
            "streams.cli",
            "worker",
            "--broker",
            self.broker_url,
            "--web-port",
            str(self.web_port),
            "--data-dir",
            str(self.data_dir),
            "--app-id",
            self.app_id,
            *self.extra_args,
        ]
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.extra_env},
            preexec_fn=die_with_parent,
        )
        return self

    def readiness(self) -> dict[str, Any] | None:
        """The worker's /ready document, or None when it does not answer yet."""
        try:
            with urllib.request.urlopen(f"{self.base_url}/ready", timeout=2) as response:
                return json.loads(response.read())  # type: ignore[no-any-return]
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read() or b"{}")  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return None

    def wait_ready(self, timeout: float = 120.0) -> dict[str, Any]:
        """Block until /ready says ready; raise WorkerFailed with the log's tail otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise WorkerFailed(f"worker exited during start-up; last log lines:\n{self.log_tail()}")
            status = self.readiness()
            if status and status.get("ready"):
                return status
            time.sleep(0.2)
        raise WorkerFailed(f"worker not ready after {timeout:.0f}s; last log lines:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> int | None:
        """Graceful stop (SIGTERM: Faust flushes, commits and leaves the group); SIGKILL after *timeout*."""
        return self._end(signal.SIGTERM, timeout)

    def kill(self) -> int | None:
        """Hard stop, as a crashed machine would: no flush, no commit, no goodbye to the group."""
        return self._end(signal.SIGKILL, 10.0)

    def _end(self, sig: signal.Signals, timeout: float) -> int | None:
        process, self._process = self._process, None
        code = None
        if process is not None:
            if process.poll() is None:
                process.send_signal(sig)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            code = process.returncode
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
