"""A ``touchpoint`` command other than the worker as a child process: the console, the notify bridge.

``touchpoint run`` starts the console this way, and the tests and benchmarks start both,
so they exercise the same entry points production runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

from streams.local.broker import die_with_parent

__all__ = ["ServiceFailed", "ServiceProcess"]


class ServiceFailed(RuntimeError):
    """The service exited or did not become ready."""


class ServiceProcess:
    """``touchpoint <args>`` with its own log file, ready once *ready_url* answers 200."""

    def __init__(
        self, args: list[str], ready_url: str, log_path: Path, *, env: dict[str, str] | None = None
    ) -> None:
        self.args = args
        self.ready_url = ready_url
        self.log_path = log_path
        self.env = env or {}
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", *self.args],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            preexec_fn=die_with_parent,
        )
        return self

    def wait_ready(self, timeout: float = 60.0) -> ServiceProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise ServiceFailed(
                    f"{self.args[0]} exited during start-up; last log lines:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.ready_url, timeout=2) as response:
                    if response.status == 200:
                        return self
            except urllib.error.HTTPError:
                pass
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        raise ServiceFailed(
            f"{self.args[0]} not ready after {timeout:.0f}s; last log lines:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 20.0) -> int | None:
        return self._end(signal.SIGTERM, timeout)

    def kill(self) -> int | None:
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
