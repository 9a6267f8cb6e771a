"""deploy/prometheus/: promtool accepts the config and rules, the rules' own unit tests pass, and every
rule reads series the worker really exports."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from agents.domain.alert import FIRST_RESPONSE_DUE_SOON, SLA_ALERT_TYPES
from tests.deploy.promql import unknown_series
from tests.deploy.tools import prometheus_binary

pytestmark = pytest.mark.unit

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES: list[dict[str, Any]] = [
    rule
    for group in yaml.safe_load((PROMETHEUS / "rules.yml").read_text())["groups"]
    for rule in group["rules"]
]
ALERTS = {rule["alert"]: rule for rule in RULES if "alert" in rule}
SEVERITIES = {"critical", "warning", "info"}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [prometheus_binary("promtool"), *args],
        cwd=PROMETHEUS,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_promtool_check_config_accepts_the_scrape_config_and_finds_the_rules() -> None:
    result = promtool("check", "config", "prometheus.yml")
    assert "SUCCESS: 1 rule files found" in result.stdout + result.stderr


def test_promtool_check_rules_accepts_every_rule() -> None:
    result = promtool("check", "rules", "rules.yml")
    assert f"SUCCESS: {len(RULES)} rules found" in result.stdout + result.stderr


def test_promtool_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", "rules.test.yml")
    assert "SUCCESS" in result.stdout + result.stderr


def test_there_are_the_expected_alerts() -> None:
    assert set(ALERTS) == {
        "TouchpointWorkerDown",
        "TouchpointNoWorkerUp",
        "TouchpointConsumerLagGrowing",
        "TouchpointDeadLetterRateHigh",
        "TouchpointSlaBreachesSurging",
        "TouchpointNoEvents",
        "TouchpointNotifyDown",
        "TouchpointNotifyFailing",
    }


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_every_alert_has_a_severity_summary_description_and_one_line_runbook(name: str) -> None:
    rule = ALERTS[name]
    assert rule.get("labels", {}).get("severity") in SEVERITIES, f"{name}: severity label missing or unknown"
    annotations = rule.get("annotations", {})
    for key in ("summary", "description", "runbook"):
        assert str(annotations.get(key, "")).strip(), f"{name}: annotation {key!r} missing"
    assert "\n" not in annotations["runbook"].strip(), f"{name}: the runbook must be one line"


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_every_alert_is_unit_tested_firing_and_not_firing(name: str) -> None:
    cases = [
        case
        for test in yaml.safe_load((PROMETHEUS / "rules.test.yml").read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case["alertname"] == name
    ]
    assert any(case.get("exp_alerts") for case in cases), f"{name}: no test case where it fires"
    assert any(not case.get("exp_alerts") for case in cases), f"{name}: no test case where it stays quiet"


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_every_alert_reads_only_series_the_worker_or_the_bridge_exports(name: str) -> None:
    missing = unknown_series(ALERTS[name]["expr"])
    assert not missing, (
        f"alert {name} reads {sorted(missing)}, which neither the worker nor the notify bridge exports"
    )


def test_every_alert_selects_the_scraped_job() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    for name, rule in ALERTS.items():
        selected = set(re.findall(r'job="([^"]+)"', rule["expr"]))
        assert selected, f"{name}: selects no job"
        assert selected <= jobs, f"{name}: selects job {selected - jobs}, scraped jobs are {jobs}"


def test_the_sla_surge_rule_counts_exactly_the_breach_alert_types() -> None:
    breaches = {alert_type for alert_type in SLA_ALERT_TYPES if alert_type != FIRST_RESPONSE_DUE_SOON}
    matchers = set(re.findall(r'type=~"([^"]+)"', ALERTS["TouchpointSlaBreachesSurging"]["expr"]))
    assert matchers, "the SLA rule filters no alert type"
    for matcher in matchers:
        assert set(matcher.split("|")) == breaches, (
            f"type=~{matcher!r}; the breach alert types are {breaches}"
        )


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_every_alert_is_in_the_monitoring_table_of_the_operations_docs(name: str) -> None:
    page = (PROMETHEUS.parents[1] / "docs" / "operations.md").read_text()
    rows = [line for line in page.splitlines() if line.startswith(f"| `{name}` |")]
    assert rows, f"docs/operations.md's monitoring section has no row for {name}"
    assert f"| {ALERTS[name]['labels']['severity']} |" in rows[0], (
        f"docs/operations.md gives {name} another severity"
    )
