"""A real Prometheus (Debian's binary) scrapes the session worker and loads deploy/prometheus/rules.yml.

The counts Prometheus reports for records this test produced must be exact, and every shipped
alerting rule must load and evaluate healthily. Skipped, with the reason, where no Prometheus
binary is installed (./scripts/test installs it as root or with passwordless sudo).
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from streams import metrics, topics
from streams.local.broker import EmbeddedBroker, die_with_parent, free_port
from streams.local.supervisor import WorkerProcess
from tests.deploy.tools import prometheus_binary
from tests.kafka_helpers import eventually, produce

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
#: Accepted page views per channel (distinct counts, so a mix-up between channels shows).
PAGE_VIEWS = {channel: number for number, channel in enumerate(metrics.CHANNELS, start=1)}
NOT_JSON = 3
TIMEOUT = 90.0


class Prometheus:
    """A Prometheus server child process on a free loopback port."""

    def __init__(self, binary: str, config: Path, storage: Path, log: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self._log = log.open("ab")
        self._process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={storage}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise AssertionError(f"prometheus exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"prometheus not ready after {timeout:.0f}s:\n{self.log_tail()}")

    def api(self, path: str, **params: str) -> Any:
        url = f"{self.base_url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"GET {url}: {exc.code} {exc.read()!r}") from None
        assert body["status"] == "success", body
        return body["data"]

    def query(
        self, promql: str, at: float | None = None
    ) -> tuple[float, dict[tuple[tuple[str, str], ...], float]]:
        """Evaluation time and {sorted labels: value} of an instant query."""
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self.api("query", **params)
        assert data["resultType"] == "vector", data
        values = {tuple(sorted(item["metric"].items())): float(item["value"][1]) for item in data["result"]}
        evaluated = float(data["result"][0]["value"][0]) if data["result"] else at or time.time()
        return evaluated, values

    def stop(self) -> int:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()
        return self._process.returncode

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def prometheus(worker: WorkerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """The shipped prometheus.yml, pointed at the session worker, scraping and evaluating every second."""
    binary = prometheus_binary("prometheus")
    directory = tmp_path_factory.mktemp("prometheus")
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(DEPLOY / rules) for rules in config["rule_files"]]
    # The worker job only (notify and the console do not run here), and alerts to a loopback port nobody
    # listens on: the alerting block loads, and nothing leaves this machine.
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "touchpoint"]
    config["scrape_configs"] = [job]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{worker.web_port}"]}]
    for manager in config.get("alerting", {}).get("alertmanagers", []):
        manager["static_configs"] = [{"targets": [f"127.0.0.1:{free_port()}"]}]
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    server = Prometheus(
        binary, directory / "prometheus.yml", directory / "data", directory / "prometheus.log"
    )
    try:
        server.wait_ready()
        yield server
    finally:
        code = server.stop()
        assert code == 0, f"prometheus exited with {code}:\n{server.log_tail()}"


def worker_counts(worker: WorkerProcess) -> dict[str, float]:
    """This test's series, read straight from the worker's /metrics."""
    with urllib.request.urlopen(f"{worker.base_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    counts = {f"page_view:{channel}": 0.0 for channel in PAGE_VIEWS} | {"events": 0.0, "not_json": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "touchpoint_events_total":
                counts["events"] += sample.value
                if sample.labels["type"] == "page_view":
                    counts[f"page_view:{sample.labels['channel']}"] += sample.value
            elif sample.name == "touchpoint_dead_letters_total" and sample.labels["reason"] == "not_json":
                counts["not_json"] += sample.value
    return counts


# "{at}" is left empty for the latest value or becomes an @ modifier for the value at a given time.
PAGE_VIEWS_BY_CHANNEL = 'sum by (channel) (touchpoint_events_total{{job="touchpoint",type="page_view"}}{at})'
ALL_EVENTS = 'sum(touchpoint_events_total{{job="touchpoint"}}{at})'
NOT_JSON_DEAD_LETTERS = 'sum(touchpoint_dead_letters_total{{job="touchpoint",reason="not_json"}}{at})'


def prometheus_counts(prometheus: Prometheus, at: float | None = None) -> tuple[float, dict[str, float]]:
    """The same series as worker_counts, as Prometheus has them at *at* (default: now)."""
    evaluated, by_channel = prometheus.query(PAGE_VIEWS_BY_CHANNEL.format(at=""), at)
    _, events = prometheus.query(ALL_EVENTS.format(at=""), evaluated)
    _, dead = prometheus.query(NOT_JSON_DEAD_LETTERS.format(at=""), evaluated)
    counts = {f"page_view:{dict(labels)['channel']}": value for labels, value in by_channel.items()}
    counts["events"] = sum(events.values()) if events else -1.0
    counts["not_json"] = sum(dead.values()) if dead else -1.0
    return evaluated, counts


def delta(prometheus: Prometheus, query: str, since: float) -> dict[str, float]:
    """``query - query @ since`` evaluated by Prometheus (what was counted after *since*), by channel or "all"."""
    _, values = prometheus.query(f"{query.format(at='')} - {query.format(at=f' @ {since:.3f}')}")
    return {dict(labels).get("channel", "all"): value for labels, value in values.items()}


async def test_prometheus_reports_exactly_the_events_and_dead_letters_this_test_produced(
    prometheus: Prometheus, worker: WorkerProcess, broker: EmbeddedBroker, run_id: str
) -> None:
    await eventually(
        "worker target up",
        lambda: prometheus.query(f'up{{job="touchpoint",instance="127.0.0.1:{worker.web_port}"}}')[1],
        lambda values: list(values.values()) == [1.0],
        timeout=TIMEOUT,
    )
    # A baseline Prometheus agrees on with the worker, so the counts after it are this test's alone.
    baseline = await eventually(
        "Prometheus caught up with the worker's counters",
        lambda: (worker_counts(worker), prometheus_counts(prometheus)),
        lambda pair: pair[0] == pair[1][1],
        timeout=TIMEOUT,
    )
    since = baseline[1][0]

    records: list[bytes | None] = []
    for channel, count in PAGE_VIEWS.items():
        for number in range(count):
            event = {
                "schema_version": 1,
                "event_id": f"{run_id}-{channel}-{number}",
                "occurred_at": f"2026-02-02T10:{number:02d}:00+01:00",
                "customer_id": f"{run_id}-cust-{number % 3}",
                "channel": channel,
                "type": "page_view",
                "actor": "customer",
            }
            records.append(orjson.dumps(event))
    records.extend(b"{not json %d %s" % (number, run_id.encode()) for number in range(NOT_JSON))
    await produce(broker.bootstrap, topics.RAW, records)

    produced = sum(PAGE_VIEWS.values())
    by_channel = await eventually(
        "page views per channel in Prometheus",
        lambda: delta(prometheus, PAGE_VIEWS_BY_CHANNEL, since),
        lambda values: all(values.get(channel, 0) >= count for channel, count in PAGE_VIEWS.items()),
        timeout=TIMEOUT,
    )
    assert by_channel == {channel: float(count) for channel, count in PAGE_VIEWS.items()}
    assert await eventually(
        "all accepted events in Prometheus",
        lambda: delta(prometheus, ALL_EVENTS, since),
        lambda values: values.get("all", 0) >= produced,
        timeout=TIMEOUT,
    ) == {"all": float(produced)}
    assert await eventually(
        "not_json dead-letters in Prometheus",
        lambda: delta(prometheus, NOT_JSON_DEAD_LETTERS, since),
        lambda values: values.get("all", 0) >= NOT_JSON,
        timeout=TIMEOUT,
    ) == {"all": float(NOT_JSON)}
    # And what Prometheus holds is what the worker serves.
    after = await eventually(
        "Prometheus caught up with the worker again",
        lambda: (worker_counts(worker), prometheus_counts(prometheus)),
        lambda pair: pair[0] == pair[1][1],
        timeout=TIMEOUT,
    )
    assert after[0]["events"] - baseline[0]["events"] == produced


def shipped_rules() -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load((DEPLOY / "rules.yml").read_text())["groups"]
    return {rule.get("alert") or rule["record"]: rule for group in groups for rule in group["rules"]}


async def test_prometheus_loads_every_shipped_rule_and_evaluates_it_healthily(prometheus: Prometheus) -> None:
    expected = shipped_rules()

    def loaded() -> dict[str, dict[str, Any]]:
        return {rule["name"]: rule for group in prometheus.api("rules")["groups"] for rule in group["rules"]}

    # A rule's health is "unknown" until its first evaluation, then "ok" or "err".
    rules = await eventually(
        "every shipped rule loaded and evaluated",
        loaded,
        lambda rules: (
            set(rules) == set(expected) and all(rule["health"] != "unknown" for rule in rules.values())
        ),
        timeout=TIMEOUT,
    )
    for name, rule in rules.items():
        assert rule["health"] == "ok", f"{name}: {rule['health']} {rule.get('lastError')}"
        assert not rule.get("lastError"), f"{name}: {rule['lastError']}"
        assert rule["labels"]["severity"] == expected[name]["labels"]["severity"]
        assert rule["annotations"]["runbook"] == expected[name]["annotations"]["runbook"]
