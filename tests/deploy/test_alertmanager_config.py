"""deploy/alertmanager/alertmanager.yml: amtool accepts it, and the example routing tree sends each kind of
alert where the README says: critical SLA alerts to on call, service recovery grouped per customer, worker
health to the platform team, the rest to the webhook."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

import schemas
from streams import topics
from tests.alertmanager_helpers import missing_tool

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CONFIG_PATH = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
CONFIG: dict[str, Any] = yaml.safe_load(CONFIG_PATH.read_text())
HEALTH_ALERTS = {
    rule["alert"]
    for group in yaml.safe_load((ROOT / "deploy" / "prometheus" / "rules.yml").read_text())["groups"]
    for rule in group["rules"]
    if "alert" in rule
}


def amtool(*args: str) -> str:
    binary = shutil.which("amtool")
    if binary is None:
        pytest.fail(missing_tool("amtool (Debian's prometheus-alertmanager)"))
    result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"amtool {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_amtool_accepts_the_config() -> None:
    assert "SUCCESS" in amtool("check-config", str(CONFIG_PATH))


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=after_hours_unanswered", "severity=critical", "location=team-support"], "on-call"),
        (["alertname=first_response_breach", "severity=critical"], "on-call"),
        (["alertname=after_hours_unanswered", "severity=warning"], "ops-webhook"),
        (["alertname=best_customer_at_risk", "severity=critical", "customer_id=c1"], "on-call"),
        (["alertname=service_recovery", "severity=critical", "customer_id=c1"], "customer-care"),
        (["alertname=long_wait", "severity=warning"], "ops-webhook"),
        (["alertname=TouchpointWorkerDown", "severity=critical"], "platform"),
    ],
)
def test_each_kind_of_alert_reaches_its_receiver(labels: list[str], receiver: str) -> None:
    routed = amtool("config", "routes", "test", f"--config.file={CONFIG_PATH}", *labels)
    assert routed.strip() == receiver


def _routes(route: dict[str, Any]) -> list[dict[str, Any]]:
    return [route, *(child for sub in route.get("routes", []) for child in _routes(sub))]


def test_service_recovery_is_grouped_per_customer() -> None:
    [route] = [r for r in _routes(CONFIG["route"]) if 'alertname="service_recovery"' in r.get("matchers", [])]
    assert route["group_by"] == ["customer_id"]


def test_every_alertname_in_the_tree_is_an_alert_someone_raises() -> None:
    known = set(topics.ALERT_TYPES) | HEALTH_ALERTS
    matchers = [m for r in _routes(CONFIG["route"]) for m in r.get("matchers", [])]
    for rule in CONFIG["inhibit_rules"]:
        matchers += rule.get("source_matchers", []) + rule.get("target_matchers", [])
    named = set()
    for matcher in matchers:
        found = re.fullmatch(r'alertname(=~|=)"(.+)"', matcher)
        if found is None:
            continue
        if found[1] == "=":
            named.add(found[2])
        else:
            pattern = re.compile(found[2])
            assert any(pattern.fullmatch(name) for name in known), f"{matcher} matches no alert"
            named |= {part for part in found[2].split("|") if re.fullmatch(r"[a-z_]+", part)}
    assert named, "the tree routes by alertname"
    assert named <= known, f"unknown alert names: {sorted(named - known)}"


def test_labels_the_tree_groups_or_inhibits_by_are_labels_notify_sets() -> None:
    from streams.notify.alertmanager import alert_labels

    example = schemas.load_schema("alert")["examples"][0]
    available = set(alert_labels(example))
    used = {label for r in _routes(CONFIG["route"]) for label in r.get("group_by", [])}
    used |= {label for rule in CONFIG["inhibit_rules"] for label in rule.get("equal", [])}
    assert used <= available, f"grouped by labels no alert carries: {sorted(used - available)}"
