"""A worker just started: `--web-port 0` picks a free port and says which (as `run` does), and every
series of a bounded label set is on /metrics before the first event."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams import topics
from streams.local.broker import EmbeddedBroker, die_with_parent
from tests.kafka_helpers import wait_for

pytestmark = pytest.mark.integration

#: Metrics whose label sets are bounded: a series of each, at 0, from start-up (so rate() and alerts work).
STARTUP_SERIES: list[tuple[str, dict[str, str]]] = [
    ("touchpoint_lifecycle_transitions", {"from_stage": "none", "to_stage": "prospect"}),
    ("touchpoint_lifecycle_transitions", {"from_stage": "lapsed", "to_stage": "repeat"}),
    *(
        ("touchpoint_alert_actions", {"action": action, "outcome": "unknown_alert"})
        for action in ("acknowledge", "resolve", "snooze")
    ),
    *(("touchpoint_alert_time_to_acknowledge_seconds", {"type": kind}) for kind in topics.ALERT_TYPES),
    *(("touchpoint_alert_time_to_resolve_seconds", {"type": kind}) for kind in topics.ALERT_TYPES),
    ("touchpoint_state_restored_records", {"table": "customer_to_state"}),
    ("touchpoint_state_restored_keys", {"table": "customer_to_state"}),
    ("touchpoint_table_keys", {"table": "customer_to_state"}),
    ("touchpoint_events", {"channel": "chat", "type": "inquiry"}),
    ("touchpoint_dead_letters", {"reason": "not_json"}),
]


def test_a_fresh_worker_on_web_port_0_announces_its_port_and_serves_every_series_from_start_up(
    tmp_path: Path,
) -> None:
    # A broker of its own: this worker must not consume the shared test topics.
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        log = (tmp_path / "worker.log").open("wb")
        process = subprocess.Popen(
            [
                sys.executable, "-m", "streams.cli", "worker", "--broker", broker.url,
                "--web-port", "0", "--data-dir", str(tmp_path / "state"),
            ],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent,
            cwd=Path(__file__).resolve().parents[2],
        )  # fmt: skip
        try:

            def announced() -> int | None:
                found = re.search(
                    r"web server on http://127\.0\.0\.1:(\d+) ", (tmp_path / "worker.log").read_text()
                )
                return int(found.group(1)) if found else None

            port = wait_for("the worker to announce its web port", announced, timeout=60)
            assert port != 0

            def metrics() -> str | None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                        text: str = response.read().decode()
                        return text
                except OSError:
                    return None

            text = wait_for("/metrics on the announced port", metrics, timeout=90)
            families = {family.name: family for family in text_string_to_metric_families(text)}
            for name, labels in STARTUP_SERIES:
                samples = [
                    sample
                    for sample in families[name].samples
                    if labels.items() <= sample.labels.items()
                    and sample.name.endswith(("_total", "_count", name))
                ]
                assert samples, f"no {name} series {labels} at start-up"
                assert all(sample.value == 0 for sample in samples), samples
        finally:
            process.terminate()
            process.wait(timeout=60)
            log.close()
