"""The supervisor reads a worker's table recoveries from its log."""

from __future__ import annotations

import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from streams.local.supervisor import WorkerProcess, parse_recoveries

pytestmark = pytest.mark.unit

# Faust's own lines (log level info), abridged; the first round is cut short by another rebalance.
LOG = """\
[2026-11-23 13:45:07,445] [8648] [INFO] Revoking previously assigned partitions
[2026-11-23 13:45:09,100] [8648] [INFO] [^---Recovery]: Highwater for active changelog partitions:
+Highwater - Active-----------------------+-----------+-----------+
| topic                                   | partition | highwater |
+-----------------------------------------+-----------+-----------+
| app-customer_to_state-changelog         | 0         | 99        |
+-----------------------------------------+-----------+-----------+
[2026-11-23 13:45:10,560] [8648] [INFO] [^---Recovery]: Highwater for active changelog partitions:
+Highwater - Active-----------------------+-----------+-----------+
| topic                                   | partition | highwater |
+-----------------------------------------+-----------+-----------+
| app-customer_to_state-changelog         | 0         | 1502      |
| \u3003                                       | 1         | 693       |
| \u3003                                       | 2         | -1        |
+-----------------------------------------+-----------+-----------+
[2026-11-23 13:45:10,642] [8648] [INFO] [^---Recovery]: active offsets at start of reading:
+Reading Starts At - Active---------------+-----------+--------+
| topic                                   | partition | offset |
+-----------------------------------------+-----------+--------+
| app-customer_to_state-changelog         | 0         | 1502   |
| \u3003                                       | 1         | -1     |
| \u3003                                       | 2         | -1     |
+-----------------------------------------+-----------+--------+
[2026-11-23 13:45:10,645] [8648] [INFO] [^---Recovery]: Restoring state from changelog topics...
[2026-11-23 13:45:11,305] [8648] [INFO] [^---Recovery]: Done reading from changelog topics
[2026-11-23 13:45:11,305] [8648] [INFO] [^---Recovery]: Recovery complete
[2026-11-23 13:45:11,310] [8648] [INFO] [^---Recovery]: Worker ready
"""


def test_completed_recoveries_with_their_offsets_and_duration() -> None:
    (recovery,) = parse_recoveries(LOG.splitlines())
    topic = "app-customer_to_state-changelog"
    assert recovery.highwaters == {(topic, 0): 1502, (topic, 1): 693, (topic, 2): -1}
    assert recovery.starts == {(topic, 0): 1502, (topic, 1): -1, (topic, 2): -1}
    # Partition 0 was up to date, 1 is read from its start, 2 is empty.
    assert recovery.ranges == {(topic, 1): (0, 693)}
    assert recovery.records == 694
    started = datetime(2026, 11, 23, 13, 45, 10, 560000).timestamp()
    assert recovery.started_at == pytest.approx(started)
    assert recovery.seconds == pytest.approx(0.745)


def test_no_recovery_without_its_completion() -> None:
    assert parse_recoveries(LOG.splitlines()[:20]) == []


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b'{"ready": true}', {"ready": True}),
        (503, b'{"ready": false, "rebalancing": true}', {"ready": False, "rebalancing": True}),
        (500, b"500 Internal Server Error\n\nServer got itself in trouble", None),
        (200, b"[1, 2]", None),
    ],
)
def test_readiness_reads_the_ready_document_and_treats_anything_else_as_not_answering(
    tmp_path: Path, status: int, body: bytes, expected: dict[str, object] | None
) -> None:
    class Ready(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        worker = WorkerProcess("127.0.0.1:1", server.server_address[1], tmp_path)
        assert worker.readiness() == expected
    finally:
        server.shutdown()
        server.server_close()
