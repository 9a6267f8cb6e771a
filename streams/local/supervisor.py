"""A worker as a child process: start it, wait until it is ready, stop or kill it.

``touchpoint run`` and the integration tests use it, so both exercise the same
worker entry point that production runs.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from streams.local.child import CommandProcess

__all__ = ["Recovery", "WorkerFailed", "WorkerProcess", "parse_recoveries"]

#: Faust's log line prefix: ``[2026-01-05 19:30:00,123] [pid] [LEVEL] message`` (local time).
_LOG_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\] \[\d+\] \[\w+\] (.*)$")
#: A row of one of Faust's recovery tables: ``| topic | partition | offset |`` (a ditto mark repeats the topic).
_TABLE_ROW = re.compile(r"^\|\s*(\S+)\s*\|\s*(\d+)\s*\|\s*(-?\d+)\s*\|\s*$")
_DITTO = "\u3003"


@dataclass(frozen=True)
class Recovery:
    """One recovery of the worker's tables from their changelogs, as the worker logged it (log level info).

    Faust recovers after every rebalance: it reads each changelog partition it now
    owns from the last offset it has applied up to the partition's last offset.
    """

    #: Epoch seconds: when the worker had read the changelogs' end offsets (the rebalance was done).
    started_at: float
    #: Epoch seconds: when recovery completed (the worker resumes processing right after).
    ended_at: float
    #: (changelog topic, partition) → last offset to read, -1 for an empty partition.
    highwaters: dict[tuple[str, int], int] = field(default_factory=dict)
    #: (changelog topic, partition) → last offset already applied, -1 for none (reading starts there).
    starts: dict[tuple[str, int], int] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.ended_at - self.started_at

    @property
    def ranges(self) -> dict[tuple[str, int], tuple[int, int]]:
        """(topic, partition) → (first, last) offsets read, for the partitions that had anything to read."""
        spans = {tp: (max(self.starts.get(tp, -1), -1) + 1, last) for tp, last in self.highwaters.items()}
        return {tp: (first, last) for tp, (first, last) in spans.items() if last >= first}

    @property
    def records(self) -> int:
        """Changelog records read."""
        return sum(last - first + 1 for first, last in self.ranges.values())


def parse_recoveries(lines: Iterable[str]) -> list[Recovery]:
    """The completed recoveries in a Faust worker log, oldest first."""
    done: list[Recovery] = []
    started: float | None = None
    highwaters: dict[tuple[str, int], int] = {}
    starts: dict[tuple[str, int], int] = {}
    table: dict[tuple[str, int], int] | None = None
    topic = ""
    for line in lines:
        match = _LOG_LINE.match(line)
        if match is None:
            row = _TABLE_ROW.match(line.strip())
            if row is not None and table is not None:
                topic = topic if row[1] == _DITTO else row[1]
                table[(topic, int(row[2]))] = int(row[3])
            continue
        at = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        message = match[2].strip()
        table = None
        if message.endswith("Highwater for active changelog partitions:"):
            # A new round; one that did not complete (another rebalance came first) is dropped.
            started, highwaters, starts = at, {}, {}
            table = highwaters
        elif message.endswith("active offsets at start of reading:") and started is not None:
            table = starts
        elif message.endswith("Recovery complete") and started is not None:
            done.append(Recovery(started, at, highwaters, starts))
            started = None
    return done


class WorkerFailed(RuntimeError):
    """The worker exited or did not become ready."""


class WorkerProcess(CommandProcess):
    """``touchpoint worker`` in a child process with its own log file."""

    #: Faust flushes, commits and leaves the group on SIGTERM: give it time.
    stop_timeout = 30.0

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
        super().__init__(data_dir / "worker.log")
        self.broker_url = broker_url
        self.web_port = web_port
        self.data_dir = data_dir
        self.app_id = app_id
        self.extra_env = extra_env or {}
        self.extra_args = extra_args or []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> WorkerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        arguments = ["--broker", self.broker_url, "--web-port", str(self.web_port)]
        arguments += ["--data-dir", str(self.data_dir), "--app-id", self.app_id, *self.extra_args]
        self._spawn(["worker", *arguments], self.extra_env)
        return self

    def readiness(self) -> dict[str, Any] | None:
        """The worker's /ready document, or None when it does not answer yet."""
        try:
            with urllib.request.urlopen(f"{self.base_url}/ready", timeout=2) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            body = exc.read() or b"{}"  # 503 carries the same document
        except OSError:
            return None
        try:
            document = json.loads(body)
        except ValueError:
            return None  # e.g. a 500 page while the worker is still starting
        return document if isinstance(document, dict) else None

    def metrics(self, names: Iterable[str] = ()) -> dict[str, float]:
        """The worker's /metrics samples, ``name`` or ``name{label="value",…}`` → value; {} if it does not answer.

        *names*: only the samples of those names (``name[]`` parameters: a fraction of the page's cost).
        """
        query = urllib.parse.urlencode([("name[]", name) for name in names])
        url = f"{self.base_url}/metrics" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                text = response.read().decode()
        except (OSError, ValueError):
            return {}
        samples: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
        return samples

    def recoveries(self) -> list[Recovery]:
        """The table recoveries this worker completed so far, from its log (start it with ``--log-level info``)."""
        try:
            return parse_recoveries(self.log_path.read_text("utf-8", "replace").splitlines())
        except OSError:
            return []

    def wait_ready(self, timeout: float = 120.0) -> dict[str, Any]:
        """Block until /ready says ready; raise WorkerFailed with the log's tail otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._exited():
                raise WorkerFailed(f"worker exited during start-up; last log lines:\n{self.log_tail()}")
            status = self.readiness()
            if status and status.get("ready"):
                return status
            time.sleep(0.2)
        raise WorkerFailed(f"worker not ready after {timeout:.0f}s; last log lines:\n{self.log_tail()}")
