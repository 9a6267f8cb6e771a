"""A ``touchpoint`` command as a child process: its own log file, gone when its parent goes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

from streams.local.broker import die_with_parent

__all__ = ["CommandProcess"]


class CommandProcess:
    """``python -m streams.cli <args>`` with stdout and stderr in *log_path*; stop or kill it."""

    #: Seconds a graceful stop may take before the process is killed.
    stop_timeout: float = 20.0

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _spawn(self, args: list[str], env: dict[str, str]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", *args],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            preexec_fn=die_with_parent,
        )

    def _exited(self) -> bool:
        """Whether the process is gone (never started, stopped, or exited on its own)."""
        return self._process is None or self._process.poll() is not None

    def stop(self, timeout: float | None = None) -> int | None:
        """Graceful stop (SIGTERM); SIGKILL after *timeout* (default ``stop_timeout``). The exit code."""
        return self._end(signal.SIGTERM, self.stop_timeout if timeout is None else timeout)

    def kill(self) -> int | None:
        """Hard stop, as a crashed machine would: no flush, no commit, no goodbye."""
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
        """The last *lines* of the log, for an error message."""
        try:
            text = self.log_path.read_text("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
