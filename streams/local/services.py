"""A ``touchpoint`` command other than the worker as a child process: the console, the notify bridge.

``touchpoint run`` starts the console this way, and the tests and benchmarks start both,
so they exercise the same entry points production runs.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

from streams.local.child import CommandProcess

__all__ = ["ServiceFailed", "ServiceProcess"]


class ServiceFailed(RuntimeError):
    """The service exited or did not become ready."""


class ServiceProcess(CommandProcess):
    """``touchpoint <args>`` with its own log file, ready once *ready_url* answers 200."""

    def __init__(
        self, args: list[str], ready_url: str, log_path: Path, *, env: dict[str, str] | None = None
    ) -> None:
        super().__init__(log_path)
        self.args = args
        self.ready_url = ready_url
        self.env = env or {}

    def start(self) -> ServiceProcess:
        self._spawn(self.args, self.env)
        return self

    def wait_ready(self, timeout: float = 60.0) -> ServiceProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._exited():
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
